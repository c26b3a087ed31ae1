"""A small synthetic ts_xml interfaces tree, written into a test's tmp_path.

Components:

- ``Fake`` (not indexed; ``csc, configurable``): commands, events and telemetry
  covering every IDL type, arrays, strings with sizes, global enumerations
  (hex, octal, decimal, whitespace and newlines), item enumerations, legacy
  elements and multi-line descriptions;
- ``FakeIndexed`` (``Left,Right``; ``csc``): one command;
- ``FakeAny`` (``any``; only the single generic ``logevent_clockOffset``): one telemetry topic;
- ``FakeValues`` (``DSM1=1,DSM2=5``; ``configurable, command_enterControl``): no files at all.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EVERY_IDL_TYPE", "topic_file", "write_component_file", "write_fake_ts_xml"]

#: item name -> IDL type, one item per type.
EVERY_IDL_TYPE = {
    "aBoolean": "boolean",
    "aByte": "byte",
    "aShort": "short",
    "anInt": "int",
    "aLong": "long",
    "aLongLong": "long long",
    "anUnsignedShort": "unsigned short",
    "anUnsignedInt": "unsigned int",
    "anUnsignedLong": "unsigned long",
    "anUnsignedLongLong": "unsigned long long",
    "aFloat": "float",
    "aDouble": "double",
    "aString": "string",
}

_SETS = {
    "Commands": ("SALCommandSet", "SALCommand"),
    "Events": ("SALEventSet", "SALEvent"),
    "Telemetry": ("SALTelemetrySet", "SALTelemetry"),
}


def _item(
    name: str, idl_type: str, *, count: int = 1, units: str = "unitless", extra: str = ""
) -> str:
    return f"""
    <item>
      <EFDB_Name>{name}</EFDB_Name>
      <Description>The {idl_type} {name}.</Description>
      <IDL_Type>{idl_type}</IDL_Type>
      <Units>{units}</Units>
      <Count>{count}</Count>{extra}
    </item>"""


def _topic(tag: str, full_name: str, description: str, items: str = "", extra: str = "") -> str:
    return f"""
  <{tag}>
    <Subsystem>{full_name.split("_")[0]}</Subsystem>
    <EFDB_Topic>{full_name}</EFDB_Topic>
    <Description>{description}</Description>{extra}{items}
  </{tag}>"""


def topic_file(suffix: str, body: str) -> str:
    """A whole ``<CSC>_<suffix>.xml`` document around ``body`` (topics, enumerations)."""
    set_tag, _ = _SETS[suffix]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?xml-stylesheet type="text/xsl" href="http://example.org/x.xsl"?>\n'
        f"<{set_tag}>\n  <!-- a comment is not a topic -->{body}\n</{set_tag}>\n"
    )


def write_component_file(root: Path, component: str, suffix: str, body: str) -> Path:
    """Write (or overwrite) one component file; return its path."""
    path = root / component / f"{component}_{suffix}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(topic_file(suffix, body))
    return path


_SUBSYSTEMS = """<?xml version="1.0" encoding="UTF-8"?>
<SALSubsystemSet>
  <SALSubsystem>
    <Name>Fake</Name>
    <Description>A fake CSC covering every item rule.</Description>
    <IndexEnumeration>no</IndexEnumeration>
    <AddedGenerics>csc, configurable</AddedGenerics>
    <Github>https://example.org/fake</Github>
  </SALSubsystem>
  <SALSubsystem>
    <Name>FakeIndexed</Name>
    <IndexEnumeration>Left,Right</IndexEnumeration>
    <AddedGenerics>csc</AddedGenerics>
  </SALSubsystem>
  <SALSubsystem>
    <Name>FakeAny</Name>
    <IndexEnumeration> any </IndexEnumeration>
    <AddedGenerics>logevent_clockOffset</AddedGenerics>
  </SALSubsystem>
  <SALSubsystem>
    <Name>FakeValues</Name>
    <IndexEnumeration>DSM1=1, DSM2=5</IndexEnumeration>
    <AddedGenerics>configurable,command_enterControl</AddedGenerics>
  </SALSubsystem>
