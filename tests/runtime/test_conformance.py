"""The link conformance suite (tests/helpers/conformance.py) on every transport."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.helpers.conformance import CHECKS, Harness, MemoryHarness, RuntimeHarness
from tests.runtime.support import run

HARNESSES: dict[str, Callable[[], Harness]] = {
    "memory-datagram": lambda: MemoryHarness(datagram=True),
    "memory-stream": lambda: MemoryHarness(datagram=False),
    "tcp": lambda: RuntimeHarness("tcp"),
    "udp": lambda: RuntimeHarness("udp"),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("transport", sorted(HARNESSES))
def test_link_conformance(transport: str, check: str) -> None:
    async def main() -> None:
        harness = HARNESSES[transport]()
        try:
            await CHECKS[check](harness)
        finally:
            await harness.close()

    run(main())
