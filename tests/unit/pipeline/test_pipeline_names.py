"""Finding processors and sinks by name: registered, prefixed, entry point, dotted path."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import pytest

from skystream.exceptions import ConfigurationError
from skystream.pipeline import names
from skystream.pipeline.names import kind_of, register, registered_names, resolve
from skystream.pipeline.processor import AlertProcessor, Annotations, Verdict
from skystream.processors.filters import FieldFilter, SolarSystemFilter


class UpperCaseBand(AlertProcessor):
    """A user's processor, found by dotted path or entry point."""

    fields = frozenset({"band"})

    def process(self, alert: Any) -> Verdict:
        return Verdict.PASS


class CollectingSink:
    """A user's sink (duck-typed)."""

    def __init__(self, name: str = "collect") -> None:
        self.name = name

    def add(self, alerts: Sequence[Any], annotations: Sequence[Annotations | None]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class Neither:
    pass


def not_a_class() -> None:
    pass


def test_registered_names_resolve() -> None:
    assert resolve("SolarSystemFilter") is SolarSystemFilter
    assert resolve("FieldFilter", "processor") is FieldFilter
    assert {"FieldFilter", "SolarSystemFilter"} <= set(registered_names("processor"))


@pytest.mark.parametrize(
    "name",
    [
        "uk.org.lsst.SolarSystemFilter",
        "uk.ac.example.filters.SolarSystemFilter",
        "skystream.processors.filters.SolarSystemFilter",
        "skystream.processors.filters:SolarSystemFilter",
        "  SolarSystemFilter  ",
    ],
)
def test_prefixed_and_dotted_names_resolve(name: str) -> None:
    assert resolve(name, "processor") is SolarSystemFilter


def test_dotted_path_to_a_users_class() -> None:
    assert resolve(f"{__name__}:UpperCaseBand") is UpperCaseBand
    assert resolve(f"{__name__}.UpperCaseBand") is UpperCaseBand
    assert resolve(f"{__name__}:CollectingSink", "sink") is CollectingSink
    assert kind_of(UpperCaseBand) == "processor"
    assert kind_of(CollectingSink) == "sink"


def test_entry_points_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = {
        "skystream.processors": [
            importlib.metadata.EntryPoint(
                name="Shouting", value=f"{__name__}:UpperCaseBand", group="skystream.processors"
            )
        ],
        "skystream.sinks": [
            importlib.metadata.EntryPoint(
                name="Collector", value=f"{__name__}:CollectingSink", group="skystream.sinks"
            ),
            importlib.metadata.EntryPoint(
                name="Broken", value="no_such_module_xyz:Thing", group="skystream.sinks"
            ),
        ],
    }
    monkeypatch.setattr(names, "_entry_points", lambda group: entries.get(group, []))
    assert resolve("Shouting") is UpperCaseBand
    assert resolve("org.example.Shouting", "processor") is UpperCaseBand
    assert resolve("Collector", "sink") is CollectingSink
    with pytest.raises(ConfigurationError, match=r"entry point 'Broken'.*failed to load"):
        resolve("Broken")


def test_unknown_name_lists_registered_names_and_forms() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve("SolarSystemFiltr")
    message = str(info.value)
    assert "did you mean 'SolarSystemFilter'" in message
    assert "FieldFilter" in message and "SolarSystemFilter" in message
    assert "package.module:Class" in message and "skystream.processors" in message
    assert "uk.org.lsst.SolarSystemFilter" in message


def test_bad_dotted_paths_say_what_is_wrong() -> None:
    with pytest.raises(ConfigurationError, match="no such module"):
        resolve("no_such_module_xyz:Thing")
    with pytest.raises(ConfigurationError, match="has no attribute 'Missing'"):
        resolve(f"{__name__}:Missing")
    with pytest.raises(ConfigurationError, match="not a class"):
        resolve(f"{__name__}:not_a_class")
    with pytest.raises(ConfigurationError, match="neither a processor nor a sink"):
        resolve(f"{__name__}:Neither")
    with pytest.raises(ConfigurationError, match="is a processor, not a sink"):
        resolve("SolarSystemFilter", "sink")
    with pytest.raises(ConfigurationError, match="non-empty"):
        resolve("")


def test_register_refuses_clashes_and_bad_names() -> None:
    register("TestOnlyUpperCaseBand", kind="processor")(UpperCaseBand)
    register("TestOnlyUpperCaseBand", kind="processor")(UpperCaseBand)  # same class: harmless
    assert resolve("TestOnlyUpperCaseBand") is UpperCaseBand
    with pytest.raises(ConfigurationError, match="taken by"):
        register("TestOnlyUpperCaseBand", kind="processor")(CollectingSink)
    with pytest.raises(ConfigurationError, match="plain identifier"):
        register("uk.org.Thing", kind="processor")
    with pytest.raises(ConfigurationError, match="kind must be"):
        register("Thing", kind="filter")  # type: ignore[arg-type]


def test_missing_builtin_module_does_not_break_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        names._BUILTIN_MODULES, "sink", ("skystream.processors.no_such_sinks_package",)
    )
    monkeypatch.setattr(names, "_loaded", set())
    assert resolve("SolarSystemFilter") is SolarSystemFilter
