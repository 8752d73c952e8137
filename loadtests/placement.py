"""Where the generator and the embedded stack run: CPU affinity, so they stop competing by chance.

On a small machine the load generator and the stack it measures share cores, and the scheduler
moves them about: a generator descheduled for a millisecond sends late, an agent descheduled
serves late, and either shows up as target latency. ``auto`` gives the generator process(es)
their own core(s), the highest-numbered ones, and the embedded stack the rest (2 cores: 1 and 1;
4 cores: 1 and 3; with N generator processes, up to half the cores). ``off`` leaves placement to
the operating system; ``GEN:STACK`` names the CPUs, as in ``taskset`` lists (``1:0``,
``2-3:0-1``; ``1:`` pins only the generator, for an external target).

Children inherit the affinity of the thread that starts them, so the stack is pinned by starting
it inside ``stack_cpus()``; the generator by pinning every thread of this process afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.errors import HarnessError

AUTO, OFF, MANUAL, SHARED = "auto", "off", "manual", "shared"


class PlacementError(HarnessError):
    """A placement setting that does not fit this machine."""


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """``"0-2,5"`` → (0, 1, 2, 5); ValueError with the reason on bad syntax."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or range like 0-3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"{part!r} runs backwards")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def format_cpu_list(cpus: tuple[int, ...] | list[int] | set[int] | frozenset[int]) -> str:
    """(0, 1, 2, 5) → ``"0-2,5"``; empty → ``""``."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = prev = None
    for cpu in [*ordered, None]:
        if cpu is not None and prev is not None and cpu == prev + 1:
            prev = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = cpu
    return ",".join(parts)


def check_setting(value: str) -> str:
    """Validate the syntax of a ``load.placement`` value (the machine is checked at run time)."""
    text = value.strip()
    if text in (AUTO, OFF):
        return text
    generator, colon, stack = text.partition(":")
    if not colon:
        raise ValueError(
            f"{value!r} is not auto, off or GEN:STACK CPU lists (for example 1:0 or 2-3:0-1)"
        )
    gen_cpus, stack_cpus = parse_cpu_list(generator), parse_cpu_list(stack)
    if not gen_cpus and not stack_cpus:
        raise ValueError(f"{value!r} names no CPU; use off to leave placement to the system")
    if set(gen_cpus) & set(stack_cpus):
        both = format_cpu_list(set(gen_cpus) & set(stack_cpus))
        raise ValueError(f"{value!r} gives CPU {both} to both the generator and the stack")
    return text


@dataclass(frozen=True)
class Placement:
    """The decided CPU sets; an empty set means "not pinned"."""

    mode: str
    available: tuple[int, ...]
    generator: tuple[int, ...] = ()
    stack: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    processes: dict[str, str] = field(default_factory=dict)

    def stack_cpus(self) -> contextlib.AbstractContextManager[None]:
        """Processes started inside run on the stack's CPUs (this thread's affinity, restored)."""
        return pinned(self.stack)

    def pin_generator(self) -> None:
        """Move every thread of this process (and so its later children) to the generator CPUs."""
        if self.generator:
            set_process_affinity(self.generator)

    def release(self) -> None:
        """Give this process all the CPUs it could use at the start again."""
        if self.generator:
            set_process_affinity(self.available)

    def record(self, pids: Mapping[str, int]) -> Placement:
        """This placement with the CPUs each process really has now (read back, not assumed)."""
        seen = {"generator": format_cpu_list(os.sched_getaffinity(0))}
        for role, pid in pids.items():
            try:
                seen[role] = format_cpu_list(os.sched_getaffinity(pid))
            except OSError:
                seen[role] = "?"
        return Placement(self.mode, self.available, self.generator, self.stack, self.notes, seen)

    def as_dict(self) -> dict[str, Any]:
        """For metadata.json: CPU lists as ``taskset`` strings, "" where nothing is pinned."""
        return {
            "mode": self.mode,
            "available_cpus": format_cpu_list(self.available),
            "generator_cpus": format_cpu_list(self.generator),
            "stack_cpus": format_cpu_list(self.stack),
            "processes": dict(self.processes),
            "notes": list(self.notes),
        }


@contextlib.contextmanager
def pinned(cpus: tuple[int, ...]) -> Iterator[None]:
    """Processes started inside run on ``cpus`` (this thread's affinity, restored); () = as is."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def set_process_affinity(cpus: tuple[int, ...]) -> None:
    """Set the affinity of every thread of this process (``sched_setaffinity`` is per thread)."""
    tasks = Path("/proc/self/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            os.sched_setaffinity(tid, cpus)
    os.sched_setaffinity(0, cpus)


def available_cpus() -> tuple[int, ...]:
    """The CPUs this process may run on (its affinity, which containers and taskset narrow)."""
    if not hasattr(os, "sched_getaffinity"):
        return ()
    return tuple(sorted(os.sched_getaffinity(0)))


def decide(
    setting: str,
    *,
    embedded: bool,
    generator_processes: int,
    available: tuple[int, ...] | None = None,
) -> Placement:
    """The placement for a run: ``setting`` is auto, off or GEN:STACK (``load.placement``)."""
    cpus = available_cpus() if available is None else tuple(sorted(available))
    setting = setting.strip()
    if setting == OFF:
        return Placement(OFF, cpus)
    if not cpus:
        return Placement(OFF, cpus, notes=("this system cannot set CPU affinity; not pinned",))
    if setting == AUTO:
        return _auto(cpus, embedded=embedded, processes=max(1, generator_processes))
    generator, _, stack = setting.partition(":")
    gen, stk = parse_cpu_list(generator), parse_cpu_list(stack)
    missing = sorted((set(gen) | set(stk)) - set(cpus))
    if missing:
        raise PlacementError(
            f"load.placement {setting!r}: CPU {format_cpu_list(missing)} is not available here "
            f"(this process may use {format_cpu_list(cpus)})"
        )
    notes = []
    if stk and not embedded:
        notes.append("the target is external: the stack CPUs of load.placement are not used")
        stk = ()
    return Placement(MANUAL, cpus, gen, stk, tuple(notes))


def _auto(cpus: tuple[int, ...], *, embedded: bool, processes: int) -> Placement:
    if not embedded:  # the target's own placement is unknown; pin with GEN: when it is known
        return Placement(OFF, cpus)
    if len(cpus) < 2:
        note = (
            f"only {len(cpus)} CPU available: the generator and the embedded stack share it, "
            "so the latencies include their contention; use a machine with 2 or more cores"
        )
        return Placement(SHARED, cpus, notes=(note,))
    count = min(processes, len(cpus) // 2)
    generator, stack = cpus[-count:], cpus[:-count]
    notes = []
    if processes > count:
        notes.append(
            f"{processes} generator processes share {count} CPU(s) "
            f"({format_cpu_list(generator)}): at most half the CPUs go to the generator"
        )
    return Placement(AUTO, cpus, generator, stack, tuple(notes))


__all__ = [
    "AUTO",
    "MANUAL",
    "OFF",
    "SHARED",
    "Placement",
    "PlacementError",
    "available_cpus",
    "check_setting",
    "decide",
    "format_cpu_list",
    "parse_cpu_list",
    "pinned",
    "set_process_affinity",
]
