"""Network failures in plain words: "Prometheus at URL refused the connection", never library text.

``failure_phrase(exc)`` is the predicate of such a sentence (refused, timed out, no such host,
TLS, an HTTP status, reset); ``failure_sentence(subject, exc)`` puts the subject in front and
logs the library's full detail to the ``edgeperf`` logger, which a run writes to its
``harness.log`` (``loadtests.recording.harnesslog``).
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import ssl

import httpx
import requests

_log = logging.getLogger("edgeperf.failures")

_REFUSED = {errno.ECONNREFUSED}
_RESET = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}
_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}
_TIMEOUTS = (TimeoutError, requests.exceptions.Timeout, httpx.TimeoutException)
_NOT_HTTP = (http.client.HTTPException, httpx.ProtocolError)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it: causes, contexts, urllib3's ``reason``, args."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is known for known in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return seen


def _status(exc: BaseException) -> int | None:
    """The HTTP status of an error raised for a response (requests or httpx), else None."""
    code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def _errno_in(chain: list[BaseException], numbers: set[int]) -> bool:
    return any(isinstance(e, OSError) and e.errno in numbers for e in chain)


def failure_phrase(exc: BaseException, timeout_s: float | None = None) -> str:
    """What a server did, for a sentence whose subject names it: "refused the connection".

    The first rule that fits any exception in the chain wins, most specific first: an HTTP
    status, TLS, DNS, refused, closed, reset, no route, timed out, not HTTP; else the type.
    ``timeout_s`` is the timeout the caller set, for "did not answer within 5 s".
    """
    chain = _chain(exc)
    status = next((code for code in map(_status, chain) if code is not None), None)
    if status is not None:
        return f"answered HTTP {status}"
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return "presented a TLS certificate that could not be verified"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "failed the TLS handshake"
    lookups = [e.errno for e in chain if isinstance(e, socket.gaierror)]
    if lookups:  # EAI_AGAIN: the DNS server did not answer; others: the name does not exist
        return (
            "could not be looked up in DNS"
            if lookups[0] == socket.EAI_AGAIN
            else "has no such host"
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or _errno_in(chain, _REFUSED):
        return "refused the connection"
    closed = any(isinstance(e, http.client.RemoteDisconnected) for e in chain) or any(
        isinstance(e, httpx.RemoteProtocolError) and "disconnect" in str(e).lower() for e in chain
    )
    if closed:  # a FIN before any answer (RemoteDisconnected is also a ConnectionResetError)
        return "closed the connection without answering"
    if any(isinstance(e, ConnectionResetError) for e in chain) or _errno_in(chain, _RESET):
        return "reset the connection"
    if _errno_in(chain, _NO_ROUTE):
        return "cannot be reached (no route to the host)"
    if any(isinstance(e, _TIMEOUTS) for e in chain) or _errno_in(chain, {errno.ETIMEDOUT}):
        return f"did not answer within {timeout_s:g} s" if timeout_s else "did not answer in time"
    if any(isinstance(e, _NOT_HTTP) for e in chain):
        return "answered with something that is not valid HTTP"
    return f"failed ({type(exc).__name__})"


def failure_sentence(subject: str, exc: BaseException, timeout_s: float | None = None) -> str:
    """``subject`` and its failure as one sentence; the library's detail goes to the log."""
    sentence = f"{subject} {failure_phrase(exc, timeout_s)}"
    _log.info("%s; the detail:", sentence, exc_info=(type(exc), exc, exc.__traceback__))
    return sentence


def log_unexpected(sentence: str, exc: BaseException) -> str:
    """``sentence`` (about an error that is no network failure), its detail logged."""
    _log.info("%s; the detail:", sentence, exc_info=(type(exc), exc, exc.__traceback__))
    return sentence


__all__ = ["failure_phrase", "failure_sentence", "log_unexpected"]
