"""Open a report in headless Chromium over the DevTools pipe: check what a reader sees, shoot it.

The browser is the system's Chromium (Debian's ``chromium``; never a downloaded one), driven
through ``--remote-debugging-pipe`` (file descriptors 3 and 4, no network port at all). Usage:

    # a screenshot of the latest report:
    python -m analysis.outputs.browser REPORTS_DIR [--out PNG] [--dark]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from analysis.contract.atomic import write_atomic
from analysis.contract.schema import REPORT_FILE
from analysis.history.regressions import is_run_dir

BINARIES = ("chromium", "chromium-browser")
INSTALL_HINT = (
    "headless Chromium is needed to check and screenshot reports and was not found; install "
    "Debian's package: `sudo apt-get install -y chromium` (or `scripts/system-deps.sh chromium`), "
    "or set EDGEPERF_CHROMIUM to the browser binary"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
TIMEOUT_S = 60.0
WIDTH_PX = 1200
MAX_HEIGHT_PX = 20_000
_CHECK_JS = """(() => {
  const visible = el => { if (!el) return false; const r = el.getBoundingClientRect();
    const s = getComputedStyle(el); return r.width > 0 && r.height > 0 &&
    s.visibility !== 'hidden' && s.display !== 'none'; };
  const table = document.querySelector('table.verdicts');
  return {
    title: document.title,
    verdict_table: visible(table),
    verdict_rows: table ? table.tBodies[0].rows.length : 0,
    images: [...document.images].map(i => ({src: i.getAttribute('src'),
      loaded: i.complete && i.naturalWidth > 0, visible: visible(i)})),
    background: getComputedStyle(document.body).backgroundColor,
    color: getComputedStyle(document.body).color,
    scripts: document.scripts.length,
    pwned: window.__pwned === true,
    text: document.body.innerText,
  };
})()"""


class BrowserError(RuntimeError):
    """Chromium is missing, failed to start, or the page could not be loaded."""


@dataclass(frozen=True)
class PageCheck:
    """What a headless reader got: DOM facts, problems logged, every URL the page asked for."""

    dom: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def find_chromium(which: Callable[[str], str | None] = shutil.which) -> str:
    """The Chromium binary: $EDGEPERF_CHROMIUM, else chromium on PATH; BrowserError when none."""
    override = os.environ.get("EDGEPERF_CHROMIUM")
    for name in ([override] if override else []) + list(BINARIES):
        found = which(name)
        if found:
            return found
    raise BrowserError(INSTALL_HINT)


def _high_fd(fd: int) -> int:
    """A close-on-exec copy of ``fd`` numbered 10 or more, so it cannot clash with 3 and 4."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Process:
    """A spawned child: ``poll``, ``wait`` with a timeout, ``kill`` (by its own pid only)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.returncode = -signal.SIGKILL


class DevTools:
    """A Chrome DevTools Protocol session over the pipe: calls, and the events seen so far."""

    def __init__(self, proc: Process, to_browser: int, from_browser: int) -> None:
        self.proc, self._out, self._in = proc, to_browser, from_browser
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer within {TIMEOUT_S:g} s")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed the DevTools pipe (exit {self.proc.wait(2)})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str = "") -> dict[str, Any]:
        """Wait for an event (or take it if it already came) and return its params."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId", "") == session:
                    params: dict[str, Any] = self.events.pop(i).get("params", {})
                    return params
            self.events.append(self._read_message(deadline))


