"""When we announce: refresh with jitter, fast topology changes, damping, cost pacing."""

from __future__ import annotations

import pytest

from meshnet.crypto.entropy import SeededEntropy
from meshnet.routing.announce import AnnounceScheduler, AnnounceTrigger
from meshnet.routing.config import RoutingConfig

CONFIG = RoutingConfig(initial_delay=0.0)  # timing rules after the first announcement


def scheduler() -> AnnounceScheduler:
    return AnnounceScheduler(config=CONFIG, entropy=SeededEntropy(1, "announce"))


def announce_due(s: AnnounceScheduler) -> float:
    due = s.due
    assert due is not None
    trigger = s.trigger(due)
    assert trigger is not None
    s.announced(trigger, due)
    return due


def test_nothing_is_due_until_asked() -> None:
    s = scheduler()
    assert s.due is None and s.trigger(1e9) is None


def test_first_request_is_due_at_once_then_refresh_follows() -> None:
    s = scheduler()
    s.request(AnnounceTrigger.TOPOLOGY, 5.0)
    assert s.trigger(5.0) is AnnounceTrigger.TOPOLOGY
    s.announced(AnnounceTrigger.TOPOLOGY, 5.0)
    due = s.due
    assert due is not None
    low = 5.0 + CONFIG.refresh_interval * (1 - CONFIG.refresh_jitter)
    assert low <= due <= 5.0 + CONFIG.refresh_interval
    assert s.trigger(due - 0.001) is None
    assert s.trigger(due) is AnnounceTrigger.REFRESH


def test_refresh_jitter_differs_between_nodes() -> None:
    dues = set()
    for seed in range(5):
        s = AnnounceScheduler(config=CONFIG, entropy=SeededEntropy(seed, "announce"))
        s.request(AnnounceTrigger.TOPOLOGY, 0.0)
        s.announced(AnnounceTrigger.TOPOLOGY, 0.0)
        dues.add(s.due)
    assert len(dues) == 5


def test_a_failure_in_a_quiet_network_is_announced_at_once() -> None:
    s = scheduler()
    s.request(AnnounceTrigger.TOPOLOGY, 0.0)
    s.announced(AnnounceTrigger.TOPOLOGY, 0.0)
    s.request(AnnounceTrigger.TOPOLOGY, 500.0)
    assert s.due == 500.0


def test_flapping_is_damped_exponentially_and_recovers() -> None:
    s = scheduler()
    gaps = []
    now = 0.0
    s.request(AnnounceTrigger.TOPOLOGY, now)
    last = announce_due(s)
    for _ in range(8):  # the link flaps continuously
        s.request(AnnounceTrigger.TOPOLOGY, last)
        due = announce_due(s)
        gaps.append(due - last)
        last = due
    assert gaps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    quiet = last + CONFIG.flap_reset
    s.request(AnnounceTrigger.TOPOLOGY, quiet)
    assert s.due == quiet  # a quiet minute later: fast again


def test_cost_changes_wait_for_the_cost_interval() -> None:
    s = scheduler()
    s.request(AnnounceTrigger.TOPOLOGY, 0.0)
    s.announced(AnnounceTrigger.TOPOLOGY, 0.0)
    s.request(AnnounceTrigger.COST, 10.0)
    assert s.due == CONFIG.cost_interval
    s.request(AnnounceTrigger.TOPOLOGY, 11.0)  # a topology change overtakes it
    assert s.due == 11.0
    assert s.trigger(11.0) is AnnounceTrigger.TOPOLOGY


def test_skipped_requests_are_forgotten() -> None:
    s = scheduler()
    s.request(AnnounceTrigger.TOPOLOGY, 0.0)
    s.skipped()
    assert s.due is None


@pytest.mark.parametrize("trigger", list(AnnounceTrigger))
def test_every_trigger_is_honoured(trigger: AnnounceTrigger) -> None:
    s = scheduler()
    s.request(trigger, 3.0)
    assert s.trigger(3.0) is trigger


def test_first_announcement_waits_to_gather_a_starting_nodes_links() -> None:
    config = RoutingConfig(initial_delay=1.0)
    s = AnnounceScheduler(config=config, entropy=SeededEntropy(1, "announce"))
    s.request(AnnounceTrigger.TOPOLOGY, 5.0)
    assert s.trigger(5.5) is None
    s.request(AnnounceTrigger.TOPOLOGY, 5.5)  # a second link comes up meanwhile
    assert s.due == 6.0
    assert s.trigger(6.0) is AnnounceTrigger.TOPOLOGY
