"""The optional L2 response cache: a real Redis shared by agents, behind each agent's L1."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from loadtests.errors import StackError

__all__ = ["KEY_PREFIX", "L2Cache", "RedisL2", "l2_key"]

KEY_PREFIX = "edge-agent:l2:"
ENTRY_TTL_S = 3600
# A slow Redis must degrade to misses, not hold requests: past this a lookup is an error.
COMMAND_TIMEOUT_S = 0.5


def l2_key(cache_key: str) -> str:
    """The Redis key of an L1 cache key: a fixed prefix and the SHA-256 of the key."""
    return KEY_PREFIX + hashlib.sha256(cache_key.encode()).hexdigest()


class L2Cache(Protocol):
    """What the app needs from a second-level cache; errors raise, the app counts them."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, body: bytes) -> None: ...

    async def close(self) -> None: ...


class RedisL2:
    """L2 on Redis through redis-py's asyncio client and its connection pool."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url

    @classmethod
    async def connect(cls, url: str) -> RedisL2:
        """A client for ``url`` (redis://host:port[/db]) that has answered PING; else StackError."""
        # Imported here so that an agent without --redis-url does not load redis-py.
        import redis.asyncio
        from redis.exceptions import RedisError

        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=COMMAND_TIMEOUT_S, socket_connect_timeout=COMMAND_TIMEOUT_S
        )
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise StackError(
                f"cannot reach the L2 cache at {url}: {exc}; start redis-server there "
                "or leave out --redis-url"
            ) from exc
        return cls(client, url)

    async def get(self, key: str) -> bytes | None:
        """The body stored under ``key``, or None."""
        body = await self._client.get(l2_key(key))
        return bytes(body) if body is not None else None

    async def put(self, key: str, body: bytes) -> None:
        """Store ``body`` under ``key`` for ENTRY_TTL_S seconds."""
        await self._client.set(l2_key(key), body, ex=ENTRY_TTL_S)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