@contextlib.contextmanager
def chromium(binary: str | None = None) -> Iterator[DevTools]:
    """A headless Chromium with a throw-away profile, closed (and reaped) on exit."""
    binary = binary or find_chromium()
    with tempfile.TemporaryDirectory(prefix="edgeperf-chromium-") as profile:
        to_read, to_browser = os.pipe()
        from_browser, to_write = os.pipe()
        child_in, child_out = _high_fd(to_read), _high_fd(to_write)
        log = str(Path(profile) / "chromium.log")
        # --remote-debugging-pipe reads commands from fd 3 and writes to fd 4; every other
        # descriptor of ours is close-on-exec.
        actions = [
            (os.POSIX_SPAWN_DUP2, child_in, 3),
            (os.POSIX_SPAWN_DUP2, child_out, 4),
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        try:
            proc = Process(os.posix_spawn(binary, argv, dict(os.environ), file_actions=actions))
        finally:
            os.close(child_in)
            os.close(child_out)
        tools = DevTools(proc, to_browser, from_browser)
        try:
            yield tools
        except BrowserError as exc:
            tail = Path(log).read_text(errors="replace")[-2000:] if Path(log).exists() else ""
            raise BrowserError(f"{exc}\n--- chromium log (tail) ---\n{tail}") from None
        finally:
            with contextlib.suppress(BrowserError, OSError):
                tools.call("Browser.close")
            if proc.wait(10) is None:
                proc.kill()
            os.close(to_browser)
            os.close(from_browser)


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(handle: BinaryIO) -> None:
        handle.write(data)

    return write


def _problems(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(errors the page logged or threw, URLs it requested) from collected events."""
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url') or ''}".strip())
        elif method == "Network.loadingFailed":
            errors.append(f"failed to load: {params.get('errorText')} ({params.get('requestId')})")
        elif method == "Network.requestWillBeSent":
            requests.append(str(params.get("request", {}).get("url")))
    return errors, requests


def open_page(
    tools: DevTools, page: Path, *, dark: bool = False, screenshot: Path | None = None
) -> PageCheck:
    """Load ``page`` from disk in a new tab, check it and optionally write a full-page PNG."""
    target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})
    sid = session["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        tools.call(f"{domain}.enable", session=sid)
    metrics = {"width": WIDTH_PX, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    tools.call("Emulation.setDeviceMetricsOverride", metrics, sid)
    scheme = {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}
    tools.call("Emulation.setEmulatedMedia", {"features": [scheme]}, sid)
    tools.events.clear()
    navigated = tools.call("Page.navigate", {"url": page.resolve().as_uri()}, sid)
    if navigated.get("errorText"):
        raise BrowserError(f"cannot open {page}: {navigated['errorText']}")
    tools.wait_event("Page.loadEventFired", sid)
    result = tools.call("Runtime.evaluate", {"expression": _CHECK_JS, "returnByValue": True}, sid)
    dom = result.get("result", {}).get("value") or {}
    if screenshot is not None:
        size = tools.call("Page.getLayoutMetrics", session=sid)["cssContentSize"]
        height = min(int(size["height"]) + 1, MAX_HEIGHT_PX)
        clip = {"x": 0, "y": 0, "width": WIDTH_PX, "height": height, "scale": 1}
        shot = tools.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            sid,
        )
        write_atomic(screenshot, _writer(base64.b64decode(shot["data"])))
    errors, requests = _problems(tools.events)
    tools.call("Target.closeTarget", {"targetId": target})
    return PageCheck(dom, errors, requests)


def latest_report(reports_dir: Path) -> Path:
    """The report of the newest run folder (by its UTC stamp name) under ``reports_dir``."""
    runs = sorted(
        (p for p in reports_dir.iterdir() if is_run_dir(p) and (p / REPORT_FILE).is_file()),
        key=lambda p: p.name,
    )
    if not runs:
        raise BrowserError(f"no run folder with an {REPORT_FILE} under {reports_dir}")
    return runs[-1] / REPORT_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.outputs.browser", description=__doc__)
    parser.add_argument("reports_dir", type=Path, help="folder of run folders, or one report")
    parser.add_argument("--out", type=Path, help="PNG to write (default: REPORTS_DIR/latest.png)")
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    args = parser.parse_args(argv)
    try:
        page = args.reports_dir if args.reports_dir.is_file() else latest_report(args.reports_dir)
        default = "latest-dark.png" if args.dark else "latest.png"
        out = args.out or (args.reports_dir if args.reports_dir.is_dir() else page.parent) / default
        with chromium() as tools:
            check = open_page(tools, page, dark=args.dark, screenshot=out)
    except (BrowserError, OSError) as exc:
        print(f"edgeperf: error: {exc}", file=sys.stderr)
        return 2
    for problem in check.errors:
        print(f"edgeperf: the page logged: {problem}", file=sys.stderr)
    print(f"screenshot of {page}: {out}")
    return 1 if check.errors else 0


if __name__ == "__main__":
    sys.exit(main())
