"""The one Jinja environment of every HTML page (run report, reports index, overhead experiment).

Templates live in ``analysis/templates``; everything from a run is autoescaped, and a name a
template uses but the view does not give is an error, not an empty string.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment of every page: autoescaping, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("analysis", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


__all__ = ["environment"]
