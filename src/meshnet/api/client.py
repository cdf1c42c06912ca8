"""``MeshClient``: the Python client of the local API (what the CLI and the shell use).

Standard library only (``http.client`` over ``AF_UNIX``), so ``meshnet status`` starts
fast. Each call opens one connection, sends one request and returns the decoded JSON:
plain dicts, lists and strings, exactly what ``docs/api.md`` shows. ``events()`` keeps
its connection open and yields the stream's events as dicts until the loop stops.

Errors: ``ApiError`` (a 4xx: the request was wrong; a ``LocalError``), ``DaemonError``
(a 5xx or a reply that is not the API's), ``DaemonNotRunning`` (no socket or nobody
answering: run ``meshnet up``), ``ApiConnectionError`` (other failures to reach it,
such as a socket that belongs to another user).

Example::

    client = MeshClient(Path("~/.local/state/meshnet/api.sock").expanduser())
    print(client.status()["links"])
    for event in client.events(["PeerConnected"]):
        print(event["peer"])
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from meshnet.api.errors import ApiConnectionError, ApiError, DaemonError, DaemonNotRunning
from meshnet.api.sse import SseParser

__all__ = ["ApiConnectionError", "ApiError", "DaemonError", "DaemonNotRunning", "MeshClient"]

JSON = Any
EVENTS_TIMEOUT = 60.0
"""Seconds an event stream may stay silent before the daemon is presumed gone (the
daemon sends a keepalive every 15 s)."""
_MAX_LINE = 1 << 20


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("mesh", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(os.fspath(self._path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class MeshClient:
    """A client of one daemon's API.

    Args:
        socket_path: the daemon's API socket.
        timeout: seconds to wait for an answer.
    """

    def __init__(self, socket_path: Path, *, timeout: float = 10.0) -> None:
        self.socket_path: Path | None = socket_path
        self.timeout = timeout
        self._tcp: tuple[str, int] | None = None
        self._token: str | None = None

    @classmethod
    def over_tcp(cls, host: str, port: int, token: str, *, timeout: float = 10.0) -> MeshClient:
        """A client of the daemon's loopback TCP listener, with its bearer token."""
        client = cls(Path(), timeout=timeout)
        client.socket_path = None
        client._tcp = (host, port)
        client._token = token
        return client

    @property
    def where(self) -> str:
        """The socket path or ``host:port`` this client talks to."""
        if self._tcp is not None:
            return f"{self._tcp[0]}:{self._tcp[1]}"
        return str(self.socket_path)

    # -- the API ---------------------------------------------------------------------

    def identity(self) -> JSON:
        return self._call("GET", "/v1/identity")

    def status(self) -> JSON:
        return self._call("GET", "/v1/status")

    def peers(self) -> JSON:
        return self._call("GET", "/v1/peers")

    def connect(self, address: str) -> JSON:
        """Keep a link to ``[NODE@]ENDPOINT``; returns ``{endpoint, expected_peer}``."""
        return self._call("POST", "/v1/connect", {"address": address})

    def disconnect(self, peer_or_endpoint: str) -> JSON:
        return self._call("POST", "/v1/disconnect", {"peer": peer_or_endpoint})

    def links(self) -> JSON:
        return self._call("GET", "/v1/links")

    def ping(self, peer: str, *, count: int = 3, timeout: float = 5.0) -> JSON:
        """End-to-end pings to ``peer``: ``{peer, sent, answered, samples, median}``."""
        payload = {"peer": peer, "count": count, "timeout": timeout}
        return self._call("POST", "/v1/ping", payload, wait=count * timeout)

    def trace(self, peer: str, *, timeout: float = 5.0) -> JSON:
        """Every node on the route to ``peer`` pinged: ``{destination, hops}``."""
        return self._call("POST", "/v1/trace", {"peer": peer, "timeout": timeout}, wait=timeout)

    def routes(self) -> JSON:
        return self._call("GET", "/v1/routes")

    def sessions(self) -> JSON:
        return self._call("GET", "/v1/sessions")

    def send_message(self, to: str, text: str, *, expires_in: float | None = None) -> JSON:
        """Send ``text`` to ``to``; returns once the daemon has stored it (the sent record)."""
        body: dict[str, JSON] = {"to": to, "text": text}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._call("POST", "/v1/messages", body)

    def send_bytes(self, to: str, body: bytes, *, expires_in: float | None = None) -> JSON:
        """Send a binary body (``body_base64``)."""
        payload: dict[str, JSON] = {"to": to, "body_base64": base64.b64encode(body).decode()}
        if expires_in is not None:
            payload["expires_in"] = expires_in
        return self._call("POST", "/v1/messages", payload)

    def inbox(self, *, peer: str | None = None, unread: bool = False, limit: int = 100) -> JSON:
        """``{"messages": [...]}``: messages delivered to this node, oldest first."""
        query: dict[str, str] = {"limit": str(limit)}
        if peer is not None:
            query["peer"] = peer
        if unread:
            query["unread"] = "true"
        return self._call("GET", "/v1/messages/inbox?" + urllib.parse.urlencode(query))

    def outbox(self, *, peer: str | None = None, limit: int = 100) -> JSON:
        """``{"messages": [...]}``: messages this node sent, in any state."""
        query: dict[str, str] = {"limit": str(limit)}
        if peer is not None:
            query["peer"] = peer
        return self._call("GET", "/v1/messages/outbox?" + urllib.parse.urlencode(query))

    def mark_read(self, message_id: str) -> JSON:
        return self._call("POST", f"/v1/messages/{_segment(message_id)}/read")

    def cancel_message(self, message_id: str) -> JSON:
        return self._call("DELETE", f"/v1/messages/{_segment(message_id)}")

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        status, body = self._request("GET", "/metrics")
        text = body.decode("utf-8", "replace")
        if status != 200:
            self._raise(status, body)
        return text

    def openapi(self) -> JSON:
        return self._call("GET", "/openapi.json")

    def events(self, kinds: Sequence[str] | None = None) -> Iterator[dict[str, JSON]]:
        """The daemon's live events, as dicts with an ``event`` key, until you stop.

        The first is ``{"event": "Subscribed"}``; ``EventsDropped`` says this reader
        fell behind and missed ``dropped`` events. The connection closes when the loop
        ends (``break``, or the generator is closed).
        """
        path = "/v1/events"
        if kinds:
            path += "?" + urllib.parse.urlencode({"kinds": ",".join(kinds)})
        conn = self._connection(max(self.timeout, EVENTS_TIMEOUT))
        try:
            response = self._send(conn, "GET", path, None)
            if response.status != 200:
                self._raise(response.status, response.read())
            parser = SseParser()
            while True:
                try:
                    line = response.readline(_MAX_LINE)
                except TimeoutError:
                    raise ApiConnectionError(
                        f"the event stream from {self.where} went silent"
                    ) from None
                if not line:
                    return  # the daemon closed the stream (it is stopping)
                try:
                    event = parser.feed_line(line)
                except ValueError as exc:
                    raise DaemonError(f"bad event stream: {exc}") from None
                if event is not None:
                    yield self._decode(event.data.encode())
        finally:
            conn.close()

    # -- plumbing --------------------------------------------------------------------

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._tcp is not None:
            return http.client.HTTPConnection(self._tcp[0], self._tcp[1], timeout=timeout)
        assert self.socket_path is not None
        return _UnixConnection(self.socket_path, timeout)

    def _send(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None
    ) -> http.client.HTTPResponse:
        headers = {"Accept": "application/json", "Host": "mesh"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse()
        except FileNotFoundError:
            raise DaemonNotRunning(
                f"no daemon: {self.where} does not exist; start one with `meshnet up`"
            ) from None
        except ConnectionRefusedError:
            raise DaemonNotRunning(
                f"no daemon answers on {self.where}; start one with `meshnet up`"
            ) from None
        except PermissionError:
            raise ApiConnectionError(
                f"permission denied on {self.where}: the API belongs to another user"
            ) from None
        except TimeoutError:
            raise ApiConnectionError(
                f"the daemon on {self.where} did not answer within {self.timeout:g} s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ApiConnectionError(f"cannot talk to the daemon on {self.where}: {exc}") from None

    def _request(
        self, method: str, path: str, payload: JSON = None, *, wait: float = 0.0
    ) -> tuple[int, bytes]:
        body = json.dumps(payload).encode() if payload is not None else None
        conn = self._connection(self.timeout + wait)
        try:
            response = self._send(conn, method, path, body)
            try:
                return response.status, response.read()
            except TimeoutError:
                raise ApiConnectionError(
                    f"the daemon on {self.where} did not answer within {self.timeout:g} s"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise ApiConnectionError(f"the daemon on {self.where} hung up: {exc}") from None
        finally:
            conn.close()

    def _call(self, method: str, path: str, payload: JSON = None, *, wait: float = 0.0) -> JSON:
        status, body = self._request(method, path, payload, wait=wait)
        if status >= 400:
            self._raise(status, body)
        return self._decode(body)

    @staticmethod
    def _decode(body: bytes) -> JSON:
        try:
            return json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise DaemonError(
                f"the daemon sent something that is not JSON: {body[:80]!r}"
            ) from None

    @staticmethod
    def _raise(status: int, body: bytes) -> None:
        try:
            error = json.loads(body)
            code, message = str(error["error"]), str(error["message"])
            candidates = [str(c) for c in error.get("candidates", [])]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise DaemonError(f"the daemon answered {status}: {body[:80]!r}") from None
        if 400 <= status < 500:
            raise ApiError(status, code, message, candidates=candidates)
        raise DaemonError(f"the daemon failed ({status} {code}): {message}")


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")
