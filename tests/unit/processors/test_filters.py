"""SolarSystemFilter and FieldFilter on real ZTF alerts and generated Rubin alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skystream.alerts import Alert, read_alert_file
from skystream.alerts.generate import write_alert_file
from skystream.exceptions import ConfigurationError
from skystream.pipeline.processor import Processor, Verdict
from skystream.processors.filters import FieldFilter, SolarSystemFilter, parse_condition

ZTF_ALERTS = Path("/work/shared/data/ztf/alerts")
COUNT = 200
SSO_FRACTION = 0.2


@pytest.fixture(scope="module")
def rubin_alerts(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    path = tmp_path_factory.mktemp("filters") / "rubin.avro"
    generated = write_alert_file(
        path,
        "rubin",
        COUNT,
        sso_fraction=SSO_FRACTION,
        seed=1,
        history=2,
        cutout_pixels=4,
        visit_size=25,
    )
    assert generated.sso_count == round(COUNT * SSO_FRACTION)
    alerts = list(read_alert_file(path))
    assert len({alert.band for alert in alerts}) >= 3  # several visits, several bands
    return alerts


@pytest.fixture(scope="module")
def ztf_alerts() -> list[Alert]:
    files = sorted(ZTF_ALERTS.glob("*.avro"))
    if not files:
        pytest.skip(f"no real ZTF alerts in {ZTF_ALERTS}")
    return [alert for path in files for alert in read_alert_file(path)]


def passed(verdicts: Any) -> int:
    return sum(verdict is Verdict.PASS for verdict in verdicts)


# -- SolarSystemFilter ------------------------------------------------------------------


def test_solar_system_filter_is_a_processor_reading_only_the_sso_id() -> None:
    step = SolarSystemFilter("sso")
    assert isinstance(step, Processor)
    assert step.name == "sso"
    assert step.fields == {"sso_id"}
    assert SolarSystemFilter(targets=["Ceres"]).fields == {"sso_id", "sso_name"}


def test_exclude_removes_exactly_the_rubin_solar_system_alerts(rubin_alerts: list[Alert]) -> None:
    sso = sum(alert.is_sso for alert in rubin_alerts)
    assert sso == round(COUNT * SSO_FRACTION)
    step = SolarSystemFilter()
    result = step.process_batch(rubin_alerts)
    assert result.annotations is None
    assert passed(result.verdicts) == COUNT - sso
    for alert, verdict in zip(rubin_alerts, result.verdicts, strict=True):
        assert (verdict is Verdict.SKIP) == alert.is_sso
    assert step.counts == {"sso": sso}


def test_include_keeps_only_the_rubin_solar_system_alerts(rubin_alerts: list[Alert]) -> None:
    step = SolarSystemFilter(include=True)
    half = len(rubin_alerts) // 2
    first = step.process_batch(rubin_alerts[:half])
    second = step.process_batch(rubin_alerts[half:])
    assert passed([*first.verdicts, *second.verdicts]) == round(COUNT * SSO_FRACTION)
    assert step.counts["sso"] == round(COUNT * SSO_FRACTION)  # counts accumulate


def test_real_ztf_alerts_have_no_solar_system_objects(ztf_alerts: list[Alert]) -> None:
    assert all(alert.sso_id is None for alert in ztf_alerts)
    assert passed(SolarSystemFilter().process_batch(ztf_alerts).verdicts) == len(ztf_alerts)
    assert passed(SolarSystemFilter(include=True).process_batch(ztf_alerts).verdicts) == 0


def test_targets_match_names_and_ids_without_case_or_spaces(rubin_alerts: list[Alert]) -> None:
    objects = [alert for alert in rubin_alerts if alert.is_sso]
    by_name, by_id = objects[0], objects[1]
    assert by_name.sso_name is not None
    spelled = by_name.sso_name.replace(" ", "").upper()  # "2022 AR29" -> "2022AR29"
    targets: list[str | int] = [spelled, int(by_id.sso_id or 0), "not an object"]

    keep = SolarSystemFilter(include=True, targets=targets)
    result = keep.process_batch(rubin_alerts)
    chosen = {
        a.alert_id for a, v in zip(rubin_alerts, result.verdicts, strict=True) if v is Verdict.PASS
    }
    assert chosen == {by_name.alert_id, by_id.alert_id}
    assert keep.counts == {"sso": len(objects), "targets": 2}

    drop = SolarSystemFilter(include=False, targets=targets)
    assert passed(drop.process_batch(rubin_alerts).verdicts) == COUNT - 2


def test_empty_batch() -> None:
    assert list(SolarSystemFilter().process_batch([]).verdicts) == []
    assert list(FieldFilter(where="snr > 5").process_batch([]).verdicts) == []


def test_solar_system_filter_refuses_bad_arguments() -> None:
    with pytest.raises(ConfigurationError, match="include"):
        SolarSystemFilter(include="perhaps")  # type: ignore[arg-type]


# -- FieldFilter --------------------------------------------------------------------------


def expected(alerts: list[Alert], keep: Any) -> int:
    return sum(bool(keep(alert)) for alert in alerts)


@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ("snr > 10", lambda a: a.snr is not None and a.snr > 10),
        ("snr >= 10", lambda a: a.snr is not None and a.snr >= 10),
        ("mag <= 22.5", lambda a: a.mag is not None and a.mag <= 22.5),
        ("mag < 22.5", lambda a: a.mag is not None and a.mag < 22.5),
        ("band in [g, r]", lambda a: a.band in ("g", "r")),
        ("band not in [g, r]", lambda a: a.band is not None and a.band not in ("g", "r")),
        ("band == r", lambda a: a.band == "r"),
        ("band = 'r'", lambda a: a.band == "r"),
        ("band != r", lambda a: a.band is not None and a.band != "r"),
        ("sso_id is null", lambda a: a.sso_id is None),
        ("sso_id is not null", lambda a: a.sso_id is not None),
        ("ra between [47, 48.5]", lambda a: 47 <= a.ra <= 48.5),
        ("dec between [-22, -25]", lambda a: -25 <= a.dec <= -22),  # bounds in any order
        ("sso_distance_arcsec < 0.15", lambda a: a.is_sso and a.sso_distance_arcsec < 0.15),
    ],
)
def test_field_conditions_match_a_python_loop(
    rubin_alerts: list[Alert], where: str, keep: Any
) -> None:
    step = FieldFilter(where=where)
    assert passed(step.process_batch(rubin_alerts).verdicts) == expected(rubin_alerts, keep)


def test_where_is_and_any_is_or(rubin_alerts: list[Alert]) -> None:
    step = FieldFilter(
        where=["snr > 8", "band in [g, r]"],
        any=["sso_id is null", ["mag between [20, 22.5]", "dec < -23"]],
    )
    assert step.fields == {"snr", "band", "sso_id", "mag", "dec"}

    def keep(a: Alert) -> bool:
        return (
            a.snr is not None
            and a.snr > 8
            and a.band in ("g", "r")
            and (a.sso_id is None or (a.mag is not None and 20 <= a.mag <= 22.5 and a.dec < -23))
        )

    assert passed(step.process_batch(rubin_alerts).verdicts) == expected(rubin_alerts, keep)
    only_any = FieldFilter(any=["band == g", "snr > 30"])
    assert passed(only_any.process_batch(rubin_alerts).verdicts) == expected(
        rubin_alerts, lambda a: a.band == "g" or (a.snr or 0) > 30
    )


def test_field_filter_on_real_ztf_alerts(ztf_alerts: list[Alert]) -> None:
    # Both real alerts are r band; ZTF object ids are text, compared as text.
    assert passed(FieldFilter(where="band == r").process_batch(ztf_alerts).verdicts) == len(
        ztf_alerts
    )
    first = ztf_alerts[0]
    by_object = FieldFilter(where=f"object_id == {first.object_id}")
    assert passed(by_object.process_batch(ztf_alerts).verdicts) == 1
    by_id = FieldFilter(where=f"alert_id in [{first.alert_id}, 1]")
    assert passed(by_id.process_batch(ztf_alerts).verdicts) == 1
    # Text ids never satisfy a numeric ordering (and do not raise).
    assert passed(FieldFilter(where="object_id > 5").process_batch(ztf_alerts).verdicts) == 0


def test_large_integer_ids_compare_exactly(rubin_alerts: list[Alert]) -> None:
    target = rubin_alerts[3].alert_id  # beyond float precision
    step = FieldFilter(where=f"alert_id == {target}")
    assert passed(step.process_batch(rubin_alerts).verdicts) == 1
    assert passed(
        FieldFilter(where=f"alert_id >= {target}").process_batch(rubin_alerts).verdicts
    ) == (sum(a.alert_id >= target for a in rubin_alerts))


def test_parse_condition_forms() -> None:
    condition = parse_condition("  ra  between [20, 10] ")
    assert (condition.field, condition.op, condition.low, condition.high) == (
        "ra",
        "between",
        10,
        20,
    )
    assert parse_condition("band in ['g', \"r\"]").choices == ("g", "r")
    assert parse_condition("mag<=19.5").value == 19.5
    assert parse_condition("sso_name IS NOT NULL").op == "is not null"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("snrr > 5", "'snrr' is not an alert field; fields are: alert_id"),
        ("band > g", "band holds text"),
        ("mag == bright", "needs a number"),
        ("snr >", "not understood"),
        ("snr > 5 6", "not understood"),
        ("ra between [1]", "between takes two numbers"),
        ("ra between [a, b]", "between takes two numbers"),
        ("mag == null", "mag is null"),
        ("band in g", "a list in brackets"),
        ("band in [g r]", "commas"),
        ("band in [g,]", "ends with a comma"),
        ("", "empty condition"),
        ("__import__('os') > 1", "not an alert field"),
    ],
)
def test_bad_conditions_name_the_expression_and_the_fix(text: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match="condition") as info:
        parse_condition(text)
    assert complaint in str(info.value)


def test_field_filter_needs_a_condition_and_checks_them_all() -> None:
    with pytest.raises(ConfigurationError, match="give 'where'"):
        FieldFilter()
    with pytest.raises(ConfigurationError, match="'flux_errr' is not an alert field"):
        FieldFilter(where="snr > 1", any=[["band == g", "flux_errr < 3"]])


def test_params_model_checks_conditions_without_building() -> None:
    FieldFilter.Params.model_validate({"where": "snr > 5"})
    with pytest.raises(ValueError, match="not an alert field"):
        FieldFilter.Params.model_validate({"where": ["snr > 5", "colour == red"]})
    with pytest.raises(ValueError, match="extra"):
        SolarSystemFilter.Params.model_validate({"mode": "exclude"})
