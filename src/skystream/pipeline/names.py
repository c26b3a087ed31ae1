"""Finding processors and sinks by name.

A spec names each step's class; :func:`resolve` turns that name into the class.
The forms accepted, tried in this order:

1. a **registered name**, such as ``SolarSystemFilter``, ``FieldFilter`` or
   ``KafkaStreamWriter`` (built-ins register with :func:`register`);
2. an **entry point** of that name in the group ``skystream.processors`` or
   ``skystream.sinks`` (how an installed package offers its own steps)::

       [project.entry-points."skystream.processors"]
       BrightFilter = "mypackage.filters:BrightFilter"

3. a **dotted path** the user configures: ``package.module:Class`` or
   ``package.module.Class``;
4. a **Java-style prefixed name**, as the LSST:UK seed wrote them
   (``uk.org.lsst.SolarSystemFilter``): when the whole name is neither
   registered nor importable, its last part is tried as a registered name or
   entry point.

Built-ins register lazily: the modules that define them are imported the
first time a name is resolved, so importing :mod:`skystream.pipeline` stays
cheap. A built-in module that does not exist (yet) is skipped, so a missing
sinks package never stops processors from resolving.

>>> resolve("uk.org.lsst.SolarSystemFilter", "processor").__name__
'SolarSystemFilter'
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

from skystream.exceptions import ConfigurationError

__all__ = [
    "ENTRY_POINT_GROUPS",
    "Kind",
    "kind_of",
    "register",
    "registered_names",
    "resolve",
]

#: What a step is: a processor (answers PASS/SKIP) or a sink (writes what passed).
Kind = Literal["processor", "sink"]

#: The entry-point group searched for each kind.
ENTRY_POINT_GROUPS: dict[Kind, str] = {
    "processor": "skystream.processors",
    "sink": "skystream.sinks",
}

# Modules whose import registers the built-ins of each kind. Listed here, not
# imported at module level: resolution is the first time they are needed.
_BUILTIN_MODULES: dict[Kind, tuple[str, ...]] = {
    "processor": ("skystream.processors.filters", "skystream.processors.crossmatch"),
    "sink": ("skystream.processors.sinks",),
}

_KINDS: tuple[Kind, ...] = ("processor", "sink")
_REGISTRY: dict[Kind, dict[str, type]] = {"processor": {}, "sink": {}}
_loaded: set[str] = set()

_T = TypeVar("_T", bound=type)


def register(name: str, *, kind: Kind) -> Callable[[_T], _T]:
    """Register a class under ``name`` so specs can name it; use as a decorator.

    Parameters
    ----------
    name
        The name specs use (``"SolarSystemFilter"``); registered names hold no dots.
    kind
        ``"processor"`` or ``"sink"``.

    Raises
    ------
    ConfigurationError
        If ``name`` is taken by another class, or is not a plain name.

    Examples
    --------
    >>> @register("Bright", kind="processor")  # doctest: +SKIP
    ... class Bright(AlertProcessor): ...
    """
    if kind not in _KINDS:
        raise ConfigurationError(f"kind must be 'processor' or 'sink', not {kind!r}")
    if not name or not name.isidentifier():
        raise ConfigurationError(
            f"cannot register {name!r}: a registered name is a plain identifier "
            "such as 'SolarSystemFilter' (no dots, no spaces)"
        )

    def decorate(cls: _T) -> _T:
        for other_kind in _KINDS:
            taken = _REGISTRY[other_kind].get(name)
            # The same class registered again (a module reloaded) is harmless.
            if taken is not None and _qualified(taken) != _qualified(cls):
                raise ConfigurationError(
                    f"cannot register {_qualified(cls)} as {name!r}: that name is "
                    f"taken by {_qualified(taken)} ({other_kind}); choose another name"
                )
            if taken is not None and other_kind != kind:
                raise ConfigurationError(
                    f"cannot register {name!r} as a {kind}: it is registered as a {other_kind}"
                )
        _REGISTRY[kind][name] = cls
        return cls

    return decorate


def registered_names(kind: Kind | None = None) -> list[str]:
    """Return the registered names of ``kind`` (both kinds for ``None``), sorted.

    Built-in modules are imported first, so every built-in is listed.
    """
    kinds = _kinds(kind)
    _load_builtins(kinds)
    return sorted({name for k in kinds for name in _REGISTRY[k]})


def resolve(name: str, kind: Kind | None = None) -> type:
    """Return the class a spec's ``class``/``type`` entry names.

    Parameters
    ----------
    name
        A registered name, an entry-point name, ``package.module:Class``,
        ``package.module.Class``, or a Java-style prefixed name whose last part
        is registered (``uk.org.lsst.SolarSystemFilter``).
    kind
        ``"processor"`` or ``"sink"`` to look in one kind only; ``None`` looks
        in both (use :func:`kind_of` on the result to tell which it is).

    Returns
    -------
    type
        The class (not an instance).

    Raises
    ------
    ConfigurationError
        If nothing answers to ``name`` (the message lists the registered names
        and the forms accepted), if a user module named by a dotted path fails
        to import, or if the object found is not a processor or sink class
        (of ``kind``, when given).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"a class name must be a non-empty string, not {name!r}")
    name = name.strip()
    kinds = _kinds(kind)
    _load_builtins(kinds)

    found = _registered(name, kinds) or _entry_point(name, kinds)
    if found is None and ("." in name or ":" in name):
        found = _import_path(name)
        if found is None and ":" not in name:
            # A Java-style prefix (uk.org.lsst.SolarSystemFilter): the last part.
            short = name.rsplit(".", 1)[-1]
            found = _registered(short, kinds) or _entry_point(short, kinds)
    if found is None:
        raise ConfigurationError(_unknown_message(name, kinds))
    if not isinstance(found, type):
        raise ConfigurationError(
            f"{name!r} names {found!r}, which is not a class; name a processor or sink class"
        )
    found_kind = kind_of(found)  # raises for a class that is neither
    if kind is not None and found_kind != kind:
        raise ConfigurationError(f"{name!r} is a {found_kind}, not a {kind}")
    return found


