"""The run directory's ``harness.log``: the full detail behind the run's plain messages.

The terminal, the notes and the NO DATA reasons say in one sentence what failed where; the
library's own text and traceback go to the ``edgeperf`` logger, which this file receives while
a run is open. The file is only created when something is logged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

HARNESS_LOG_FILE = "harness.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def harness_log(run_dir: Path, logger_name: str = "edgeperf") -> Iterator[Path]:
    """Send ``logger_name`` at INFO and above to ``run_dir/harness.log`` inside the block."""
    path = run_dir / HARNESS_LOG_FILE
    logger = logging.getLogger(logger_name)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(_FORMAT))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the detail goes to the file, never to a handler on the terminal
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        handler.close()


__all__ = ["HARNESS_LOG_FILE", "harness_log"]
