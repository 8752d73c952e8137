"""``edgeperf stack up|status|down``: the embedded stack on its own, in the background."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from analysis.contract.atomic import write_text_atomic
from loadtests.config.scenario import load_scenario
from loadtests.errors import StackError
from loadtests.stack.launchers.embedded import EmbeddedStack, launch_stack
from loadtests.stack.launchers.processes import STOP_GRACE_S

__all__ = [
    "DEFAULT_SCENARIO",
    "DEFAULT_STATE_DIR",
    "ProcessEntry",
    "StackState",
    "format_state",
    "format_status",
    "process_alive",
    "read_state",
    "stack_down",
    "stack_status",
    "stack_up",
]

DEFAULT_STATE_DIR = Path(".stack")
DEFAULT_SCENARIO = Path("scenarios/week1-baseline.yaml")
STATE_FILE = "state.json"
# The agent stops before the receiver so that its last telemetry still lands.
STOP_ORDER = ("prometheus", "agent", "redis", "otlp_receiver")
# psutil reports start times rounded to the clock tick; a reused pid starts much later.
_START_TIME_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class ProcessEntry:
    """One background process: its role, pid, start time (epoch s, to spot pid reuse), URL."""

    role: str
    pid: int
    create_time_s: float
    url: str
    metrics_url: str | None = None


@dataclass(frozen=True)
class StackState:
    """What ``up`` leaves in the state file: its processes and every URL of the stack."""

    started_utc: str
    scenario: str
    telemetry: bool
    redis: bool
    processes: tuple[ProcessEntry, ...]
    urls: dict[str, str]

    def to_json(self) -> str:
        """The state as JSON text."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackState:
        """Read ``to_json``'s output back."""
        data = json.loads(text)
        processes = tuple(ProcessEntry(**entry) for entry in data.pop("processes"))
        return cls(processes=processes, **data)


def process_alive(entry: ProcessEntry) -> bool:
    """Whether the process of ``entry`` runs: same pid, same start time, not a zombie."""
    try:
        process = psutil.Process(entry.pid)
        same = abs(process.create_time() - entry.create_time_s) < _START_TIME_TOLERANCE_S
        return same and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def read_state(state_dir: Path) -> StackState | None:
    """The state file in ``state_dir``, or None when there is none; StackError if unreadable."""
    path = state_dir / STATE_FILE
    try:
        return StackState.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StackError(f"cannot read the stack state {path}: {exc}; remove it by hand") from exc


def _write_state(state_dir: Path, state: StackState) -> None:
    write_text_atomic(state_dir / STATE_FILE, state.to_json())


def _entries(embedded: EmbeddedStack) -> tuple[ProcessEntry, ...]:
    urls = {
        "agent": (embedded.agent_url, embedded.agent_metrics_url),
        "otlp_receiver": (embedded.otlp_url, embedded.otlp_metrics_url),
        "redis": (embedded.redis_url, None),
        "prometheus": (embedded.prometheus_url, None),
    }
    entries = []
    for role, pid in embedded.pids.items():
        url, metrics_url = urls[role]
        start_s = psutil.Process(pid).create_time()
        entries.append(ProcessEntry(role, pid, start_s, url or "", metrics_url))
    return tuple(entries)


def stack_up(
    scenario_path: Path,
    state_dir: Path,
    *,
    telemetry: bool | None = None,
    redis: bool | None = None,
    launch: Callable[..., EmbeddedStack] = launch_stack,
) -> StackState:
    """Start the stack detached, write its state file and return the state.

    StackError if a stack from this state directory still runs; a stale state file is replaced.
    """
    previous = read_state(state_dir)
    if previous is not None:
        running = [f"{p.role} (pid {p.pid})" for p in previous.processes if process_alive(p)]
        if running:
            raise StackError(
                f"a stack from {state_dir / STATE_FILE} is still running: {', '.join(running)}; "
                f"stop it with `edgeperf stack down --state-dir {state_dir}` first"
            )
    scenario = load_scenario(
        scenario_path, {"stand_in.telemetry": telemetry, "stand_in.redis": redis or None}
    )
    workdir = state_dir / "work"
    # Nothing of the previous stack runs (checked above); its logs and TSDB go.
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        embedded = launch(scenario, workdir, stack, with_prometheus=True)
        state = StackState(
            started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            scenario=str(scenario_path),
            telemetry=scenario.stand_in.telemetry,
            redis=scenario.stand_in.redis,
            processes=_entries(embedded),
            urls=embedded.urls(),
        )
        _write_state(state_dir, state)
        # Up and recorded: leave the processes running when this command exits.
        stack.pop_all()
    return state


def stack_status(state_dir: Path) -> list[tuple[ProcessEntry, bool]]:
    """Each process of the recorded stack and whether it is up; [] when none is recorded."""
    state = read_state(state_dir)
    if state is None:
        return []
    return [(entry, process_alive(entry)) for entry in state.processes]


def _wait_gone(entry: ProcessEntry, timeout_s: float) -> bool:
    # Not psutil's wait(): it waits for a zombie to be reaped, which init may do only seconds
    # later; an exited zombie is gone for our purposes.
    deadline_s = time.monotonic() + timeout_s
    while process_alive(entry):
        if time.monotonic() > deadline_s:
            return False
        time.sleep(0.02)
    return True


def _stop(entry: ProcessEntry, grace_s: float) -> None:
    if not process_alive(entry):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(entry.pid).terminate()
        if not _wait_gone(entry, grace_s):
            psutil.Process(entry.pid).kill()
            _wait_gone(entry, grace_s)


def stack_down(state_dir: Path, *, grace_s: float = STOP_GRACE_S) -> list[ProcessEntry]:
    """Stop the recorded stack (SIGTERM, SIGKILL after ``grace_s``), remove the state file.

    Returns the processes that were recorded; an absent state file stops nothing.
    """
    state = read_state(state_dir)
    if state is None:
        return []
    order = {role: index for index, role in enumerate(STOP_ORDER)}
    for entry in sorted(state.processes, key=lambda p: order.get(p.role, len(order))):
        _stop(entry, grace_s)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return list(state.processes)


def format_state(state: StackState, state_dir: Path) -> str:
    """What ``up`` prints: every URL, and how to use and stop the stack."""
    width = max(len(role) for role in state.urls)
    lines = [f"edgeperf: stack up (state: {state_dir / STATE_FILE})"]
    lines += [f"  {role:<{width}}  {url}" for role, url in state.urls.items()]
    agent, prometheus = state.urls["agent"], state.urls.get("prometheus", "")
    lines += [
        f"load it:  edgeperf run SCENARIO --host {agent} --prometheus {prometheus}",
        f"      or: locust -f loadtests/locustfile.py --host {agent}",
        f"stop it:  edgeperf stack down --state-dir {state_dir}",
    ]
    direct = state.urls.get("agent_direct")
    if direct:  # the gateway against its upstream: the agent's direct listener
        lines.insert(-1, f"      or: edgeperf gateway SCENARIO --direct {direct} --gateway {agent}")
    return "\n".join(lines)


def format_status(statuses: list[tuple[ProcessEntry, bool]]) -> str:
    """One line a process: role, up/down, pid, URL (and its metrics URL)."""
    if not statuses:
        return "no stack recorded; start one with `edgeperf stack up`"
    width = max((len(entry.role) for entry, _ in statuses), default=0)
    return "\n".join(
        f"{entry.role:<{width}}  {'up' if alive else 'down':<4}  pid {entry.pid:<7}  {entry.url}"
        + (f"  (metrics {entry.metrics_url})" if entry.metrics_url else "")
        for entry, alive in statuses
    )
