"""The local API server: aiohttp on a Unix socket (mode 0600) and, optionally, loopback TCP.

Theory of operation
-------------------
``ApiServer`` serves the route table of ``meshnet.api.routes`` over a ``NodeDriver``
(which implements ``meshnet.api.control.NodeControl``). For each request it checks the
query string and JSON body against the route's fields, calls the route's pure handler
(``meshnet.api.handlers``) and encodes its view (``meshnet.api.shapes``); the streaming
and text routes (events, metrics, the OpenAPI document) are served here.

Access. The Unix socket is the access check: it is bound under a umask of 0177, so it
is mode 0600 from its first instant, and only its owner (and root) can connect. A
stale socket file (nobody answers) is removed; if another daemon answers, the server
refuses to start. The TCP listener is for programs that cannot use a Unix socket: it
binds a loopback address only and every request must carry ``Authorization: Bearer
TOKEN`` (compared in constant time).

Failures. A bad request is a 4xx JSON error ``{"error", "message"}``; a route that does
not exist is 404 and a wrong method 405, both JSON too. A handler that raises anything
else is a bug: it is logged, counted (``api_internal_error`` in the driver's counters)
and answered 500, and the server keeps serving.

Events. Each ``GET /v1/events`` stream is a driver subscription with ``Overflow.DROP``:
a slow reader never holds the node back; what it missed is counted and reported in an
``EventsDropped`` event. ``stop()`` ends every stream before closing the listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import ipaddress
import json
import logging
import os
import secrets
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from meshnet.api.control import NodeControl
from meshnet.api.errors import ApiError
from meshnet.api.events import dropped_json, node_event_json, parse_kinds, subscribed_json
from meshnet.api.handlers import ApiHandlers, Petnames, Request, refusal
from meshnet.api.metrics import CONTENT_TYPE, render_metrics
from meshnet.api.openapi import openapi_document
from meshnet.api.routes import MAX_BODY, ROUTES, Route
from meshnet.api.shapes import encode, parse_fields
from meshnet.api.sse import format_comment, format_event
from meshnet.errors import ConfigError, LocalError, StateError
from meshnet.runtime.config import Config
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import Scheme, parse_endpoint
from meshnet.runtime.files import write_atomic
from meshnet.runtime.home import Home
from meshnet.runtime.msgstore import MessageStoreError
from meshnet.runtime.subscriptions import Overflow, Subscription

__all__ = ["ApiServer", "start_api"]

log = logging.getLogger(__name__)

_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class ApiServer:
    """Serves the local API for one driver.

    Args:
        driver: the running node.
        socket_path: where to create the Unix socket; None for no socket.
        tcp_port: serve on ``tcp_host:tcp_port`` too (0 picks a port); None for no TCP.
        tcp_host: a loopback address.
        token: the bearer token the TCP listener requires (required with TCP).
        petnames: returns the petnames in force (for naming nodes in requests).
        keepalive: seconds of silence after which an event stream sends a comment.
        event_queue: how many events a stream may fall behind before they are dropped.
        control: what the handlers act on (default: ``driver`` itself).
    """

    def __init__(
        self,
        driver: NodeDriver,
        *,
        socket_path: Path | None,
        tcp_port: int | None = None,
        tcp_host: str = "127.0.0.1",
        token: str | None = None,
        petnames: Petnames | None = None,
        keepalive: float = 15.0,
        event_queue: int = 256,
        control: NodeControl | None = None,
    ) -> None:
        if tcp_port is not None:
            if not token:
                raise ConfigError("the API's TCP listener needs a token")
            try:
                loopback = ipaddress.ip_address(tcp_host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ConfigError(f"the API listens on loopback only, not on {tcp_host!r}")
        self._driver = driver
        self._handlers = ApiHandlers(control or driver, petnames=petnames)
        self._socket_path = socket_path
        self._tcp = (tcp_host, tcp_port) if tcp_port is not None else None
        self._token = token
        self._keepalive = keepalive
        self._event_queue = event_queue
        self._runners: list[web.AppRunner] = []
        self._streams: set[Subscription] = set()
        self._tcp_address: tuple[str, int] | None = None
        self._document = json.dumps(openapi_document())
        self._bound_socket = False
        self._sockets: list[socket.socket] = []

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The TCP listener's (host, port), with the port actually bound."""
        return self._tcp_address

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket (and the TCP port) and start serving.

        Raises:
            StateError: another daemon answers on the socket.
            ConfigError: the socket path is unusable (too long, not a socket).
            OSError: binding failed (nothing stays open then).
        """
        try:
            if self._socket_path is not None:
                sock = _bind_unix(self._socket_path)
                self._sockets.append(sock)
                self._bound_socket = True
                runner = await self._runner(self._app(authenticate=False))
                await web.SockSite(runner, sock).start()
            if self._tcp is not None:
                family = socket.AF_INET6 if ":" in self._tcp[0] else socket.AF_INET
                tcp = socket.create_server(self._tcp, family=family, backlog=128)
                self._sockets.append(tcp)
                tcp.setblocking(False)
                host, port = tcp.getsockname()[:2]
                self._tcp_address = (str(host), int(port))
                runner = await self._runner(self._app(authenticate=True))
                await web.SockSite(runner, tcp).start()
        except BaseException:
            await self.stop()
            raise

    async def _runner(self, app: web.Application) -> web.AppRunner:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        return runner

    async def stop(self) -> None:
        """End every event stream, close the listeners and remove the socket file."""
        for sub in list(self._streams):
            sub.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        if self._bound_socket and self._socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
            self._bound_socket = False

    # -- the application -------------------------------------------------------------

    def _app(self, *, authenticate: bool) -> web.Application:
        middlewares = [self._errors]
        if authenticate:
            middlewares.append(self._authenticate)
        app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
        for route in ROUTES:
            app.router.add_route(route.method, route.path, self._serve(route))
        return app

    def _serve(self, route: Route) -> _Handler:
        if route.kind == "events":

            async def events(request: web.Request) -> web.StreamResponse:
                return await self._events(route, request)

            return events
        if route.kind == "metrics":
            return self._metrics
        if route.kind == "openapi":
            return self._openapi

        async def handle(request: web.Request) -> web.StreamResponse:
            values = _query(route, request)
            values |= parse_fields(route.path_params, dict(request.match_info), where="path")
            if route.body is not None:
                values |= parse_fields(route.body, await _body(request), where="body")
            assert route.handler is not None
            result = route.handler(self._handlers, Request(dict(request.match_info), values))
            if inspect.isawaitable(result):  # ping and trace wait for the network
                result = await result
            return _json(encode(result, route.response), status=route.status)

        return handle

    @web.middleware
    async def _errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.to_json(), exc.status)
        except MessageStoreError as exc:
            log.error("the message store failed: %s", exc)
            return _json({"error": "store_failed", "message": str(exc)}, 503)
        except LocalError as exc:
            error = refusal(exc)
            return _json(error.to_json(), error.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _STATUS_CODES.get(exc.status, "bad_request")
            message = f"{request.method} {request.path}: {exc.reason.lower()}"
            if exc.status == 413:
                message = f"the request body is over {MAX_BODY} bytes"
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return _json({"error": code, "message": message}, exc.status, headers)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            log.exception("the API handler for %s %s failed", request.method, request.path)
            self._driver.count("api_internal_error")
            return _json({"error": "internal", "message": "the daemon failed; see its log"}, 500)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        assert self._token is not None
        expected = self._token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return _json(
                {"error": "unauthorized", "message": "this listener needs Authorization: Bearer"},
                401,
                {"WWW-Authenticate": 'Bearer realm="meshnet"'},
            )
        return await handler(request)

    # -- streaming and text routes ---------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        _query(_route("metrics"), request)
        body = render_metrics(self._driver.status())
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        _query(_route("openapi"), request)
        return web.Response(text=self._document, content_type="application/json")

    async def _events(self, route: Route, request: web.Request) -> web.StreamResponse:
        kinds_text = _query(route, request).get("kinds")
        kinds = parse_kinds(kinds_text if isinstance(kinds_text, str) else None)
        sub = self._driver.subscribe(kinds=kinds, limit=self._event_queue, overflow=Overflow.DROP)
        self._streams.add(sub)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await response.write(format_event("Subscribed", subscribed_json(kinds)))
            sequence = reported = 0
            while True:
                try:
                    event = await asyncio.wait_for(sub.get(), self._keepalive)
                except TimeoutError:
                    await response.write(format_comment("keepalive"))
                    continue
                except StateError:
                    break  # the server or the driver stopped
                if sub.dropped > reported:
                    notice = dropped_json(sub.dropped - reported, sub.dropped)
                    await response.write(format_event("EventsDropped", notice))
                    reported = sub.dropped
                sequence += 1
                body = node_event_json(event)
                await response.write(format_event(body["event"], body, event_id=sequence))
        except ConnectionError:
            pass  # the client went away
        finally:
            sub.close()
            self._streams.discard(sub)
        return response


def _route(operation: str) -> Route:
    return next(route for route in ROUTES if route.operation == operation)


def _query(route: Route, request: web.Request) -> dict[str, object]:
    for name in request.query:
        if len(request.query.getall(name)) > 1:
            raise ApiError(400, "repeated_field", f"query field {name[:60]!r} is given twice")
    return parse_fields(route.query, dict(request.query), where="query", from_query=True)


async def _body(request: web.Request) -> dict[str, object]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the request body is over {MAX_BODY} bytes")
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return value


def _bind_unix(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from the start.

    A socket file nobody answers on is removed first; one a daemon answers on is left
    alone and the start refused.
    """
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise ConfigError(f"the API socket path {path} is over {_MAX_SOCKET_PATH} bytes")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise ConfigError(f"{path} exists and is not a socket; remove it or choose another")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its daemon is gone
        else:
            raise StateError(f"another daemon answers on {path}; stop it first")
        finally:
            probe.close()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(os.fspath(path))
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def start_api(driver: NodeDriver, home: Home, config: Config) -> ApiServer:
    """The daemon's API server as ``config`` asks (``[api]``), started.

    The socket is ``api.socket`` (relative paths are inside ``home``). With ``api.tcp``
    set, the server also listens there; its token is read from ``api.token_file``, or
    made (32 random bytes, URL-safe base64) and written there with mode 0600.

    Raises:
        StateError: another daemon answers on the socket.
        ConfigError, OSError: the socket, the port or the token file is unusable.
    """
    section = config.api
    tcp_host, tcp_port, token = "127.0.0.1", None, None
    if section.tcp:
        endpoint = parse_endpoint(section.tcp, default_scheme=Scheme.TCP)
        tcp_host = "127.0.0.1" if endpoint.host == "localhost" else endpoint.host
        tcp_port = endpoint.port
        token = _token(home.resolve(section.token_file))
    petnames = config.peers.petnames
    server = ApiServer(
        driver,
        socket_path=home.resolve(section.socket),
        tcp_port=tcp_port,
        tcp_host=tcp_host,
        token=token,
        petnames=lambda: petnames,
    )
    await server.start()
    return server


def _token(path: Path) -> str:
    """The bearer token in ``path``, created (mode 0600) when missing or empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        token = secrets.token_urlsafe(32)
        write_atomic(path, (token + "\n").encode())
    return token
