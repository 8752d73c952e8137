"""The harness's exception tree: each error maps to an exit code of the run contract."""

from __future__ import annotations

from analysis.contract.statuses import (  # noqa: F401  (re-exported: the CLI's codes)
    EXIT_CANNOT_JUDGE,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
)


class HarnessError(Exception):
    """Base of the harness's own errors; the message says what, where and what to do."""

    exit_code = EXIT_CANNOT_JUDGE


class ScenarioError(HarnessError):
    """A scenario file or override is invalid (file, field and problem in the message)."""


class TargetUnreachable(HarnessError):
    """Before the load, the target did not accept a connection or failed its TLS handshake."""


class Interrupted(HarnessError):
    """Ctrl-C (SIGINT) before the load began: nothing was measured (the message says when)."""

    exit_code = EXIT_INTERRUPTED


class StackError(HarnessError):
    """The embedded stack (stand-in, Prometheus) could not be started."""


class OutputError(HarnessError):
    """The output folder cannot be written."""


class QueryRejected(ScenarioError):
    """Prometheus cannot parse a profile's or override's PromQL (metric and query named)."""


class PrometheusError(HarnessError):
    """Prometheus answered a query with an error, or did not answer (``error_type`` unreachable)."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type

    @property
    def unreachable(self) -> bool:
        return self.error_type == "unreachable"
