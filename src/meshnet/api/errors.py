"""Errors of the local control API, shared by the handlers, the server and the client.

``ApiError`` is a request the daemon refused (a 4xx answer: unknown field, bad peer
name, body too large ...). It is a ``LocalError``: the caller is at fault, so the CLI
prints its one line and exits 2. ``DaemonError`` is the daemon failing (a 5xx answer or
a reply that is not the API's JSON). ``ApiConnectionError`` is not reaching the daemon
at all; ``DaemonNotRunning`` is its common case (no socket, or nobody answering).

On the wire an error is ``{"error": CODE, "message": TEXT}``, with ``candidates`` (the
matching node ids) when a peer name was ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshnet.errors import LocalError, MeshnetError

__all__ = ["ApiConnectionError", "ApiError", "DaemonError", "DaemonNotRunning"]


class ApiError(LocalError):
    """The daemon refused a request (HTTP 4xx) and said why.

    Args:
        status: the HTTP status (400 bad request, 404 unknown, 409 ambiguous ...).
        code: a stable machine-readable word (``unknown_field``, ``ambiguous_peer`` ...).
        message: one readable line saying what is wrong.
        candidates: for an ambiguous name, the node ids it matches.
    """

    def __init__(
        self, status: int, code: str, message: str, *, candidates: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.candidates = tuple(candidates)

    def to_json(self) -> dict[str, object]:
        """The error's body on the wire."""
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.candidates:
            body["candidates"] = list(self.candidates)
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


class DaemonError(MeshnetError):
    """The daemon failed to answer a request (HTTP 5xx, or a reply that is not JSON)."""


class ApiConnectionError(LocalError):
    """The API socket or port could not be reached (the message says why)."""


class DaemonNotRunning(ApiConnectionError):  # noqa: N818 (the CLI contract names it)
    """No daemon answers on the API socket: start one with ``meshnet up``."""
