"""The link transition table: total, and every pair behaves as its verdict says."""

from __future__ import annotations

import itertools

import pytest

from meshnet.errors import StateError
from meshnet.link.state import TRANSITIONS, LinkInput, LinkState, Verdict, transition

ALL_PAIRS = list(itertools.product(LinkState, LinkInput))


def test_table_is_total() -> None:
    assert set(TRANSITIONS) == set(ALL_PAIRS)


@pytest.mark.parametrize(("state", "inp"), ALL_PAIRS, ids=lambda v: v.value)
def test_every_pair(state: LinkState, inp: LinkInput) -> None:
    entry = TRANSITIONS[(state, inp)]
    if entry.verdict is Verdict.REFUSE:
        with pytest.raises(StateError, match=state.value):
            transition(state, inp)
        assert entry.next_state is state
    else:
        result = transition(state, inp)
        assert result is entry
        if entry.verdict is Verdict.IGNORE:
            assert entry.next_state is state


def test_closed_is_terminal() -> None:
    for inp in LinkInput:
        assert TRANSITIONS[(LinkState.CLOSED, inp)].next_state is LinkState.CLOSED


def test_every_live_state_can_close() -> None:
    closers = (LinkInput.CLOSE_REQUESTED, LinkInput.CLOSE_RECEIVED, LinkInput.TRANSPORT_LOST)
    for state in LinkState:
        if state is LinkState.CLOSED:
            continue
        for inp in closers:
            assert TRANSITIONS[(state, inp)].next_state is LinkState.CLOSED


def test_only_established_links_send() -> None:
    senders = {
        s for s in LinkState if TRANSITIONS[(s, LinkInput.SEND_REQUESTED)].verdict is Verdict.ACCEPT
    }
    assert senders == {LinkState.ESTABLISHED, LinkState.REKEYING}


def test_handshake_completion_paths() -> None:
    assert (
        transition(LinkState.INITIATING, LinkInput.RESPONSE_RECEIVED).next_state
        is LinkState.ESTABLISHED
    )
    assert (
        transition(LinkState.RESPONDING, LinkInput.FINISH_RECEIVED).next_state
        is LinkState.ESTABLISHED
    )
    assert transition(LinkState.ESTABLISHED, LinkInput.REKEY_DUE).next_state is LinkState.REKEYING
    assert (
        transition(LinkState.REKEYING, LinkInput.REKEY_COMPLETED).next_state
        is LinkState.ESTABLISHED
    )
    assert (
        transition(LinkState.REKEYING, LinkInput.HANDSHAKE_TIMED_OUT).next_state
        is LinkState.ESTABLISHED
    )
