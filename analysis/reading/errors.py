"""The analysis package's exception: bad or unreadable run-directory content."""

from __future__ import annotations

from pathlib import Path


class RunDirError(ValueError):
    """A run directory that cannot be analysed; the message names the file, field and problem."""

    def __init__(self, path: Path | str, problem: str, field: str = "") -> None:
        self.path = Path(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: field '{field}'" if field else str(self.path)
        super().__init__(f"{where}: {problem}")


__all__ = ["RunDirError"]
