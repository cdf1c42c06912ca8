"""The OpenAPI document, and a property-based run against it that must find no 5xx.

Schemathesis generates valid and invalid requests for every operation in the document
(the event stream excepted: it never ends) and sends them to a real daemon's loopback
TCP listener with its token. Each answer must be no 5xx, have a status and content type
the document lists, and match the documented schema. The node under test only dials
loopback (generated addresses elsewhere are refused before any packet leaves).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from tests.runtime.support import started

from meshnet.api.openapi import openapi_document
from meshnet.api.routes import ROUTES
from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError
from meshnet.node.events import PeerConnected
from meshnet.runtime.apiserver import ApiServer
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_endpoint

TOKEN = "fuzz-token"
BOUND = 30.0


def test_every_route_is_in_the_document_once() -> None:
    document = openapi_document()
    listed = [(path, method) for path, ops in document["paths"].items() for method in ops]
    assert sorted(listed) == sorted((r.path, r.method.lower()) for r in ROUTES)
    operations = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(set(operations)) == len(operations)
    for ops in document["paths"].values():
        for op in ops.values():
            assert "400" in op["responses"] and "401" in op["responses"]


class LoopbackOnly:
    """The driver, except that it refuses to dial anything but loopback."""

    def __init__(self, driver: NodeDriver) -> None:
        self.driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def connect(self, endpoint: str, *, expected_peer: NodeId | None = None) -> str:
        if parse_endpoint(endpoint).host not in ("127.0.0.1", "::1"):
            raise ConfigError("this test node dials loopback only")
        return self.driver.connect(endpoint, expected_peer=expected_peer)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A daemon (linked to a second node) serving on 127.0.0.1 in a background loop."""
    directory: Path = tmp_path_factory.mktemp("fuzz")
    loop = asyncio.new_event_loop()
    ready: list[Any] = []
    stop = threading.Event()

    async def serve() -> None:
        driver = await started("fuzz")
        other = await started("fuzz-other")
        server = ApiServer(
            driver,
            socket_path=directory / "api.sock",
            tcp_port=0,
            token=TOKEN,
            control=LoopbackOnly(driver),  # type: ignore[arg-type]
        )
        await server.start()
        sub = driver.subscribe(kinds=[PeerConnected])
        driver.connect(other.listening[0])
        await asyncio.wait_for(sub.get(), BOUND)
        sub.close()
        ready.append(server.tcp_address)
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.stop()
        await other.stop()
        await driver.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    for _ in range(int(BOUND / 0.05)):
        if ready or not thread.is_alive():
            break
        stop.wait(0.05)
    assert ready, "the daemon did not start"
    host, port = ready[0]
    try:
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        thread.join(BOUND)
        loop.close()


# A request body over the size limit is refused with 413 before its fields are read.
REJECTED = ["400", "401", "404", "405", "409", "413"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG).exclude(
    path="/v1/events"
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_never_get_a_5xx(case: Any, base_url: str) -> None:
    # Generated cases carry a random bearer token: swap in the real one, except where a
    # negative case removed the header on purpose (that request must then be refused).
    authorised = "Authorization" in (case.headers or {})
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {TOKEN}"} if authorised else None,
        checks=CHECKS,
        timeout=BOUND,
    )