</SALSubsystemSet>
"""

_GENERICS = f"""<?xml version="1.0" encoding="UTF-8"?>
<SALObjects>
  <SALCommandSet>
    {
    _topic(
        "SALCommand",
        "SALGeneric_command_enable",
        "Go to Enabled.",
        extra="<Category>csc</Category>",
    )
}
    {
    _topic(
        "SALCommand",
        "SALGeneric_command_start",
        "Go to Disabled.",
        _item("configurationOverride", "string", extra="<IDL_Size>1</IDL_Size>"),
        extra="<Category>csc</Category>",
    )
}
    {_topic("SALCommand", "SALGeneric_command_enterControl", "Go to Standby.")}
  </SALCommandSet>
  <SALEventSet>
    <Enumeration>SummaryStates_DisabledState, SummaryStates_EnabledState</Enumeration>
    {
    _topic(
        "SALEvent",
        "SALGeneric_logevent_heartbeat",
        "Alive.",
        _item("heartbeat", "boolean"),
        extra="<Category>mandatory</Category>",
    )
}
    {
    _topic(
        "SALEvent",
        "SALGeneric_logevent_logLevel",
        "Log level.",
        _item("level", "int"),
        extra="<Category>mandatory</Category>",
    )
}
    {
    _topic(
        "SALEvent",
        "SALGeneric_logevent_summaryState",
        "State.",
        _item("summaryState", "long"),
        extra="<Category>csc</Category>",
    )
}
    {
    _topic(
        "SALEvent",
        "SALGeneric_logevent_configurationApplied",
        "Config.",
        _item("configurations", "string"),
        extra="<Category>configurable</Category>",
    )
}
    {
    _topic(
        "SALEvent",
        "SALGeneric_logevent_clockOffset",
        "Clock error.",
        _item("offset", "double", units="second"),
    )
}
  </SALEventSet>
</SALObjects>
"""

_LEGACY = """
      <Alias>oldName</Alias>
      <Explanation>http://example.org/explanation</Explanation>
      <IsJavaArray>false</IsJavaArray>
      <File_Reference>nowhere.txt</File_Reference>"""

_FAKE_COMMANDS = "".join(
    [
        _topic(
            "SALCommand",
            "Fake_command_setAll",
            "Set every type.",
            "".join(_item(name, idl_type) for name, idl_type in EVERY_IDL_TYPE.items()),
        ),
        _topic("SALCommand", "Fake_command_noArgs", "A command without items."),
    ]
)

_FAKE_EVENTS = "".join(
    [
        "\n  <Enumeration>Color_Red, Color_Green, Color_Blue</Enumeration>",
        "\n  <Enumeration>Bits_Zero=0, Bits_Two=2, Bits_Four=04, Bits_Five=0x05,"
        " Bits_Eight=010, Bits_Nine</Enumeration>",
        """
  <Enumeration>
    Mode_Idle = 3,
    Mode_Busy,
    Mode_Off = 0X10,
    Level_Low=-1,
    Level_High
  </Enumeration>""",
        _topic(
            "SALEvent",
            "Fake_logevent_status",
            "\n      A status,\n      over two lines.\n    ",
            _item("color", "int", extra="\n      <Enumeration>Red, Green, Blue</Enumeration>")
            + _item("note", "string", extra=_LEGACY),
            extra="\n    <Category>legacy</Category>",
        ),
    ]
)

_ARRAY_ITEMS = "".join(
    _item(f"{name}Array", idl_type, count=3)
    for name, idl_type in EVERY_IDL_TYPE.items()
    if idl_type != "string"
)

_FAKE_TELEMETRY = "".join(
    [
        _topic(
            "SALTelemetry",
            "Fake_scalars",
            "One item per IDL type.",
            "".join(_item(name, idl_type) for name, idl_type in EVERY_IDL_TYPE.items()),
        ),
        _topic(
            "SALTelemetry",
            "Fake_arrays",
            "Arrays and strings.",
            _ARRAY_ITEMS
            + _item("bigArray", "float", count=14000, units="N")
            + _item("unbounded", "string", extra="\n      <IDL_Size>1</IDL_Size>")
            + _item("bounded", "string", extra="\n      <IDL_Size>32</IDL_Size>")
            + _item("notAnArray", "string", count=5)
            + _item("sizedNumber", "long", extra="\n      <IDL_Size>1</IDL_Size>")
            + """
    <item>
      <EFDB_Name>bare</EFDB_Name>
      <IDL_Type>double</IDL_Type>
    </item>""",
        ),
    ]
)


def write_fake_ts_xml(root: Path) -> Path:
    """Write the fake interfaces tree under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "SALSubsystems.xml").write_text(_SUBSYSTEMS)
    (root / "SALGenerics.xml").write_text(_GENERICS)
    write_component_file(root, "Fake", "Commands", _FAKE_COMMANDS)
    write_component_file(root, "Fake", "Events", _FAKE_EVENTS)
    write_component_file(root, "Fake", "Telemetry", _FAKE_TELEMETRY)
    write_component_file(
        root,
        "FakeIndexed",
        "Commands",
        _topic(
            "SALCommand",
            "FakeIndexed_command_move",
            "Move.",
            _item("position", "double", units="m"),
        ),
    )
    write_component_file(
        root,
        "FakeAny",
        "Telemetry",
        _topic(
            "SALTelemetry", "FakeAny_position", "Where.", _item("xyz", "double", count=3, units="m")
        ),
    )
    return root
