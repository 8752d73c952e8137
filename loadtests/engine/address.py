"""Where a Locust master listens, as users write it: HOST:PORT."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MasterAddress:
    """Where the master listens: ``HOST:PORT`` (``*`` or ``0.0.0.0`` for every interface)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str, field_name: str = "--master-bind") -> MasterAddress:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{field_name} {text!r}: expected HOST:PORT, e.g. 0.0.0.0:5557")
        return cls(host.strip("[]"), int(port))

    def connect_host(self) -> str:
        """The address a worker on this machine uses to reach it."""
        return "127.0.0.1" if self.host in ("*", "0.0.0.0") else self.host

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


__all__ = ["MasterAddress"]
