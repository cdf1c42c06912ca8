"""The local API server over a real Unix socket and loopback TCP, on real ``NodeDriver``s.

The client (``MeshClient``, blocking) runs in a worker thread while the event loop
serves; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.runtime.support import run, started

from meshnet.api.client import ApiError, DaemonNotRunning, MeshClient
from meshnet.api.routes import MAX_BODY
from meshnet.errors import StateError
from meshnet.node.events import NeighbourDataReceived, PeerConnected
from meshnet.runtime.apiserver import ApiServer
from meshnet.runtime.driver import NodeDriver

T = TypeVar("T")
WAIT = 20.0
TOKEN = "s3cret-token"


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), WAIT)


@asynccontextmanager
async def serving(
    directory: Path, **options: Any
) -> AsyncIterator[tuple[NodeDriver, ApiServer, MeshClient]]:
    driver = await started("api")
    server = ApiServer(driver, socket_path=directory / "api.sock", **options)
    await server.start()
    try:
        yield driver, server, MeshClient(directory / "api.sock", timeout=WAIT)
    finally:
        await server.stop()
        await driver.stop()


def raw_request(path: Path, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw HTTP bytes on the socket; the status and the JSON body of the answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.connect(os.fspath(path))
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_the_core_endpoints_over_the_unix_socket(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (driver, _, client):
            other = await started("other")
            try:
                me = str(driver.node.node_id)
                assert (await call(client.identity))["node_id"] == me
                sub = driver.subscribe(kinds=[PeerConnected])
                result = await call(client.connect, f"{other.node.node_id}@{other.listening[0]}")
                assert result == {
                    "endpoint": other.listening[0],
                    "expected_peer": str(other.node.node_id),
                }
                await asyncio.wait_for(sub.get(), WAIT)
                status = await call(client.status)
                assert (status["node_id"], status["links"], status["configured_peers"]) == (
                    me,
                    1,
                    1,
                )
                peers = (await call(client.peers))["peers"]
                assert [(p["node_id"], p["linked"]) for p in peers] == [
                    (str(other.node.node_id), True)
                ]
                links = (await call(client.links))["links"]
                assert [link["peer"] for link in links] == [str(other.node.node_id)]
                assert (await call(client.routes))["neighbours"][0]["peer"] == str(
                    other.node.node_id
                )
                assert (await call(client.sessions))["sessions"] == []
                prefix = str(other.node.node_id)[:10]
                assert (await call(client.disconnect, prefix)) == {
                    "disconnected": [other.listening[0]],
                    "link_closed": True,
                }
                with pytest.raises(ApiError) as caught:
                    await call(client.disconnect, prefix)
                assert caught.value.status == 404  # no longer configured (nor linked, nor known)
            finally:
                await other.stop()

    run(main())


def test_the_socket_is_0600_a_stale_one_is_replaced_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(path))  # bound, never listening: what a killed daemon leaves
    stale.close()

    async def main() -> None:
        async with serving(tmp_path) as (driver, _, client):
            mode = path.stat().st_mode
            assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
            assert (await call(client.status))["node_id"] == str(driver.node.node_id)
            second = ApiServer(driver, socket_path=path)
            with pytest.raises(StateError, match="another daemon answers"):
                await second.start()
            assert (await call(client.status))["links"] == 0  # the first one still serves
        assert not path.exists()  # removed at stop
        with pytest.raises(DaemonNotRunning, match="meshnet up"):
            await call(client.status)

    run(main())


def test_a_client_is_told_to_start_the_daemon_when_nobody_answers(tmp_path: Path) -> None:
    with pytest.raises(DaemonNotRunning, match="does not exist; start one with `meshnet up`"):
        MeshClient(tmp_path / "none.sock").status()
    dead = tmp_path / "dead.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.fspath(dead))
    sock.close()
    with pytest.raises(DaemonNotRunning, match="no daemon answers"):
        MeshClient(dead).status()


CONNECT_AS = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(sys.argv[1])
except PermissionError:
    print("refused")
else:
    print("connected")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root (CI)")
def test_another_user_is_refused_by_the_socket_mode() -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    # A directory anyone may enter, so the socket's own mode is the only barrier.
    directory = Path(tempfile.mkdtemp(prefix="meshnet-api-"))
    directory.chmod(0o755)

    def as_nobody() -> None:
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)

    def connect(preexec: Callable[[], None] | None) -> str:
        done = subprocess.run(
            ["/usr/bin/python3", "-c", CONNECT_AS, os.fspath(directory / "api.sock")],
            preexec_fn=preexec,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )
        return done.stdout.strip()

    async def main() -> None:
        async with serving(directory):
            assert await asyncio.to_thread(connect, as_nobody) == "refused"
            assert await asyncio.to_thread(connect, None) == "connected"  # the owner may

    try:
        run(main())
    finally:
        directory.rmdir()


def test_events_stream_live_and_filtered(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (driver, _, client):
            other = await started("other")
            loop = asyncio.get_running_loop()
            subscribed: asyncio.Future[None] = loop.create_future()

            def read() -> list[dict[str, Any]]:
                seen = []
                for event in client.events(["PeerConnected"]):
                    seen.append(event)
                    if event["event"] == "Subscribed":
                        loop.call_soon_threadsafe(subscribed.set_result, None)
                    else:
                        return seen
                return seen

            reader = asyncio.ensure_future(call(read))
            try:
                await asyncio.wait_for(subscribed, WAIT)
                driver.connect(other.listening[0])
                seen = await reader
            finally:
                await other.stop()
            assert seen[0] == {"event": "Subscribed", "kinds": ["PeerConnected"]}
            assert seen[1]["event"] == "PeerConnected"
            assert seen[1]["peer"] == str(other.node.node_id)

    run(main())


def test_a_slow_event_reader_loses_events_counted_and_never_stalls_the_node(
    tmp_path: Path,
) -> None:
    burst = 200

    async def main() -> None:
        async with serving(tmp_path, event_queue=4) as (driver, _, client):
            other = await started("other")
            loop = asyncio.get_running_loop()
            subscribed: asyncio.Future[None] = loop.create_future()

            def read() -> tuple[int, int]:
                received = total = 0
                for event in client.events(["NeighbourDataReceived"]):
                    if event["event"] == "Subscribed":
                        loop.call_soon_threadsafe(subscribed.set_result, None)
                    elif event["event"] == "EventsDropped":
                        total = event["total"]
                    else:
                        received += 1
                    if received + total >= burst:
                        break
                return received, total

            reader = asyncio.ensure_future(call(read))
            try:
                linked = driver.subscribe(kinds=[PeerConnected])
                data = driver.subscribe(kinds=[NeighbourDataReceived], limit=burst * 2)
                await asyncio.wait_for(subscribed, WAIT)
                other.connect(driver.listening[0])
                await asyncio.wait_for(linked.get(), WAIT)
                for index in range(burst):  # one burst: the stream's handler cannot run
                    other.send_to_neighbour(driver.node.node_id, b"x%d" % index)
                for _ in range(burst):
                    await asyncio.wait_for(data.get(), WAIT)  # the node took every one
                received, total = await reader
                assert not driver.status().reading_paused
            finally:
                await other.stop()
            assert total > 0 and received + total == burst

    run(main())


def test_bad_requests_get_a_json_4xx_saying_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"

    def post(target: str, body: bytes, extra: str = "") -> tuple[int, dict[str, Any]]:
        head = f"POST {target} HTTP/1.1\r\nHost: mesh\r\nContent-Length: {len(body)}\r\n"
        return raw_request(path, (head + extra + "Connection: close\r\n\r\n").encode() + body)

    def get(target: str) -> tuple[int, dict[str, Any]]:
        return raw_request(
            path, f"GET {target} HTTP/1.1\r\nHost: mesh\r\nConnection: close\r\n\r\n".encode()
        )

    cases: list[tuple[Callable[[], tuple[int, dict[str, Any]]], int, str]] = [
        (
            lambda: post("/v1/connect", b'{"address": "tcp:127.0.0.1:1", "x": 1}'),
            400,
            "unknown_field",
        ),
        (lambda: post("/v1/connect", b'{"address": 7}'), 400, "wrong_type"),
        (lambda: post("/v1/connect", b"{nope"), 400, "bad_json"),
        (lambda: post("/v1/connect", b"[1]"), 400, "bad_json"),
        (lambda: post("/v1/connect", b"{}"), 400, "missing_field"),
        (lambda: post("/v1/connect", b'{"address": "tcp:h:70000"}'), 400, "bad_address"),
        (lambda: post("/v1/disconnect", b'{"peer": "b@d"}'), 400, "bad_peer_name"),
        (lambda: post("/v1/connect", b"x" * (MAX_BODY + 1)), 413, "too_large"),
        (lambda: get("/v1/nothing"), 404, "not_found"),
        (lambda: get("/v1/status?verbose=1"), 400, "unknown_field"),
        (lambda: get("/v1/events?kinds=Nope"), 400, "unknown_event_kind"),
        (lambda: post("/v1/status", b"{}"), 405, "method_not_allowed"),
    ]

    async def main() -> None:
        async with serving(tmp_path):
            for request, want, code in cases:
                status, body = await call(request)
                assert (status, body["error"]) == (want, code), body
                assert body["message"]

    run(main())


def test_the_tcp_listener_needs_the_token(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path, tcp_port=0, token=TOKEN) as (driver, server, _):
            assert server.tcp_address is not None
            host, port = server.tcp_address
            assert host == "127.0.0.1"
            good = MeshClient.over_tcp(host, port, TOKEN, timeout=WAIT)
            assert (await call(good.identity))["node_id"] == str(driver.node.node_id)
            for token in ("wrong", ""):
                with pytest.raises(ApiError) as caught:
                    await call(MeshClient.over_tcp(host, port, token, timeout=WAIT).status)
                assert (caught.value.status, caught.value.code) == (401, "unauthorized")

    run(main())


def test_metrics_parse_as_prometheus_text(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (driver, _, client):
            other = await started("other")
            try:
                sub = driver.subscribe(kinds=[PeerConnected])
                driver.connect(other.listening[0])
                await asyncio.wait_for(sub.get(), WAIT)
                text = await call(client.metrics)
            finally:
                await other.stop()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["meshnet_links"].samples[0].value == 1
        assert families["meshnet_configured_peers"].samples[0].value == 1
        loss = families["meshnet_link_loss_ratio"].samples
        assert [s.labels["peer"] for s in loss] == [str(other.node.node_id)]
        assert families["meshnet_link_sent_bytes"].type == "counter"
        info = families["meshnet_info"].samples[0].labels
        assert info["node_id"] == str(driver.node.node_id)

    run(main())


def test_the_openapi_document_is_served_and_lists_every_route(tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(tmp_path) as (_, _, client):
            document = await call(client.openapi)
        assert document["openapi"] == "3.1.0"
        assert set(document["paths"]) >= {"/v1/status", "/v1/events", "/metrics"}

    run(main())
