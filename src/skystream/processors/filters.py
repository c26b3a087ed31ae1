"""Filters: processors that answer PASS or SKIP from a few alert fields.

Two built-ins, registered by name for specs:

``SolarSystemFilter``
    Removes (``include: false``, the default) or keeps only (``include: true``)
    alerts associated with a known solar-system object; ``targets`` narrows it
    to named objects.
``FieldFilter``
    Simple comparisons on :class:`~skystream.alerts.Alert` fields, combined
    with AND (``where``) and OR (``any``)::

        class: FieldFilter
        params:
          where: ["snr > 5", "band in [g, r]", "mag <= 19.5"]
          any: ["sso_id is null", ["ra between [10, 20]", "dec < 0"]]

Both read only the fields they name, a batch at a time; numeric comparisons
run on numpy arrays of the batch.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict

from skystream.alerts.model import UNIFORM_FIELDS
from skystream.exceptions import ConfigurationError
from skystream.pipeline.names import register
from skystream.pipeline.processor import BatchResult, Verdict, validate_params

if TYPE_CHECKING:
    from skystream.alerts.model import Alert

__all__ = ["FieldFilter", "SolarSystemFilter", "parse_condition"]


def _normalise_name(value: object) -> str:
    """Compare object names without case or spaces: ``'2022 AR29'`` == ``'2022ar29'``."""
    return "".join(str(value).split()).casefold()


@register("SolarSystemFilter", kind="processor")
class SolarSystemFilter:
    """Keep or remove alerts associated with known solar-system objects.

    Parameters
    ----------
    name
        The step's name (in counts and dead-letter headers).
    include
        ``False`` (default): SKIP alerts of solar-system objects, PASS the rest.
        ``True``: PASS only alerts of solar-system objects.
    targets
        Only these objects count as "solar-system objects": names,
        designations or ids (``"2022 AR29"``, ``"Ceres"``, ``36378537319927375``),
        compared with the alert's ``sso_id`` and ``sso_name`` ignoring case and
        spaces. With ``include: false`` the targets are removed and every other
        alert passes; with ``include: true`` only the targets pass.

    Attributes
    ----------
    counts
        Running counts for summaries: ``sso`` (alerts of any known object
        seen) and, with targets, ``targets`` (alerts of a target seen).
    """

    class Params(BaseModel):
        """What a spec may set."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        include: bool = False
        targets: list[str | int] | None = None

    def __init__(
        self,
        name: str | None = None,
        *,
        include: bool = False,
        targets: Sequence[str | int] | None = None,
    ) -> None:
        params = validate_params(
            self.Params, {"include": include, "targets": targets}, "SolarSystemFilter"
        )
        self.name = name or "SolarSystemFilter"
        self.include = params.include
        self.targets: frozenset[str] | None = (
            None if params.targets is None else frozenset(map(_normalise_name, params.targets))
        )
        # sso_name can cost a longer read (Rubin keeps it after the source
        # record), so it is read only when targets need it.
        self.fields: frozenset[str] = frozenset(
            {"sso_id"} if self.targets is None else {"sso_id", "sso_name"}
        )
        self.counts: dict[str, int] = {"sso": 0}
        if self.targets is not None:
            self.counts["targets"] = 0

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        """SKIP or PASS each alert by its solar-system association."""
        ids = [alert.get("sso_id") for alert in alerts]
        selected = [sso is not None for sso in ids]
        self.counts["sso"] += sum(selected)
        if self.targets is not None:
            targets = self.targets
            selected = [
                is_sso
                and (
                    _normalise_name(sso) in targets
                    or _normalise_name(alert.get("sso_name") or "") in targets
                )
                for alert, sso, is_sso in zip(alerts, ids, selected, strict=True)
            ]
            self.counts["targets"] += sum(selected)
        keep = self.include
        return BatchResult(
            [Verdict.PASS if chosen is keep else Verdict.SKIP for chosen in selected]
        )

    def __repr__(self) -> str:
        targets = "" if self.targets is None else f", targets={sorted(self.targets)}"
        return f"SolarSystemFilter(name={self.name!r}, include={self.include}{targets})"


# -- field conditions ----------------------------------------------------------------

#: Fields whose values are floats (compared on numpy arrays).
_FLOAT_FIELDS = frozenset(
    {
        "ra",
        "dec",
        "mjd",
        "flux",
        "flux_err",
        "mag",
        "mag_err",
        "snr",
        "sso_distance_arcsec",
        "sso_mag",
    }
)
#: Fields that hold text (no ordering comparisons).
_TEXT_FIELDS = frozenset({"band", "sso_name"})
#: Ids: integers in one survey, text in another (compared as text unless both are numbers).
_ID_FIELDS = frozenset({"alert_id", "object_id", "sso_id"})