def kind_of(cls: type) -> Kind:
    """Tell whether ``cls`` is a processor or a sink.

    A registered class has the kind it was registered with. Otherwise a class
    with ``process_batch`` (or ``process``) is a processor, and one with
    ``add`` and ``flush`` is a sink.

    Raises
    ------
    ConfigurationError
        If ``cls`` is neither; the message says what each needs.
    """
    for kind in _KINDS:
        if any(registered is cls for registered in _REGISTRY[kind].values()):
            return kind
    if callable(getattr(cls, "process_batch", None)) or callable(getattr(cls, "process", None)):
        return "processor"
    if callable(getattr(cls, "add", None)) and callable(getattr(cls, "flush", None)):
        return "sink"
    raise ConfigurationError(
        f"{_qualified(cls)} is neither a processor nor a sink: a processor defines "
        "process_batch(alerts) (or subclasses skystream.pipeline.processor.AlertProcessor "
        "and defines process(alert)); a sink defines add(alerts, annotations), flush() and close()"
    )


# -- the steps of resolution --------------------------------------------------------


def _kinds(kind: Kind | None) -> tuple[Kind, ...]:
    if kind is None:
        return _KINDS
    if kind not in _KINDS:
        raise ConfigurationError(f"kind must be 'processor' or 'sink', not {kind!r}")
    return (kind,)


def _load_builtins(kinds: Iterable[Kind]) -> None:
    for kind in kinds:
        for module in _BUILTIN_MODULES[kind]:
            if module in _loaded:
                continue
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                # Only the built-in module itself (or its package) being absent is
                # tolerated; a module that exists but fails to import is a bug to show.
                if exc.name is None or not module.startswith(exc.name):
                    raise
            _loaded.add(module)


def _registered(name: str, kinds: Iterable[Kind]) -> type | None:
    for kind in kinds:
        cls = _REGISTRY[kind].get(name)
        if cls is not None:
            return cls
    return None


def _entry_point(name: str, kinds: Iterable[Kind]) -> object | None:
    for kind in kinds:
        for entry in _entry_points(ENTRY_POINT_GROUPS[kind]):
            if entry.name == name:
                try:
                    loaded: object = entry.load()
                except Exception as exc:  # ImportError, AttributeError, errors in the module
                    raise ConfigurationError(
                        f"entry point {name!r} in group {entry.group!r} ({entry.value}) "
                        f"failed to load: {type(exc).__name__}: {exc}"
                    ) from exc
                return loaded
    return None


def _entry_points(group: str) -> Iterable[importlib.metadata.EntryPoint]:
    """Return the installed entry points of ``group`` (a seam for tests)."""
    return importlib.metadata.entry_points(group=group)


def _import_path(name: str) -> object | None:
    """Import ``package.module:Class`` or ``package.module.Class``; ``None`` if absent."""
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        if not module_name or not attribute:
            raise ConfigurationError(f"{name!r} is not a dotted path: write package.module:Class")
        module = _import(module_name, name)
        if module is None:
            raise ConfigurationError(
                f"cannot import module {module_name!r} named in {name!r}: no such module; "
                "check the spelling and that its package is installed in this environment"
            )
        return _attribute(module, attribute, name)
    module_name, _, attribute = name.rpartition(".")
    module = _import(module_name, name)
    if module is None:
        return None
    try:
        return _attribute(module, attribute, name)
    except ConfigurationError:
        return None  # perhaps a Java-style prefix that happens to be importable


def _import(module_name: str, name: str) -> object | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Absent module (or parent): not an import path. Anything else is the
        # user's module failing, which they need to see.
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            return None
        raise ConfigurationError(
            f"importing {module_name!r} (for {name!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"importing {module_name!r} (for {name!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc


def _attribute(module: object, attribute: str, name: str) -> object:
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(
                f"{name!r}: {getattr(module, '__name__', module)!s} has no attribute {part!r}"
            ) from None
    return found


def _unknown_message(name: str, kinds: tuple[Kind, ...]) -> str:
    short = name.rsplit(".", 1)[-1]
    for other in _KINDS:
        if other not in kinds and (name in _REGISTRY[other] or short in _REGISTRY[other]):
            return f"{name!r} is a {other}, not a {' or '.join(kinds)}"
    names = sorted({n for k in kinds for n in _REGISTRY[k]})
    what = " or ".join(kinds)
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1].rsplit(":", 1)[-1], names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    groups = " or ".join(repr(ENTRY_POINT_GROUPS[k]) for k in kinds)
    return (
        f"unknown {what} {name!r}{hint}; registered names: {', '.join(names) or '(none)'}; "
        f"also accepted: a Java-style prefixed name (uk.org.lsst.SolarSystemFilter), "
        f"an entry point in group {groups}, or a dotted path package.module:Class"
    )


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
