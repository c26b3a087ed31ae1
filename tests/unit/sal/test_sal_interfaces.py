"""Parsing ts_xml interface files: the real subset and a synthetic tree covering every rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from _fake_ts_xml import EVERY_IDL_TYPE, write_component_file, write_fake_ts_xml

from skystream.exceptions import SalInterfaceError
from skystream.sal.interfaces import INTERFACES_ENV, SalInterfaces, load_interfaces

SHARED = Path("/work/shared/data/sal_interfaces")

GENERIC_MANDATORY = ["logevent_heartbeat", "logevent_logLevel"]
GENERIC_CSC = ["command_enable", "command_start", "logevent_summaryState"]
GENERIC_CONFIGURABLE = ["logevent_configurationApplied"]


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return write_fake_ts_xml(tmp_path / "sal_interfaces")


@pytest.fixture
def fake(fake_root: Path) -> SalInterfaces:
    return load_interfaces(fake_root)


# --- the real subset --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared() -> SalInterfaces:
    return load_interfaces(SHARED)


def test_shared_subset_lists_every_component(shared: SalInterfaces) -> None:
    assert len(shared.components) == 63
    assert shared.root == SHARED
    indexed = [name for name, component in shared.components.items() if component.indexed]
    assert len(indexed) == 21


def test_shared_subset_components(shared: SalInterfaces) -> None:
    m1m3 = shared.component("MTM1M3")
    assert not m1m3.indexed
    topic = m1m3.topic("forceActuatorData")
    assert topic.kind == "telemetry"
    assert topic.description == "Force actuator data - cylinder forces."
    assert [field.name for field in topic.fields][:3] == [
        "timestamp",
        "primaryCylinderForce",
        "secondaryCylinderForce",
    ]
    assert topic.fields[1].count == 156
    assert m1m3.enumerations["DetailedStates"]["DisabledState"] == 1

    hexapod = shared.component("MTHexapod")
    assert hexapod.indexed
    assert dict(hexapod.index_enumeration) == {"CameraHexapod": 1, "M2Hexapod": 2}
    assert all(topic.indexed for topic in hexapod.topics.values())
    assert hexapod.enumerations["ApplicationStatus"]["LUT_TABLE_INVALID"] == 0x8000
    assert hexapod.enumerations["ControllerState"] == {"Standby": 0, "Enabled": 2, "Fault": 4}

    test = shared.component("Test")
    assert test.indexed and dict(test.index_enumeration) == {}
    assert test.enumerations["Enum"] == {"One": 1, "Two": 2, "Three": 3}
    assert test.enumerations["ValueEnum"] == {"Zero": 0, "Two": 2, "Four": 4, "Five": 5}
    assert shared.component("DSM").index_enumeration == {"DSM1": 1, "DSM2": 2}
    assert shared.generic_enumerations["SummaryStates"]["StandbyState"] == 5


def test_components_limits_parsing(tmp_path: Path) -> None:
    loaded = load_interfaces(SHARED, components=["MTM2", "Test"])
    assert list(loaded.components) == ["MTM2", "Test"]


def test_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERFACES_ENV, str(SHARED))
    assert list(load_interfaces(components=["MTM2"]).components) == ["MTM2"]


def test_no_root_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERFACES_ENV, raising=False)
    with pytest.raises(SalInterfaceError, match=rf"--interfaces DIR.*{INTERFACES_ENV}"):
        load_interfaces()


def test_root_that_is_not_an_interfaces_directory(tmp_path: Path) -> None:
    with pytest.raises(SalInterfaceError, match="does not exist"):
        load_interfaces(tmp_path / "missing")
    with pytest.raises(SalInterfaceError, match=r"has no SALSubsystems\.xml"):
        load_interfaces(tmp_path)


def test_a_ts_xml_checkout_is_found(tmp_path: Path) -> None:
    inner = write_fake_ts_xml(tmp_path / "python/lsst/ts/xml/data/sal_interfaces")
    assert load_interfaces(tmp_path).root == inner


def test_missing_generics_file(fake_root: Path) -> None:
    (fake_root / "SALGenerics.xml").unlink()
    with pytest.raises(SalInterfaceError, match=r"no SALGenerics\.xml"):
        load_interfaces(fake_root)


# --- items ---------------------------------------------------------------------------------------


def test_every_idl_type_is_read(fake: SalInterfaces) -> None:
    topic = fake.component("Fake").topic("tel_scalars")
    assert {field.name: field.idl_type for field in topic.fields} == EVERY_IDL_TYPE
    assert all(field.count == 1 and not field.is_array for field in topic.fields)
    command = fake.component("Fake").topic("cmd_setAll")
    assert [field.idl_type for field in command.fields] == list(EVERY_IDL_TYPE.values())


def test_arrays_strings_and_defaults(fake: SalInterfaces) -> None:
    fields = {field.name: field for field in fake.component("Fake").topic("arrays").fields}
    assert fields["aDoubleArray"].count == 3 and fields["aDoubleArray"].is_array
    assert fields["bigArray"].count == 14000 and fields["bigArray"].units == "N"
    assert fields["unbounded"].size is None
    assert fields["bounded"].size == 32
    assert fields["notAnArray"].count == 1  # strings are never arrays
    assert fields["sizedNumber"].size is None  # IDL_Size means nothing on a number
    assert fields["bare"].units == "unitless"
    assert fields["bare"].description == ""
    assert fields["bare"].count == 1


def test_legacy_elements_are_ignored_and_text_kept_verbatim(fake: SalInterfaces) -> None:
    topic = fake.component("Fake").topic("evt_status")
    assert topic.category is None  # <Category> outside the generics means nothing
    assert [field.name for field in topic.fields] == ["color", "note"]
    assert topic.description == "\n      A status,\n      over two lines.\n    "
    assert topic.fields[0].enumeration == "Red, Green, Blue"
    assert topic.fields[1].enumeration is None


def test_command_without_items(fake: SalInterfaces) -> None:
    topic = fake.component("Fake").topic("command_noArgs")
    assert topic.kind == "command" and topic.fields == ()


# --- enumerations --------------------------------------------------------------------------------


def test_global_enumerations(fake: SalInterfaces) -> None:
    enumerations = fake.component("Fake").enumerations
    assert enumerations["Color"] == {"Red": 1, "Green": 2, "Blue": 3}
    assert enumerations["Bits"] == {
        "Zero": 0,
        "Two": 2,
        "Four": 4,
        "Five": 5,
        "Eight": 8,  # 010 is octal, as in the C code ts_sal generated
        "Nine": 9,
    }
    assert enumerations["Mode"] == {"Idle": 3, "Busy": 4, "Off": 16}
    assert enumerations["Level"] == {"Low": -1, "High": 0}
    assert set(enumerations) == {"Color", "Bits", "Mode", "Level"}
    assert fake.generic_enumerations == {"SummaryStates": {"DisabledState": 1, "EnabledState": 2}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bad_One=zz", r"Fake_Events.xml: Enumeration, entry 'Bad_One': value 'zz' is not"),
        ("Bad_One=08", r"value '08' is not an integer"),
        ("NoPrefix", r"entry 'NoPrefix' must be Prefix_Name"),
        ("Bad_One=1 2", r"cannot read entry 'Bad_One=1 2'"),
        ("Dup_A=1, Dup_A=2", r"Dup_A = 2 contradicts an earlier Dup_A = 1"),
    ],
)
def test_bad_enumerations(fake_root: Path, text: str, message: str) -> None:
    write_component_file(fake_root, "Fake", "Events", f"<Enumeration>{text}</Enumeration>")
    with pytest.raises(SalInterfaceError, match=message):
        load_interfaces(fake_root, components=["Fake"])


# --- generics, ackcmd, indexing ------------------------------------------------------------------


def test_generics_per_category(fake: SalInterfaces) -> None:
    fake_csc = fake.component("Fake")
    generic = [name for name, topic in fake_csc.topics.items() if topic.category is not None]
    assert generic == GENERIC_MANDATORY + GENERIC_CSC + GENERIC_CONFIGURABLE
    assert {fake_csc.topics[name].category for name in GENERIC_CSC} == {"csc"}
    assert fake_csc.topics["logevent_heartbeat"].category == "mandatory"

    indexed = fake.component("FakeIndexed")
    assert [n for n, t in indexed.topics.items() if t.category] == GENERIC_MANDATORY + GENERIC_CSC

    single = fake.component("FakeAny")  # a single generic topic named in AddedGenerics
    assert [n for n, t in single.topics.items() if t.category] == [
        *GENERIC_MANDATORY,
        "logevent_clockOffset",
    ]
    assert single.topics["logevent_clockOffset"].category == "generic"

    values = fake.component("FakeValues")  # no files of its own
    assert list(values.topics) == [
        *GENERIC_MANDATORY,
        *GENERIC_CONFIGURABLE,
        "command_enterControl",
        "ackcmd",
    ]


def test_generic_topics_are_renamed_to_the_component(fake: SalInterfaces) -> None:
    topic = fake.component("Fake").topic("evt_summaryState")
    assert topic.component == "Fake"
    assert topic.kafka_topic() == "lsst.sal.Fake.logevent_summaryState"
    assert topic.attr_name == "evt_summaryState"
    start = fake.component("Fake").topic("cmd_start")
    assert start.fields[0].name == "configurationOverride" and start.fields[0].size is None


def test_topic_order_generics_commands_events_telemetry_ackcmd(fake: SalInterfaces) -> None:
    kinds = [topic.kind for topic in fake.component("Fake").topics.values()]
    own = kinds[len(GENERIC_MANDATORY + GENERIC_CSC + GENERIC_CONFIGURABLE) :]
    assert own == ["command", "command", "event", "telemetry", "telemetry", "ackcmd"]


def test_ackcmd(fake: SalInterfaces) -> None:
    ackcmd = fake.component("Fake").topic("ack_ackcmd")
    assert ackcmd.sal_name == "ackcmd" and ackcmd.kind == "ackcmd"
    assert ackcmd.description == "Command acknowledgement"
    assert [(f.name, f.idl_type, f.units) for f in ackcmd.fields] == [
        ("ack", "long", "unitless"),
        ("error", "long", "unitless"),
        ("result", "string", "unitless"),
        ("identity", "string", "unitless"),
        ("origin", "long", "unitless"),
        ("cmdtype", "long", "unitless"),
        ("timeout", "double", "second"),
    ]
    assert ackcmd.fields[1].description == "An error code; only relevant if ack=FAILED"
    assert ackcmd.fields[6].description == (
        "Estimated remaining duration of command; only relevant if ack=INPROGRESS"
    )


def test_indexed_components(fake: SalInterfaces) -> None:
    assert not fake.component("Fake").indexed
    assert not any(topic.indexed for topic in fake.component("Fake").topics.values())
    for name in ("FakeIndexed", "FakeAny", "FakeValues"):
        component = fake.component(name)
        assert component.indexed
        assert all(topic.indexed for topic in component.topics.values())
    assert fake.component("FakeIndexed").index_enumeration == {"Left": 1, "Right": 2}
    assert fake.component("FakeAny").index_enumeration == {}
    assert fake.component("FakeValues").index_enumeration == {"DSM1": 1, "DSM2": 5}


# --- errors --------------------------------------------------------------------------------------


def _telemetry(name: str, items: str) -> str:
    return f"""
  <SALTelemetry>
    <EFDB_Topic>Fake_{name}</EFDB_Topic>
    <Description>x</Description>{items}
  </SALTelemetry>"""


def _item(name: str, idl_type: str, extra: str = "") -> str:
    return f"<item><EFDB_Name>{name}</EFDB_Name><IDL_Type>{idl_type}</IDL_Type>{extra}</item>"


def test_unknown_idl_type_names_file_topic_and_item(fake_root: Path) -> None:
    write_component_file(
        fake_root, "Fake", "Telemetry", _telemetry("forceActuatorData", _item("foo", "quad"))
    )
    with pytest.raises(SalInterfaceError) as caught:
        load_interfaces(fake_root)
    assert str(caught.value).startswith(
        "Fake_Telemetry.xml: topic Fake_forceActuatorData, item 'foo': unknown IDL_Type 'quad'"
    )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (_item("x", "double", "<Count>zero</Count>"), r"item 'x': Count must be a positive"),
        (_item("x", "double", "<Count>0</Count>"), r"item 'x': Count must be a positive"),
        (_item("x", "string", "<IDL_Size>big</IDL_Size>"), r"item 'x': IDL_Size must be"),
        (_item("x", "double") + _item("x", "float"), r"item 'x': defined twice"),
        (_item("private_seqNum", "long"), r"the name of a private field"),
        (_item("a b", "long"), r"item 'a b': EFDB_Name must be letters"),
        ("<item><IDL_Type>long</IDL_Type></item>", r"topic Fake_bad, item #1: no <EFDB_Name>"),
        ("<item><EFDB_Name>x</EFDB_Name></item>", r"item 'x': no <IDL_Type>"),
    ],
)
def test_bad_items(fake_root: Path, items: str, message: str) -> None:
    write_component_file(fake_root, "Fake", "Telemetry", _telemetry("bad", items))
    with pytest.raises(SalInterfaceError, match=rf"^Fake_Telemetry.xml: .*{message}"):
        load_interfaces(fake_root, components=["Fake"])


@pytest.mark.parametrize(
    ("suffix", "body", "message"),
    [
        (
            "Telemetry",
            "<SALTelemetry><Description>x</Description></SALTelemetry>",
            "no <EFDB_Topic>",
        ),
        ("Telemetry", _telemetry("x", "").replace("Fake_x", "Other_x"), "must be Fake_<name>"),
        ("Telemetry", _telemetry("logevent_x", ""), "cannot look like an event"),
        ("Events", _telemetry("x", "").replace("SALTelemetry", "SALEvent"), "Fake_logevent_"),
        ("Events", _telemetry("x", ""), r"<SALTelemetry> in a events file"),
        ("Telemetry", _telemetry("x", "") + _telemetry("x", ""), "Fake_x is already defined"),
        (
            "Events",
            _telemetry("logevent_heartbeat", "").replace("SALTelemetry", "SALEvent"),
            "Fake_logevent_heartbeat is already defined by SALGenerics.xml",
        ),
    ],
)
def test_bad_topics(fake_root: Path, suffix: str, body: str, message: str) -> None:
    write_component_file(fake_root, "Fake", suffix, body)
    with pytest.raises(SalInterfaceError, match=rf"^Fake_{suffix}.xml: .*{message}"):
        load_interfaces(fake_root, components=["Fake"])


def test_malformed_xml_names_the_file(fake_root: Path) -> None:
    path = fake_root / "Fake" / "Fake_Events.xml"
    path.write_text("<SALEventSet><SALEvent></SALEventSet>")
    with pytest.raises(SalInterfaceError, match=r"^Fake_Events.xml: malformed XML: .*line 1"):
        load_interfaces(fake_root)
    # Other components still load when the broken one is not asked for.
    assert list(load_interfaces(fake_root, components=["FakeAny"]).components) == ["FakeAny"]


def test_malformed_subsystems(fake_root: Path) -> None:
    (fake_root / "SALSubsystems.xml").write_text("<SALSubsystemSet><SALSubsystem>")
    with pytest.raises(SalInterfaceError, match=r"^SALSubsystems.xml: malformed XML"):
        load_interfaces(fake_root)


def test_unknown_component_lists_the_known(fake_root: Path, fake: SalInterfaces) -> None:
    with pytest.raises(SalInterfaceError, match=r"'Fak'.*did you mean 'Fake'.*FakeIndexed"):
        load_interfaces(fake_root, components=["Fak"])
    with pytest.raises(SalInterfaceError, match=r"no SAL component 'Nope'.*Fake, FakeIndexed"):
        fake.component("Nope")


def test_unknown_topic_lists_some_known(fake: SalInterfaces) -> None:
    with pytest.raises(SalInterfaceError, match=r"Fake has no topic 'tel_nope'.*ack_ackcmd"):
        fake.component("Fake").topic("tel_nope")


@pytest.mark.parametrize(
    ("added", "message"),
    [
        ("csc, nonsense", r"unknown generic category 'nonsense'"),
        ("logevent_nope", r"unknown generic topic 'logevent_nope'"),
        ("generic", r"unknown generic category 'generic'"),
    ],
)
def test_unknown_added_generics(fake_root: Path, added: str, message: str) -> None:
    path = fake_root / "SALSubsystems.xml"
    path.write_text(path.read_text().replace("csc, configurable", added, 1))
    with pytest.raises(
        SalInterfaceError, match=rf"^SALSubsystems.xml: component Fake, AddedGenerics: {message}"
    ):
        load_interfaces(fake_root, components=["Fake"])


def test_subsystem_without_name_or_listed_twice(fake_root: Path) -> None:
    path = fake_root / "SALSubsystems.xml"
    original = path.read_text()
    path.write_text(original.replace("<Name>FakeAny</Name>", "<Name>Fake</Name>"))
    with pytest.raises(SalInterfaceError, match="component Fake: listed twice"):
        load_interfaces(fake_root)
    path.write_text(original.replace("<Name>FakeAny</Name>", ""))
    with pytest.raises(SalInterfaceError, match="SALSubsystem #3 has no <Name>"):
        load_interfaces(fake_root)
