"""The prometheus.yml of the embedded stack: one static target per job, scraped at /metrics."""

from __future__ import annotations

import re

import yaml

from loadtests.errors import StackError

__all__ = ["render_prometheus_config"]

_TARGET_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):\d{1,5}")


def _prometheus_duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def render_prometheus_config(scrape_targets: dict[str, str], scrape_interval_s: float) -> str:
    """prometheus.yml scraping each job's single ``host:port`` target at /metrics."""
    if not scrape_targets:
        raise StackError("start_prometheus needs at least one scrape target (job -> host:port)")
    for job, target in scrape_targets.items():
        if _TARGET_RE.fullmatch(target) is None:
            raise StackError(f"scrape target of job {job!r} must be 'host:port', got {target!r}")
    interval = _prometheus_duration(scrape_interval_s)
    # Prometheus refuses a scrape timeout longer than the interval; its default is 10 s.
    timeout = _prometheus_duration(min(scrape_interval_s, 10.0))
    config = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": timeout,
            "evaluation_interval": interval,
        },
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
            for job, target in scrape_targets.items()
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
