"""What every ``skystream sal`` command shares: where the interface files are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["INTERFACES_ENV", "interfaces_option"]

#: Environment variable naming the ts_xml interfaces directory.
INTERFACES_ENV = "SKYSTREAM_SAL_INTERFACES"

_F = TypeVar("_F", bound=Callable[..., Any])


def interfaces_option(function: _F) -> _F:
    """Add ``--interfaces DIR`` (or ``$SKYSTREAM_SAL_INTERFACES``): ``interfaces: Path | None``."""
    return click.option(
        "--interfaces",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        envvar=INTERFACES_ENV,
        show_envvar=True,
        help="Directory in ts_xml layout (SALSubsystems.xml, SALGenerics.xml, <CSC>/...).",
    )(function)
