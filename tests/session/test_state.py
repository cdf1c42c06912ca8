"""The session and stream transition tables: total, and every pair behaves as its verdict says."""

from __future__ import annotations

import enum
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.errors import StateError
from meshnet.session.state import (
    RECV_TRANSITIONS,
    SEND_TRANSITIONS,
    SESSION_TRANSITIONS,
    RecvInput,
    RecvState,
    SendInput,
    SendState,
    SessionInput,
    SessionState,
    Transition,
    Verdict,
    recv_transition,
    send_transition,
    session_transition,
)

TABLES = [
    (SESSION_TRANSITIONS, SessionState, SessionInput, session_transition),
    (SEND_TRANSITIONS, SendState, SendInput, send_transition),
    (RECV_TRANSITIONS, RecvState, RecvInput, recv_transition),
]
ALL_PAIRS = [
    (table, state, inp, lookup)
    for table, states, inputs, lookup in TABLES
    for state, inp in itertools.product(states, inputs)
]


def _pair_id(value: object) -> str:
    return value.value if isinstance(value, enum.Enum) else ""


@pytest.mark.parametrize("table", [t for t, *_ in TABLES], ids=["session", "send", "recv"])
def test_tables_are_total(table: dict[tuple[enum.Enum, enum.Enum], Transition[enum.Enum]]) -> None:
    states = {s for s, _ in table}
    inputs = {i for _, i in table}
    assert set(table) == set(itertools.product(states, inputs))
    state_type = type(next(iter(states)))
    assert states == set(state_type)


@pytest.mark.parametrize(("table", "state", "inp", "lookup"), ALL_PAIRS, ids=_pair_id)
def test_every_pair(table, state, inp, lookup) -> None:  # type: ignore[no-untyped-def]
    entry = table[(state, inp)]
    if entry.verdict is Verdict.REFUSE:
        with pytest.raises(StateError, match=state.value):
            lookup(state, inp)
        assert entry.next_state is state
        return
    assert lookup(state, inp) is entry
    if entry.verdict is Verdict.IGNORE:
        assert entry.next_state is state


@given(st.lists(st.sampled_from(list(SessionInput)), max_size=40))
def test_session_walks_stay_in_the_table(inputs: list[SessionInput]) -> None:
    state = SessionState.WAITING_RECORD
    for inp in inputs:
        entry = SESSION_TRANSITIONS[(state, inp)]
        if entry.verdict is Verdict.ACCEPT:
            state = entry.next_state
    assert state in SessionState


def test_closed_states_are_terminal() -> None:
    for inp in SessionInput:
        assert SESSION_TRANSITIONS[(SessionState.CLOSED, inp)].next_state is SessionState.CLOSED
    for state in (SendState.DATA_RECVD, SendState.RESET_RECVD):
        for send_input in SendInput:
            assert SEND_TRANSITIONS[(state, send_input)].next_state is state
    for recv_state in (RecvState.DATA_READ, RecvState.RESET_READ):
        for recv_input in RecvInput:
            assert RECV_TRANSITIONS[(recv_state, recv_input)].next_state is recv_state


def test_handshake_paths() -> None:
    s, i = SessionState, SessionInput
    assert session_transition(s.WAITING_RECORD, i.RECORD_FOUND).next_state is s.INITIATING
    assert session_transition(s.INITIATING, i.RESPONSE_RECEIVED).next_state is s.ESTABLISHED
    assert session_transition(s.RESPONDING, i.PACKET_RECEIVED).next_state is s.ESTABLISHED
    assert session_transition(s.ESTABLISHED, i.REKEY_STARTED).next_state is s.REKEYING
    assert session_transition(s.REKEYING, i.REKEY_ENDED).next_state is s.ESTABLISHED


def test_simultaneous_open_tie_break() -> None:
    s, i = SessionState, SessionInput
    # our INIT is out: the peer with the lower NodeId wins, the higher one is ignored
    assert session_transition(s.INITIATING, i.INIT_FROM_LOWER).next_state is s.RESPONDING
    assert session_transition(s.INITIATING, i.INIT_FROM_HIGHER).verdict is Verdict.IGNORE
    # without a record we cannot initiate: any INIT wins
    for inp in (i.INIT_FROM_LOWER, i.INIT_FROM_HIGHER):
        assert session_transition(s.WAITING_RECORD, inp).next_state is s.RESPONDING
        # an established session runs a replacement candidate beside itself
        entry = session_transition(s.ESTABLISHED, inp)
        assert (entry.verdict, entry.next_state) == (Verdict.ACCEPT, s.ESTABLISHED)


def test_only_live_sessions_take_application_data() -> None:
    takers = {
        state
        for state in SessionState
        if SESSION_TRANSITIONS[(state, SessionInput.SEND_REQUESTED)].verdict is Verdict.ACCEPT
    }
    assert takers == set(SessionState) - {SessionState.CLOSING, SessionState.CLOSED}


def test_established_sessions_say_goodbye_and_linger() -> None:
    s, i = SessionState, SessionInput
    for state in (s.ESTABLISHED, s.REKEYING):
        for inp in (i.CLOSE_REQUESTED, i.IDLE_TIMED_OUT, i.KEYS_EXPIRED, i.PROTOCOL_VIOLATED):
            assert session_transition(state, inp).next_state is s.CLOSING
        assert session_transition(state, i.CLOSE_RECEIVED).next_state is s.CLOSED
    assert session_transition(s.CLOSING, i.PACKET_RECEIVED).verdict is Verdict.ACCEPT
    assert session_transition(s.CLOSING, i.LINGER_ENDED).next_state is s.CLOSED


def test_stream_send_half() -> None:
    s, i = SendState, SendInput
    assert send_transition(s.READY, i.FRAME_SENT).next_state is s.SEND
    assert send_transition(s.SEND, i.APP_FINISH).next_state is s.DATA_SENT
    assert send_transition(s.DATA_SENT, i.ALL_ACKED).next_state is s.DATA_RECVD
    assert send_transition(s.SEND, i.STOP_RECEIVED).next_state is s.RESET_SENT
    assert send_transition(s.RESET_SENT, i.RESET_ACKED).next_state is s.RESET_RECVD
    for state in (s.DATA_SENT, s.DATA_RECVD, s.RESET_SENT, s.RESET_RECVD):
        with pytest.raises(StateError):
            send_transition(state, i.APP_WRITE)


def test_stream_receive_half() -> None:
    s, i = RecvState, RecvInput
    assert recv_transition(s.RECV, i.FIN_RECEIVED).next_state is s.SIZE_KNOWN
    assert recv_transition(s.SIZE_KNOWN, i.ALL_RECEIVED).next_state is s.DATA_RECVD
    assert recv_transition(s.DATA_RECVD, i.ALL_READ).next_state is s.DATA_READ
    assert recv_transition(s.RECV, i.RESET_RECEIVED).next_state is s.RESET_RECVD
    assert recv_transition(s.RESET_RECVD, i.RESET_DELIVERED).next_state is s.RESET_READ
    assert recv_transition(s.DATA_RECVD, i.RESET_RECEIVED).verdict is Verdict.IGNORE
