"""The base of the typed run result: a lenient, frozen record and the percentiles most groups hold.

See ``analysis.judging.result`` for how ``summary.json`` is read into records and written back.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)

# A measured number: NaN is written as null, so every figure may be None. Ints stay ints.
Num = int | float | None
_MAX_REPAIRS = 50  # lenient reading drops at most this many bad values, then gives up


def _drop_bad(data: dict[str, Any], errors: list[Any]) -> dict[str, Any]:
    """``data`` without the values ``errors`` point at: a bad list item or dict entry alone."""
    data = dict(data)
    for error in errors:
        loc = error.get("loc") or ()
        if not loc or loc[0] not in data:
            continue
        name, value = loc[0], data[loc[0]]
        if len(loc) >= 2 and isinstance(value, list) and isinstance(loc[1], int):
            data[name] = [v for i, v in enumerate(value) if i != loc[1]]
        elif len(loc) >= 2 and isinstance(value, dict) and loc[1] in value:
            data[name] = {k: v for k, v in value.items() if k != loc[1]}
        else:
            del data[name]
    return data


class Record(BaseModel):
    """Base of every part of the result: extra keys kept, defaults for missing ones, frozen."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _lenient(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        exact = bool((info.context or {}).get("exact"))
        for _ in range(_MAX_REPAIRS):
            try:
                record = handler(data)
                if exact and record.model_extra:  # a key the model does not name: renamed?
                    raise ValueError(
                        f"{cls.__name__} has no field for {sorted(record.model_extra)}"
                    )
                return record
            except ValidationError as exc:
                if exact or not isinstance(data, dict):
                    raise
                repaired = _drop_bad(data, exc.errors())
                if repaired == data:
                    raise
                data = repaired
        return handler(data)

    def empty(self) -> bool:
        """Whether the document had no keys at all here (``{}``)."""
        return not self.model_fields_set and not self.model_extra

    def provided(self, name: str) -> bool:
        """Whether the document had the key ``name`` (even as null); a misspelt name raises."""
        if name not in type(self).model_fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        return name in self.model_fields_set


class Percentiles(Record):
    """Percentiles in ms; each group has some of these (send lag: P50/P99/max, ...)."""

    p50: Num = None
    p90: Num = None
    p95: Num = None
    p99: Num = None
    p999: Num = None
    max: Num = None


__all__ = ["Num", "Percentiles", "Record"]
