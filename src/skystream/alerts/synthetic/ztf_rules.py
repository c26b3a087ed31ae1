"""Fill rules of ZTF alert fields: the alert, its candidate, prv_candidates and fp_hists.

:func:`ztf_rule` maps a field's name to the columns the ZTF model draws
(:mod:`~skystream.alerts.synthetic.ztf`), so that values agree with each
other (``magdiff`` is ``magap - magpsf``, ``elong`` is ``aimage / bimage``),
or to a distribution like ZTF's; other fields get the generic heuristics.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from skystream.alerts.synthetic.rules import (
    Fill,
    beta,
    column,
    constant,
    expand_names,
    generic_rule,
    integers,
    log_uniform,
    normal,
    offset,
    scaled,
    uniform,
)

__all__ = ["ztf_rule"]


@cache
def _exact_rules() -> dict[str, Fill]:
    return expand_names(
        {
            "schemavsn": column("schema_version"),
            "publisher": constant("ZTF (www.ztf.caltech.edu)"),
            "objectId": column("object_name"),
            "candid": column("candid"),
            "jd": column("jd"),
            "fid": column("fid"),
            "pid": column("pid"),
            "nid": column("nid"),
            "rcid": column("rcid"),
            "field": column("field"),
            "programid": column("programid"),
            "programpi": column("programpi"),
            "pdiffimfilename": column("diffim_name"),
            "diffmaglim": column("diffmaglim"),
            "isdiffpos": column("isdiffpos"),
            "tblid": integers(0, 60),
            "xpos": column("xpos"),
            "ypos": column("ypos"),
            "ra": column("ra"),
            "dec": column("dec"),
            "magpsf": column("mag"),
            "sigmapsf": column("mag_err"),
            "chipsf": log_uniform(0.5, 20.0),
            "magap": column("magap"),
            "sigmagap": scaled("mag_err", 0.7, 1.1),
            "magapbig": lambda rows: rows["magap"] + rows.rng.normal(0.0, 0.03, rows.n),
            "sigmagapbig": scaled("mag_err", 0.8, 1.2),
            "magdiff": lambda rows: rows["magap"] - rows["mag"],
            "magfromlim": lambda rows: rows["diffmaglim"] - rows["magap"],
            "distnr": column("distnr"),
            "magnr": column("magnr"),
            "sigmagnr": uniform(0.01, 0.05),
            "chinr": log_uniform(0.3, 3.0),
            "sharpnr": normal(0.0, 0.05),
            "ranr": column("ranr"),
            "decnr": column("decnr"),
            "sky": normal(0.0, 0.5),
            "fwhm|sciinpseeing": column("fwhm"),
            "classtar": uniform(0.5, 1.0),
            "mindtoedge": column("mindtoedge"),
            "seeratio": uniform(0.5, 1.6),
            "aimage": column("aimage"),
            "bimage": column("bimage"),
            "aimagerat": lambda rows: rows["aimage"] / rows["fwhm"],
            "bimagerat": lambda rows: rows["bimage"] / rows["fwhm"],
            "elong": lambda rows: rows["aimage"] / rows["bimage"],
            "nneg": integers(0, 8),
            "nbad": constant(0),
            "rb": beta(5.0, 1.5),
            "drb": beta(6.0, 1.2),
            "rbversion": constant("t17_f5_c3"),
            "drbversion": constant("d6_m7"),
            "ssdistnr": column("ssdistnr"),
            "ssmagnr": column("ssmagnr"),
            "ssnamenr": column("ssnamenr"),
            "sumrat": uniform(0.7, 1.0),
            "sgmag1|srmag1|simag1|szmag1": uniform(14.0, 22.0),
            "sgmag2|srmag2|simag2|szmag2|sgmag3|srmag3|simag3|szmag3": uniform(15.0, 22.5),
            "sgscore1|sgscore2|sgscore3": uniform(0.0, 1.0),
            "distpsnr1": column("distpsnr1"),
            "distpsnr2": column("distpsnr2"),
            "distpsnr3": column("distpsnr3"),
            "objectidps1": column("objectidps1"),
            "objectidps2": column("objectidps2"),
            "objectidps3": column("objectidps3"),
            "nmtchps": integers(1, 25),
            "ndethist": column("ndethist"),
            "ncovhist": column("ncovhist"),
            "jdstarthist": column("jdstarthist"),
            "jdendhist": column("jd"),
            "scorr": lambda rows: (
                5.0
                * np.power(10.0, 0.4 * (rows["diffmaglim"] - rows["mag"]))
                * rows.rng.uniform(0.8, 1.2, rows.n)
            ),
            "tooflag": constant(0),
            "rfid": column("rfid"),
            "jdstartref": offset("jd", -800.0, -300.0),
            "jdendref": offset("jd", -250.0, -30.0),
            "nframesref": integers(10, 40),
            "dsnrms|ssnrms": log_uniform(5.0, 500.0),
            "dsdiff": normal(0.0, 50.0),
            "magzpsci": column("zero_point"),
            "magzpsciunc|clrcounc": log_uniform(1e-6, 3e-5),
            "magzpscirms": uniform(0.015, 0.05),
            "nmatches": integers(300, 3000),
            "clrcoeff": normal(0.0, 0.1),
            "zpclrcov": normal(0.0, 1e-5),
            "zpmed": lambda rows: rows["zero_point"] + rows.rng.normal(0.0, 0.05, rows.n),
            "clrmed": uniform(0.4, 1.0),
            "clrrms": uniform(0.1, 0.35),
            "neargaia": uniform(0.0, 5.0),
            "neargaiabright": uniform(10.0, 90.0),
            "maggaia": uniform(12.0, 21.0),
            "maggaiabright": uniform(8.0, 14.0),
            "exptime": constant(30.0),
            # forced photometry (fp_hists)
            "scibckgnd": uniform(50.0, 300.0),
            "scisigpix": uniform(5.0, 20.0),
            "adpctdif1|adpctdif2": uniform(0.05, 0.25),
            "forcediffimflux": column("forced_flux"),
            "forcediffimfluxunc": column("forced_flux_err"),
            "procstatus": constant("0"),
        }
    )


def ztf_rule(name: str, kind: str) -> Fill:
    """Choose the fill rule of a ZTF field (alert, candidate, prv_candidate or fp_hist)."""
    return _exact_rules().get(name) or generic_rule(name, kind)
