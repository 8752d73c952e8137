"""Keep secrets out of every output: API keys, bearer tokens, URL credentials, secret env values.

The writer already replaces scenario header values with ``<redacted>``; this is the analysis' own
line of defence for text that reaches it another way (a target echoing a key in an error message,
credentials in a URL, a note quoting a header). ``Redactor.data`` walks JSON-like values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "<redacted>"
MIN_SECRET_CHARS = 8  # shorter environment values are too likely to be ordinary words or numbers
# Environment variable names whose values are treated as secrets.
SECRET_ENV_NAME = re.compile(
    r"(API[_-]?KEY|ACCESS[_-]?KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE[_-]?KEY)",
    re.IGNORECASE,
)
# (pattern, replacement) applied to every string, in order.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer x", "x-api-key=x", '"api_key": "x"' and the like
    (
        re.compile(
            r"""(?i)\b((?:proxy-)?authorization|x-api-key|api[-_]?key|access[-_]?token"""
            r"""|secret|password|token)(["']?\s*[:=]\s*["']?)(?!<redacted>)[^\s"',;&}]+"""
            r"""(?:[ \t]+(?!<redacted>)[A-Za-z0-9._~+/=-]{8,})?"""
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!<redacted>)[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + REDACTED),
    # OpenAI/Anthropic style keys and similar long prefixed tokens
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}"), REDACTED),
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]*@"), r"\1" + REDACTED + "@"),
)


def env_secrets(environ: Mapping[str, str]) -> frozenset[str]:
    """Values of environment variables whose names look like secrets (keys, tokens, passwords)."""
    return frozenset(
        value
        for name, value in environ.items()
        if SECRET_ENV_NAME.search(name) and len(value.strip()) >= MIN_SECRET_CHARS
    )


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values, then secret-looking patterns, with ``<redacted>``."""

    secrets: frozenset[str] = frozenset()

    def text(self, value: str) -> str:
        """``value`` with every secret replaced; idempotent."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def data(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) passed through ``text``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


__all__ = ["REDACTED", "Redactor", "env_secrets"]
