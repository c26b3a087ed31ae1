"""How the outside reaches a running bridge: its control socket and ready file.

A bridge run with a control directory answers JSON-line requests on the Unix
socket ``<control_dir>/bridge.sock`` (:data:`CONTROL_SOCKET`)::

    → {"command": "add", "components": ["MTHexapod"]}
    ← {"ok": true, "components": [...], ...}
    ← {"ok": false, "error": "...", "error_type": "ConfigurationError"}

:func:`control_request` is the client (``skystream sal bridge-ctl``); the
server only carries requests to a ``handle`` function given by whoever runs
it, a single bridge or the topic-set supervisor. Once ready, either also
writes a JSON *ready file* (atomically) for scripts to wait on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from skystream import exceptions
from skystream.exceptions import ConfigurationError, SkystreamError

__all__ = ["CONTROL_SOCKET", "control_request"]

#: Name of the control socket inside a bridge's control directory.
CONTROL_SOCKET = "bridge.sock"


def _socket_path(control_dir: Path) -> Path:
    path = Path(control_dir) / CONTROL_SOCKET
    if len(str(path)) > 100:
        raise ConfigurationError(
            f"control directory path {str(control_dir)!r} is too long for a Unix socket "
            "(keep it under 90 characters)"
        )
    return path


class _ControlServer:
    """Answers JSON-line requests on ``<control_dir>/bridge.sock`` with ``handle``."""

    def __init__(
        self, control_dir: Path, handle: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> None:
        self.path = _socket_path(control_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.exists():
            try:
                control_request(control_dir, "list", timeout_s=2.0)
            except ConfigurationError:
                self.path.unlink()  # left by a bridge that died
            else:
                raise ConfigurationError(
                    f"a bridge already listens on {self.path}: use another --control directory"
                )

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    request = json.loads(self.rfile.readline())
                    answer = handle(request)
                except Exception as exc:
                    answer = {"ok": False, "error": str(exc), "error_type": type(exc).__name__}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self._server = Server(str(self.path), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sal-bridge-control", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def control_request(
    control_dir: Path | str,
    command: str,
    components: Sequence[str] = (),
    *,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Ask the bridge listening in ``control_dir``; return its answer.

    Commands: ``add`` and ``remove`` (with component names), ``list``,
    ``stats``, ``pause``, ``resume``.

    Raises
    ------
    ConfigurationError
        When no bridge listens there.
    SkystreamError
        The error the bridge met doing it (of the same class when it is one of
        skystream's).
    """
    path = _socket_path(Path(control_dir))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout_s)
            connection.connect(str(path))
            request = {"command": command, "components": list(components)}
            connection.sendall(json.dumps(request).encode() + b"\n")
            with connection.makefile("rb") as stream:
                line = stream.readline()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ConfigurationError(
            f"no bridge listens on {path}: start one with `skystream sal bridge ... "
            f"--control {control_dir}`"
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot talk to the bridge at {path}: {exc}") from exc
    if not line:
        raise ConfigurationError(f"the bridge at {path} closed the connection without answering")
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        kind = getattr(exceptions, str(answer.get("error_type")), SkystreamError)
        if not (isinstance(kind, type) and issubclass(kind, SkystreamError)):
            kind = SkystreamError
        raise kind(answer.get("error", "the bridge refused"))
    return answer


def _write_ready(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps(data, indent=2))
    scratch.replace(path)
