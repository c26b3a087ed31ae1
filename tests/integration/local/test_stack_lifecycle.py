"""The embedded stack with its state file, and the private EmbeddedStack."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from skystream.exceptions import StackError
from skystream.local.broker import broker_answers, process_is_running
from skystream.local.stack import (
    EmbeddedStack,
    ServiceState,
    StackState,
    find_running_stack,
    read_stack_state,
    stack_status,
    start_stack,
    state_file_path,
    stop_own_stack,
    stop_stack,
)


def test_up_status_down(stack_state_dir: Path) -> None:
    state = start_stack()
    assert state_file_path() == stack_state_dir / "stack.json"
    recorded = json.loads(state_file_path().read_text())
    assert recorded["services"][0]["pid"] == state.broker_pid
    assert find_running_stack() == state
    assert state.log_file == stack_state_dir / "broker.log"
    assert broker_answers(state.bootstrap_servers)

    status = stack_status()
    assert status.running
    assert status.healthy
    assert status.to_dict()["bootstrap_servers"] == state.bootstrap_servers

    with pytest.raises(StackError, match="skystream down"):
        start_stack()

    assert stop_stack() == state
    assert not process_is_running(state.broker_pid)
    assert not state_file_path().exists()
    assert find_running_stack() is None
    assert stop_stack() is None


def test_stale_state_file_is_replaced(stack_state_dir: Path) -> None:
    first = start_stack()
    stale = state_file_path().read_text()
    stop_stack()
    state_file_path().write_text(stale)
    assert find_running_stack() is None

    second = start_stack()
    assert second.broker_pid != first.broker_pid
    assert find_running_stack() == second


def test_running_but_silent_broker_blocks_a_new_start(stack_state_dir: Path) -> None:
    # A live broker process that does not answer is still the stack of record.
    state = start_stack()
    broker = state.broker
    silent = ServiceState(
        name=broker.name,
        pid=broker.pid,
        address="127.0.0.1:1",
        log_file=broker.log_file,
        executable=broker.executable,
    )
    others = tuple(s for s in state.services if s.name != broker.name)  # stopped at teardown
    moved = StackState(
        services=(silent, *others), storage=state.storage, started_at=state.started_at
    )
    state_file_path().write_text(moved.to_json())
    assert not stack_status(timeout=0.5).healthy
    with pytest.raises(StackError, match="does not answer"):
        start_stack()


def test_stop_own_stack_leaves_a_newer_stack_alone(stack_state_dir: Path) -> None:
    first = start_stack()
    stop_stack()
    second = start_stack()
    assert not stop_own_stack(first)  # already stopped and forgotten
    assert find_running_stack() == second
    assert stop_own_stack(second)
    assert not state_file_path().exists()
    assert not process_is_running(second.broker_pid)


def test_embedded_stack_is_private(stack_state_dir: Path) -> None:
    with EmbeddedStack() as state:
        assert broker_answers(state.bootstrap_servers)
        assert state.started_at <= dt.datetime.now(dt.UTC)
        assert find_running_stack() is None
        assert read_stack_state() is None
        assert os.getpgid(state.broker_pid) == os.getpgid(0)  # shares this process's fate
        log_file = state.log_file
        assert log_file is not None
        assert log_file.exists()
    assert not process_is_running(state.broker_pid)
    assert not log_file.exists()  # its temporary log directory is gone
    assert not state_file_path().exists()


def test_embedded_stack_start_stop(tmp_path: Path) -> None:
    embedded = EmbeddedStack(log_dir=tmp_path)
    with pytest.raises(StackError, match="not running"):
        _ = embedded.state
    state = embedded.start()
    try:
        assert embedded.start() is state
        assert embedded.state is state
        assert (tmp_path / "broker.log").exists()
    finally:
        embedded.stop()
    embedded.stop()
    assert not process_is_running(state.broker_pid)
    assert (tmp_path / "broker.log").exists()  # a log directory of the caller's stays


def test_session_stack_is_shared(stack: StackState) -> None:
    assert broker_answers(stack.bootstrap_servers)
    assert find_running_stack() is None  # the session broker stays out of the state file