_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<quoted>"[^"]*"|'[^']*')
      | (?P<op><=|>=|==|!=|<|>|=)
      | (?P<punct>[\[\],])
      | (?P<word>[^\s\[\],<>=!"']+)
    )""",
    re.VERBOSE,
)

Value = float | int | str | bool | None
_BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
Operator = Literal[
    "<", "<=", ">", ">=", "==", "!=", "in", "not in", "is null", "is not null", "between"
]


@dataclass(frozen=True)
class Condition:
    """One parsed comparison: ``field op value`` (or ``choices``, or ``low``/``high``).

    A null field value fails every comparison except ``is null`` (as in SQL).
    """

    text: str
    field: str
    op: Operator
    value: Value = None
    choices: tuple[Value, ...] = ()
    low: float = 0.0
    high: float = 0.0

    def mask(self, columns: dict[str, list[Any]]) -> _BoolArray:
        """Evaluate the condition for a batch, given its field columns."""
        column = columns[self.field]
        op = self.op
        if op == "is null":
            return np.fromiter((v is None for v in column), bool, len(column))
        if op == "is not null":
            return np.fromiter((v is not None for v in column), bool, len(column))
        if self.field in _FLOAT_FIELDS and op not in ("in", "not in"):
            values = _float_column(column)
            result: _BoolArray = ~np.isnan(values)
            if op == "between":
                result &= values >= self.low
                result &= values <= self.high
            elif op in _ORDERING:
                result &= _ORDERING[op](values, float(self.value))  # type: ignore[arg-type]
            elif op == "!=":
                result &= values != float(self.value)  # type: ignore[arg-type]
            else:
                result &= values == float(self.value)  # type: ignore[arg-type]
            return result
        test = self._scalar_test()
        return np.fromiter((v is not None and test(v) for v in column), bool, len(column))

    def _scalar_test(self) -> Callable[[Any], bool]:
        op = self.op
        if op in ("in", "not in"):
            choices = {_comparable(item) for item in self.choices}
            if op == "in":
                return lambda v: _comparable(v) in choices
            return lambda v: _comparable(v) not in choices
        if op == "between":
            low, high = self.low, self.high
            return lambda v: _is_number(v) and bool(low <= v <= high)
        if op in _ORDERING:
            compare, value = _ORDERING[op], self.value
            # Ids are text in some surveys: text never satisfies a numeric ordering.
            return lambda v: _is_number(v) and bool(compare(v, value))  # type: ignore[arg-type]
        target = _comparable(self.value)
        if op == "!=":
            return lambda v: _comparable(v) != target
        return lambda v: _comparable(v) == target


def _comparable(value: Any) -> Any:
    """Ids and names compare as text (ZTF ``ssnamenr`` "12345" equals 12345)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _float_column(column: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.fromiter((math.nan if v is None else v for v in column), float, len(column))


def parse_condition(text: str) -> Condition:
    """Parse one comparison such as ``snr > 5`` or ``band in [g, r]`` (never ``eval``).

    Forms: ``FIELD OP VALUE`` with OP one of ``< <= > >= == != =``;
    ``FIELD in [A, B]``, ``FIELD not in [A, B]``; ``FIELD is null``,
    ``FIELD is not null``; ``FIELD between [LOW, HIGH]`` (inclusive). Values
    are numbers, words, quoted text, ``null``, ``true`` or ``false``.

    Raises
    ------
    ConfigurationError
        Naming the expression, what is wrong, and the fields allowed.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"condition {text!r} is not text; write e.g. 'snr > 5'")
    tokens = _tokenise(text)
    if not tokens:
        raise ConfigurationError("empty condition; write e.g. 'snr > 5' or 'band in [g, r]'")
    kind, field_name = tokens[0]
    if kind != "word" or field_name not in UNIFORM_FIELDS:
        raise ConfigurationError(
            f"condition {text!r}: {field_name!r} is not an alert field; "
            f"fields are: {', '.join(UNIFORM_FIELDS)}"
        )
    rest = tokens[1:]
    words = [value.lower() if kind == "word" else None for kind, value in rest]

    if words[:3] == ["is", "not", "null"] and len(rest) == 3:
        return Condition(text, field_name, "is not null")
    if words[:2] == ["is", "null"] and len(rest) == 2:
        return Condition(text, field_name, "is null")
    if words[:2] == ["not", "in"]:
        return Condition(text, field_name, "not in", choices=_parse_list(text, rest[2:]))
    if words[:1] == ["in"]:
        return Condition(text, field_name, "in", choices=_parse_list(text, rest[1:]))
    if words[:1] == ["between"]:
        bounds = _parse_list(text, rest[1:])
        if len(bounds) != 2 or not all(_is_number(b) for b in bounds):
            raise ConfigurationError(
                f"condition {text!r}: between takes two numbers, e.g. 'ra between [10, 20]'"
            )
        _require_ordered(text, field_name)
        low, high = sorted(float(b) for b in bounds)  # type: ignore[arg-type]
        return Condition(text, field_name, "between", low=low, high=high)
    if rest and rest[0][0] == "op" and len(rest) == 2:
        op = "==" if rest[0][1] == "=" else rest[0][1]
        value = _parse_value(rest[1])
        if value is None:
            raise ConfigurationError(
                f"condition {text!r}: compare with null as '{field_name} is null' "
                f"or '{field_name} is not null'"
            )
        if op in _ORDERING:
            _require_ordered(text, field_name)
        if (op in _ORDERING or field_name in _FLOAT_FIELDS) and not _is_number(value):
            raise ConfigurationError(
                f"condition {text!r}: {field_name} {op} needs a number, not {value!r}"
            )
        return Condition(text, field_name, op, value)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"condition {text!r} is not understood; forms: 'FIELD > 5' (< <= > >= == !=), "
        "'FIELD in [a, b]', 'FIELD not in [a, b]', 'FIELD is null', 'FIELD is not null', "
        "'FIELD between [low, high]'"
    )


def _tokenise(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConfigurationError(f"condition {text!r}: cannot read {text[position:].strip()!r}")
        kind = match.lastgroup or "word"
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _parse_value(token: tuple[str, str]) -> Value:
    kind, text = token
    if kind == "quoted":
        return text[1:-1]
    if kind != "word":
        raise ConfigurationError(f"expected a value, found {text!r}")
    lowered = text.lower()
    if lowered in ("null", "none"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_list(text: str, tokens: list[tuple[str, str]]) -> tuple[Value, ...]:
    if len(tokens) < 2 or tokens[0] != ("punct", "[") or tokens[-1] != ("punct", "]"):
        raise ConfigurationError(f"condition {text!r}: expected a list in brackets, e.g. [g, r]")
    items = tokens[1:-1]
    values: list[Value] = []
    for index, token in enumerate(items):
        if index % 2 == 1:
            if token != ("punct", ","):
                raise ConfigurationError(
                    f"condition {text!r}: separate list items with commas, e.g. [g, r]"
                )
            continue
        try:
            values.append(_parse_value(token))
        except ConfigurationError as exc:
            raise ConfigurationError(f"condition {text!r}: {exc}") from None
    if not values or len(items) % 2 == 0:
        raise ConfigurationError(f"condition {text!r}: the list is empty or ends with a comma")
    return tuple(values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require_ordered(text: str, field_name: str) -> None:
    if field_name in _TEXT_FIELDS:
        raise ConfigurationError(
            f"condition {text!r}: {field_name} holds text; use ==, != or in [...]"
        )


#: A condition, or a list of them that must all hold (an AND group inside ``any``).
ConditionGroup = str | list[str]


@register("FieldFilter", kind="processor")
class FieldFilter:
    """PASS alerts whose fields satisfy simple comparisons.

    Parameters
    ----------
    name
        The step's name.
    where
        One condition or a list of them; all must hold (AND).
    any
        A list of conditions, or of lists of conditions (AND groups); at least
        one must hold (OR). With ``where`` too, both must be satisfied.

    Conditions are described in :func:`parse_condition`; a field that is null
    fails every comparison but ``is null``.
    """

    class Params(BaseModel):
        """What a spec may set; the conditions are parsed when the spec is checked."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        where: str | list[str] | None = None
        any: list[ConditionGroup] | None = None

        @pydantic.model_validator(mode="after")
        def _parse(self) -> FieldFilter.Params:
            if not self.where and not self.any:
                raise ValueError(
                    "give 'where' (conditions that must all hold) and/or 'any' "
                    "(conditions of which one must hold), e.g. where: 'snr > 5'"
                )
            texts = [*_where_list(self.where)]
            for group in self.any or []:
                texts.extend(_where_list(group))
            for text in texts:
                try:
                    parse_condition(text)
                except ConfigurationError as exc:  # pydantic reports ValueErrors only
                    raise ValueError(str(exc)) from None
            return self

    def __init__(
        self,
        name: str | None = None,
        *,
        where: str | Sequence[str] | None = None,
        any: Sequence[ConditionGroup] | None = None,
    ) -> None:
        params = validate_params(
            self.Params,
            {
                "where": where if where is None or isinstance(where, str) else list(where),
                "any": None if any is None else list(any),
            },
            "FieldFilter",
        )
        self.name = name or "FieldFilter"
        self.where: tuple[Condition, ...] = tuple(
            parse_condition(text) for text in _where_list(params.where)
        )
        self.any: tuple[tuple[Condition, ...], ...] = tuple(
            tuple(parse_condition(text) for text in _where_list(group))
            for group in params.any or []
        )
        conditions = [*self.where, *(c for group in self.any for c in group)]
        self.fields: frozenset[str] = frozenset(c.field for c in conditions)

    def process_batch(self, alerts: Sequence[Alert]) -> BatchResult:
        """Evaluate every condition on the batch's columns at once."""
        count = len(alerts)
        columns = {name: [alert.get(name) for alert in alerts] for name in self.fields}
        keep = np.ones(count, dtype=bool)
        for condition in self.where:
            keep &= condition.mask(columns)
        if self.any:
            either = np.zeros(count, dtype=bool)
            for group in self.any:
                both = np.ones(count, dtype=bool)
                for condition in group:
                    both &= condition.mask(columns)
                either |= both
            keep &= either
        return BatchResult([Verdict.PASS if k else Verdict.SKIP for k in keep.tolist()])

    def __repr__(self) -> str:
        where = [c.text for c in self.where]
        groups = [[c.text for c in group] for group in self.any]
        return f"FieldFilter(name={self.name!r}, where={where}, any={groups})"


def _where_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
