"""EventHub, Subscription and Listener: filtering, bounded queues, backlog signals,
synchronous callbacks, closing."""

from __future__ import annotations

import asyncio

import pytest
from tests.runtime.support import identity, run

from meshnet.errors import StateError
from meshnet.ids import LinkId
from meshnet.node.events import NeighbourDataReceived, PeerDialFailed
from meshnet.runtime.subscriptions import EventHub, Overflow

PEER = identity(1, "peer").node_id


def data(i: int) -> NeighbourDataReceived:
    return NeighbourDataReceived(peer=PEER, link=LinkId(1), payload=bytes([i]))


def failed(i: int) -> PeerDialFailed:
    return PeerDialFailed(endpoint=f"tcp:127.0.0.1:{i}", reason="refused", retry_in=1.0)


def test_kinds_filter_and_order() -> None:
    signals: list[bool] = []
    hub = EventHub(signals.append)
    everything = hub.subscribe()
    only_data = hub.subscribe(kinds=[NeighbourDataReceived])
    for i in range(3):
        hub.publish(data(i))
        hub.publish(failed(i))
    assert [everything.get_nowait() for _ in range(6)] == [
        data(0),
        failed(0),
        data(1),
        failed(1),
        data(2),
        failed(2),
    ]
    assert [only_data.get_nowait() for _ in range(3)] == [data(0), data(1), data(2)]
    assert only_data.get_nowait() is None
    assert signals == []


@pytest.mark.parametrize("taking", ["get_nowait", "get"])
def test_pause_subscription_signals_backlog_until_half_drained(taking: str) -> None:
    # ``get`` takes an event inline (the reader's hot path) rather than through
    # ``get_nowait``: both must keep the same drained rule.
    signals: list[bool] = []
    hub = EventHub(signals.append)
    sub = hub.subscribe(limit=4)

    def take() -> object:
        if taking == "get":
            return run(sub.get())
        return sub.get_nowait()

    for i in range(6):  # over the limit: nothing is lost
        hub.publish(data(i))
    assert signals == [True] and len(sub) == 6
    for _ in range(3):
        take()
    assert signals == [True]  # still over half the limit
    take()
    assert signals == [True, False]
    assert [take() for _ in range(2)] == [data(4), data(5)]


def test_drop_subscription_counts_and_never_signals() -> None:
    signals: list[bool] = []
    hub = EventHub(signals.append)
    sub = hub.subscribe(limit=2, overflow=Overflow.DROP)
    for i in range(5):
        hub.publish(data(i))
    assert (len(sub), sub.dropped, signals) == (2, 3, [])
    with pytest.raises(ValueError, match="limit"):
        hub.subscribe(limit=0)


def test_closing_a_backlogged_subscription_resumes_reading() -> None:
    signals: list[bool] = []
    hub = EventHub(signals.append)
    sub = hub.subscribe(limit=1)
    hub.publish(data(0))
    sub.close()
    assert signals == [True, False]
    hub.publish(data(1))
    assert sub.get_nowait() == data(0)  # queued events stay readable
    assert sub.get_nowait() is None


def test_waiting_readers_wake_and_end() -> None:
    async def main() -> None:
        hub = EventHub(lambda _: None)
        sub = hub.subscribe()
        reader = asyncio.ensure_future(sub.wait_for(PeerDialFailed, lambda e: "9" in e.endpoint))
        await asyncio.sleep(0)
        hub.publish(data(1))
        hub.publish(failed(8))
        hub.publish(failed(9))
        assert await asyncio.wait_for(reader, 5) == failed(9)
        collected = asyncio.ensure_future(_collect(sub))
        await asyncio.sleep(0)
        hub.publish(data(2))
        hub.close()
        assert await asyncio.wait_for(collected, 5) == [data(2)]
        with pytest.raises(StateError, match="closed"):
            await sub.get()

    run(main())


async def _collect(sub: object) -> list[object]:
    return [event async for event in sub]  # type: ignore[attr-defined]


def test_listeners_are_called_at_once_before_subscriptions_see_the_event() -> None:
    hub = EventHub(lambda _: None)
    sub = hub.subscribe()
    seen: list[tuple[str, object, int]] = []
    hub.listen(lambda e: seen.append(("all", e, len(sub))))
    only_failed = hub.listen(lambda e: seen.append(("failed", e, len(sub))), kinds=[PeerDialFailed])
    hub.publish(data(0))
    hub.publish(failed(1))
    # called inside publish, before the subscription queued the event (queue length)
    assert seen == [("all", data(0), 0), ("all", failed(1), 1), ("failed", failed(1), 1)]
    only_failed.close()
    hub.publish(failed(2))
    assert seen[-1] == ("all", failed(2), 2) and len(seen) == 4
    assert [sub.get_nowait() for _ in range(3)] == [data(0), failed(1), failed(2)]


def test_a_raising_listener_is_reported_and_the_others_still_get_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[object] = []
    hub = EventHub(lambda _: None, errors.append)
    sub = hub.subscribe()

    def broken(event: object) -> None:
        raise RuntimeError("application bug")

    bad = hub.listen(broken)
    got: list[object] = []
    hub.listen(got.append)
    hub.publish(data(0))
    assert errors == [bad] and got == [data(0)] and sub.get_nowait() == data(0)
    assert "listener raised" in caplog.text


def test_a_listener_may_close_itself_or_add_another_while_called() -> None:
    hub = EventHub(lambda _: None)
    got: list[tuple[str, object]] = []

    def once(event: object) -> None:
        got.append(("once", event))
        first.close()
        hub.listen(lambda e: got.append(("later", e)))

    first = hub.listen(once)
    hub.publish(data(0))
    hub.publish(data(1))
    assert got == [("once", data(0)), ("later", data(1))]
    hub.close()
    hub.publish(data(2))
    assert len(got) == 2
