"""Topic sets: a component's topics split over processes, as Rubin runs its bridges.

A topic-sets file (:class:`TopicSetsFile`, YAML checked into pydantic models)
names sets of topics; :func:`plan_topic_sets` turns it into one
:class:`TopicSetPlan` per process, checking every topic name before
anything starts; :func:`run_topic_sets` supervises the processes (started
with ``spawn``, each running :func:`~skystream.sal.bridge.core.run_bridge`)
and answers the control socket for all of them: ``add`` starts one more
process, ``remove`` stops or asks the processes serving the component.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from skystream.exceptions import ConfigurationError, SalInterfaceError, SkystreamError
from skystream.sal.bridge.control import _ControlServer, _write_ready, control_request
from skystream.sal.bridge.core import run_bridge
from skystream.sal.bridge.monitor import MIN_QUEUE_LENGTH
from skystream.sal.bridge.settings import BridgeSettings
from skystream.sal.model import SalComponent

__all__ = [
    "ComponentSets",
    "TopicSet",
    "TopicSetPlan",
    "TopicSetsFile",
    "plan_topic_sets",
    "run_topic_sets",
]


class TopicSet(BaseModel):
    """Topics run together in one process (names without ``command_``/``logevent_``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add_ackcmd: bool = False
    commands: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    telemetry: list[str] = Field(default_factory=list)
    partitions: int | None = Field(default=None, gt=0)


class ComponentSets(BaseModel):
    """One component split into topic sets; its remaining topics form one more set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str
    queue_len: int | None = Field(default=None, ge=MIN_QUEUE_LENGTH)
    topic_sets: list[TopicSet] = Field(default_factory=list)


class TopicSetsFile(BaseModel):
    """A topic-sets file: Rubin's one-component layout, or several under ``components``.

    Examples
    --------
    Rubin's layout::

        component: MTM1M3
        queue_len: 1000
        topic_sets:
          - telemetry: [forceActuatorData, forceActuatorPressure]
            partitions: 2
          - events: [forceActuatorState]
            add_ackcmd: true

    Several components; a bare name runs whole, sharing one process with the
    other bare names::

        components:
          - component: MTM1M3
            topic_sets:
              - telemetry: [forceActuatorData]
          - MTM2
          - MTHexapod
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str | None = None
    queue_len: int | None = Field(default=None, ge=MIN_QUEUE_LENGTH)
    topic_sets: list[TopicSet] = Field(default_factory=list)
    components: list[ComponentSets | str] = Field(default_factory=list)

    @classmethod
    def from_file(cls, path: Path | str) -> TopicSetsFile:
        """Read and check a YAML file.

        Raises
        ------
        ConfigurationError
            When it cannot be read or does not fit the layout (all problems listed).
        """
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read topic-sets file {str(path)!r}: {exc}") from exc
        try:
            parsed = cls.model_validate(data or {})
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(f"topic-sets file {str(path)!r}: {problems}") from exc
        if (parsed.component is None) == (not parsed.components):
            raise ConfigurationError(
                f"topic-sets file {str(path)!r}: give either `component:` (one component, "
                "Rubin's layout) or a `components:` list"
            )
        return parsed

    def entries(self) -> list[ComponentSets | str]:
        """Return the components of the file, in order."""
        if self.component is not None:
            return [
                ComponentSets(
                    component=self.component, queue_len=self.queue_len, topic_sets=self.topic_sets
                )
            ]
        return list(self.components)


@dataclass(frozen=True)
class TopicSetPlan:
    """What one process bridges: ``(component, SAL topic names or None for all)`` pairs."""

    name: str
    selections: tuple[tuple[str, tuple[str, ...] | None], ...]
    partitions: int | None = None
    queue_length: int | None = None

    @property
    def components(self) -> list[str]:
        """Names of the components this process bridges (some, maybe, in part)."""
        return [name for name, _ in self.selections]


def plan_topic_sets(
    sets: TopicSetsFile, load_component: Callable[[str], SalComponent]
) -> list[TopicSetPlan]:
    """Split a topic-sets file into processes, checking every topic name.

    Raises
    ------
    SalInterfaceError
        When a set names a topic twice or a topic the component lacks.
    """
    plans: list[TopicSetPlan] = []
    whole: list[str] = []
    for entry in sets.entries():
        if isinstance(entry, str):
            whole.append(entry)
            continue
        component = load_component(entry.component)
        left = dict(component.topics)
        for number, topic_set in enumerate(entry.topic_sets, start=1):
            names = _set_names(component, topic_set, number)
            taken = [n for n in names if n not in left]
            if taken:
                raise SalInterfaceError(
                    f"{component.name} topic set {number}: {', '.join(taken)} already in an "
                    "earlier set"
                )
            for name in names:
                del left[name]
            plans.append(
                TopicSetPlan(
                    f"{component.name}-{number}",
                    ((component.name, tuple(names)),),
                    topic_set.partitions,
                    entry.queue_len,
                )
            )
        if left:
            rest = None if len(left) == len(component.topics) else tuple(left)
            plans.append(
                TopicSetPlan(
                    f"{component.name}-rest" if rest else component.name,
                    ((component.name, rest),),
                    None,
                    entry.queue_len,
                )
            )
    if whole:
        for name in whole:
            load_component(name)  # fail now on a typo, not in a child process
        plans.append(TopicSetPlan("components", tuple((name, None) for name in whole)))
    return plans


def _set_names(component: SalComponent, topic_set: TopicSet, number: int) -> list[str]:
    names = [f"command_{n}" for n in topic_set.commands]
    names += [f"logevent_{n}" for n in topic_set.events]
    names += list(topic_set.telemetry)
    if topic_set.add_ackcmd:
        names.append("ackcmd")
    unknown = [n for n in names if n not in component.topics]
    if unknown:
        raise SalInterfaceError(
            f"{component.name} topic set {number}: no such topic(s) {', '.join(unknown)} "
            "(names go without command_/logevent_ prefixes)"
        )
    if len(set(names)) != len(names):
        raise SalInterfaceError(f"{component.name} topic set {number} names a topic twice")
    return names


def _child_main(
    plan: TopicSetPlan,
    settings: BridgeSettings,
    ready_file: str,
    control_dir: str | None,
    loglevel: int,
) -> None:
    """Run one topic-set process: bridge the plan until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=loglevel, format=f"%(asctime)s %(levelname)s [{plan.name}] %(name)s: %(message)s"
    )
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    updates: dict[str, Any] = {}
    if plan.partitions is not None:
        updates["partitions"] = plan.partitions
    if plan.queue_length is not None:
        updates["queue_length"] = plan.queue_length
    if updates:
        settings = dataclasses.replace(settings, **updates)
    run_bridge(
        settings,
        [(name, list(topics) if topics is not None else None) for name, topics in plan.selections],
        stop=stop,
        ready_file=Path(ready_file),
        control_dir=Path(control_dir) if control_dir else None,
    )


class _Supervisor:
    """Runs one process per topic set; adds and removes components as processes."""

    def __init__(
        self,
        settings: BridgeSettings,
        state_dir: Path,
        control_dir: Path | None,
        loglevel: int,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.control_dir = control_dir
        self.loglevel = loglevel
        self.children: dict[str, tuple[TopicSetPlan, Any]] = {}
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()

    def _ready_path(self, plan: TopicSetPlan) -> Path:
        return self.state_dir / f"{plan.name}.ready"

    def start(self, plans: Iterable[TopicSetPlan], timeout_s: float = 120.0) -> None:
        started = []
        for plan in plans:
            if plan.name in self.children:
                raise ConfigurationError(f"a topic set named {plan.name!r} runs already")
            control = str(self.control_dir / plan.name) if self.control_dir else None
            process = self._context.Process(
                target=_child_main,
                args=(plan, self.settings, str(self._ready_path(plan)), control, self.loglevel),
                name=f"sal-bridge-{plan.name}",
            )
            process.start()
            self.children[plan.name] = (plan, process)
            started.append(plan)
        deadline = time.monotonic() + timeout_s
        for plan in started:
            process = self.children[plan.name][1]
            while not self._ready_path(plan).exists():
                if not process.is_alive():
                    raise SkystreamError(
                        f"topic set {plan.name} exited (code {process.exitcode}) before it "
                        "was ready; see its log above"
                    )
                if time.monotonic() > deadline:
                    raise SkystreamError(f"topic set {plan.name} not ready after {timeout_s:g} s")
                time.sleep(0.05)

    def stop(self, names: Iterable[str] | None = None, timeout_s: float = 60.0) -> dict[str, int]:
        chosen = list(self.children) if names is None else list(names)
        for name in chosen:
            process = self.children[name][1]
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        codes = {}
        for name in chosen:
            process = self.children.pop(name)[1]
            process.join(timeout_s)
            if process.is_alive():
                process.kill()
                process.join()
            codes[name] = process.exitcode
        return codes

    def components(self) -> list[str]:
        return sorted({c for plan, _ in self.children.values() for c in plan.components})

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        names = [str(n) for n in request.get("components", [])]
        answer: dict[str, Any] = {"ok": True}
        with self._lock:
            if command == "add":
                present = [n for n in names if n in self.components()]
                if present:
                    raise ConfigurationError(f"{', '.join(present)} bridged already")
                self.start([TopicSetPlan(name, ((name, None),)) for name in names])
            elif command == "remove":
                for name in names:
                    self._remove(name)
            elif command in ("pause", "resume"):
                for child in self.children:
                    control_request(self._child_control(child), command)
            elif command not in ("list", "stats"):
                raise ConfigurationError(
                    f"unknown command {command!r}: add, remove, list, stats, pause or resume"
                )
            answer["components"] = self.components()
            answer["processes"] = {n: plan.components for n, (plan, _) in self.children.items()}
        return answer

    def _child_control(self, name: str) -> Path:
        if self.control_dir is None:
            raise ConfigurationError("this bridge runs without a control directory")
        return self.control_dir / name

    def _remove(self, name: str) -> None:
        serving = [n for n, (plan, _) in self.children.items() if name in plan.components]
        if not serving:
            raise ConfigurationError(
                f"{name} is not bridged; bridged: {', '.join(self.components())}"
            )
        alone = [n for n in serving if self.children[n][0].components == [name]]
        self.stop(alone)
        for child in serving:
            if child not in alone:
                control_request(self._child_control(child), "remove", [name])

    def watch(self) -> str | None:
        """Return the name of a child that died unasked, if any."""
        for name, (_, process) in self.children.items():
            if not process.is_alive():
                return name
        return None


def run_topic_sets(
    settings: BridgeSettings,
    plans: Sequence[TopicSetPlan],
    *,
    stop: threading.Event,
    ready_file: Path | None = None,
    control_dir: Path | None = None,
    loglevel: int = logging.INFO,
) -> dict[str, int]:
    """Run each topic set in its own process until ``stop`` is set; return exit codes by set.

    The ready file is written once every process is ready. Through
    ``control_dir``, ``add`` starts one more process for the component and
    ``remove`` stops the processes that serve only it (or asks the shared one).

    Raises
    ------
    SkystreamError
        When a process does not get ready or dies while running.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="skystream-bridge-") as scratch:
        supervisor = _Supervisor(settings, Path(scratch), control_dir, loglevel)
        server: _ControlServer | None = None
        codes: dict[str, int] = {}
        died: str | None = None
        try:
            supervisor.start(plans)
            if control_dir is not None:
                server = _ControlServer(control_dir, supervisor.handle)
            if ready_file is not None:
                _write_ready(
                    ready_file,
                    {
                        "pid": os.getpid(),
                        "components": supervisor.components(),
                        "processes": [plan.name for plan in plans],
                    },
                )
            while not stop.wait(0.2):
                died = supervisor.watch()
                if died is not None:
                    break
        finally:
            if server is not None:
                server.close()
            if ready_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    ready_file.unlink()
            codes = supervisor.stop()
        if died is not None:
            raise SkystreamError(
                f"topic set {died} died (exit code {codes.get(died)}); stopped all"
            )
        return codes
