"""End-to-end ping: a PING rides an ack-eliciting packet; its acknowledgement answers."""

from __future__ import annotations

import pytest
from tests.session.pair import Path, SessionPair

from meshnet.errors import LocalError, StateError
from meshnet.session.events import PingAnswered, SessionEstablished


def test_a_ping_opens_the_session_and_is_answered_with_the_path_round_trip() -> None:
    pair = SessionPair(seed=3, ab=Path(delay=0.05), ba=Path(delay=0.03))
    pair.publish()
    token = pair.a.manager.ping(pair.b.node_id, pair.now)
    assert pair.run(10.0, until=lambda: bool(pair.a.of(PingAnswered)))
    assert pair.a.of(SessionEstablished)
    (answer,) = pair.a.of(PingAnswered)
    assert (answer.peer, answer.token, answer.resent) == (pair.b.node_id, token, 0)
    # 50 ms there and 30 ms back; the peer's acknowledgement delay is taken off.
    assert answer.rtt == pytest.approx(0.08, abs=0.002)


def test_each_ping_gets_its_own_answer_and_tokens_differ() -> None:
    pair = SessionPair(seed=4)
    pair.publish()
    pair.establish()
    tokens = [pair.a.manager.ping(pair.b.node_id, pair.now) for _ in range(3)]
    assert len(set(tokens)) == 3
    assert pair.run(5.0, until=lambda: len(pair.a.of(PingAnswered)) == 3)
    assert sorted(e.token for e in pair.a.of(PingAnswered)) == sorted(tokens)


def test_a_lost_probe_is_sent_again_and_the_answer_says_so() -> None:
    pair = SessionPair(seed=5)
    pair.publish()
    pair.establish()
    pair.paths["a"].down = True
    token = pair.a.manager.ping(pair.b.node_id, pair.now)
    pair.run(1.5)  # the probe and its retransmissions are lost while the path is down
    assert not pair.a.of(PingAnswered)
    pair.paths["a"].down = False
    assert pair.run(20.0, until=lambda: bool(pair.a.of(PingAnswered)))
    (answer,) = pair.a.of(PingAnswered)
    assert answer.token == token and answer.resent >= 1
    assert answer.rtt < 1.0  # measured from the probe that got through, not the first


def test_pings_are_bounded_and_refused_to_ourselves() -> None:
    pair = SessionPair(seed=6)
    pair.publish()
    with pytest.raises(LocalError):
        pair.a.manager.ping(pair.a.node_id, pair.now)
    for _ in range(64):  # queued while the session handshakes
        pair.a.manager.ping(pair.b.node_id, pair.now)
    with pytest.raises(StateError, match="waiting already"):
        pair.a.manager.ping(pair.b.node_id, pair.now)
    assert pair.run(10.0, until=lambda: len(pair.a.of(PingAnswered)) == 64)
