"""How :mod:`skystream.alerts.generate` makes realistic synthetic alerts.

The public door is :mod:`skystream.alerts.generate`; these modules are its
implementation, from the bottom up::

    settings     the checked arguments of one run (GenerationSettings)
    sky          positions, frames, times, calendar dates, AB fluxes
    rules        fill rules: what they see (Rows), builders, generic heuristics
    plan         an alert schema flattened into which rule fills which field
    encoding     column-wise Avro encoding and container blocks
    tables       filled columns of records: to Python records or Avro bytes
    cutouts      science/template/difference stamps and a fast FITS writer
    orbits       minor-planet designations, orbits and viewing geometry
    survey       what both survey models share: SSO choice, visits, history
    rubin_rules  fill rules of Rubin fields, every schema version
    rubin        the Rubin model (visits, sources, objects, history, cutouts)
    ztf_rules    fill rules of ZTF fields
    ztf          the ZTF model (exposures, candidates, history, cutouts)
    records      chunks of alerts as records, as bytes, or as a container file
"""
