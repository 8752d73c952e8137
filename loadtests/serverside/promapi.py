"""Prometheus queries on prometheus-api-client: instant and range, failures as PrometheusError."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from loadtests.errors import PrometheusError
from loadtests.failures import failure_sentence, log_unexpected

# (promql, evaluation time in epoch seconds or None for now) -> [{"metric": {...}, "value": [t, v]}]
InstantQuery = Callable[[str, float | None], list[dict[str, Any]]]
# (promql, start, end, step_s) -> [{"metric": {...}, "values": [[t, v], ...]}]
RangeQuery = Callable[[str, datetime, datetime, float], list[dict[str, Any]]]
UNREACHABLE = "unreachable"


def _rejection(exc: PrometheusApiClientException, url: str) -> PrometheusError:
    """Turn the client's "HTTP Status Code N (b'{json}')" message into errorType and error.

    Prometheus's own JSON error (PromQL it cannot run) is kept as it says; any other answer
    becomes "Prometheus at URL answered HTTP N", with the body in the log.
    """
    text = str(exc)
    match = re.match(r"HTTP Status Code (\d+) \((b?)(['\"])(.*)\3\)$", text, re.S)
    if not match:
        rejected = log_unexpected(f"Prometheus at {url} rejected the query", exc)
        return PrometheusError(rejected, "error")
    status, raw = match.group(1), match.group(4)
    try:
        body = json.loads(raw.encode().decode("unicode_escape") if match.group(2) else raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        answered = log_unexpected(f"Prometheus at {url} answered HTTP {status}", exc)
        return PrometheusError(answered, f"http {status}")
    error_type = str(body.get("errorType") or f"http {status}")
    return PrometheusError(f"{error_type}: {body.get('error')}", error_type)


class PrometheusAPI:
    """Queries one Prometheus server through prometheus-api-client, failing fast and clearly.

    Retries are off (a dead server must not stall the run's end) and proxies from the
    environment are ignored: the servers this talks to are on loopback or named by the user.
    """

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        session = requests.Session()
        session.trust_env = False
        self._client = PrometheusConnect(
            url=self.url,
            disable_ssl=True,
            retry=Retry(total=0),
            session=session,
            timeout=timeout_s,  # type: ignore[arg-type]
        )

    def _call(self, query: Callable[[], Any]) -> Any:
        subject = f"Prometheus at {self.url}"
        try:
            return query()
        except requests.exceptions.RequestException as exc:  # refused, timed out, reset ...
            raise PrometheusError(
                failure_sentence(subject, exc, self.timeout_s), UNREACHABLE
            ) from None
        except PrometheusApiClientException as exc:
            raise _rejection(exc, self.url) from None
        except ValueError as exc:  # a 200 answer that is not Prometheus JSON
            raise PrometheusError(
                log_unexpected(f"{subject} answered, but not with Prometheus JSON", exc),
                "http 200",
            ) from None

    def instant(self, promql: str, at_s: float | None = None) -> list[dict[str, Any]]:
        """Evaluate ``promql`` at ``at_s`` (now when None); a scalar comes back as one series."""
        params = {} if at_s is None else {"time": f"{at_s:.3f}"}
        result = self._call(lambda: self._client.custom_query(promql, params=params))
        if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
            return [{"metric": {}, "value": result}]  # a scalar or string result
        return list(result or [])

    def range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[dict[str, Any]]:
        """Evaluate ``promql`` over [start, end] every ``step_s`` seconds."""
        result = self._call(
            lambda: self._client.custom_query_range(
                promql, start_time=start, end_time=end, step=f"{step_s:g}s"
            )
        )
        return list(result or [])

    def close(self) -> None:
        self._client._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["UNREACHABLE", "InstantQuery", "PrometheusAPI", "RangeQuery"]
