"""Every state rule of sessions and streams, in three tables (h11's "Rule 1").

Theory of operation
-------------------
A *session* joins this node to one peer NodeId over routed packets (session.md §3)::

    WAITING_RECORD --record found--> INITIATING --response--> ESTABLISHED <--> REKEYING
          |                              |                          ^
          +------ peer's INIT -----------+--> RESPONDING --first packet on the new keys
    ESTABLISHED, REKEYING --close / idle / keys expired / violation--> CLOSING --linger-->
    CLOSED; handshaking states --timeout / close / violation--> CLOSED; the peer's CLOSE
    or a replacing session --> CLOSED from any live state

``WAITING_RECORD``: we want a session but have no identity record for the peer (Noise
IK needs its static key); data waits. ``INITIATING``: our INIT is out. ``RESPONDING``:
we answered a peer's INIT and wait for its first sealed packet, which confirms the keys
(a replayed INIT never gets that far). ``CLOSING``: we said CLOSE and keep the keys for
a short linger to answer stray packets with CLOSE again.

Simultaneous opens (session.md §3, item 5): a peer's INIT reaching a session that is itself
INITIATING is accepted only when the peer's NodeId is lower (``INIT_FROM_LOWER``); the
higher node's attempt yields, so both sides converge on one handshake. An INIT that
reaches an ESTABLISHED session is *accepted beside it*: the manager runs it as a
candidate that replaces the old session once confirmed (the peer restarted).

Streams follow QUIC (RFC 9000 §3) with one send and one receive half each:

* send: ``READY -> SEND -> DATA_SENT -> DATA_RECVD``, or ``-> RESET_SENT -> RESET_RECVD``;
  ``DATA_SENT`` starts when the application finishes the stream (no more writes).
* receive: ``RECV -> SIZE_KNOWN -> DATA_RECVD -> DATA_READ``, or ``-> RESET_RECVD ->
  RESET_READ``; ``*_READ`` means the application was told (terminal).

Each table maps every (state, input) pair to a verdict: ``ACCEPT`` (act; the next state
is given), ``IGNORE`` (stale or duplicate input: drop it, the state stays) or ``REFUSE``
(the caller asked for something impossible now: ``StateError``). The tables are total;
tests walk every pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from meshnet.errors import StateError

__all__ = [
    "RECV_TRANSITIONS",
    "SEND_TRANSITIONS",
    "SESSION_TRANSITIONS",
    "RecvInput",
    "RecvState",
    "SendInput",
    "SendState",
    "SessionInput",
    "SessionState",
    "Transition",
    "Verdict",
    "recv_transition",
    "send_transition",
    "session_transition",
]


class _Rule(enum.Enum):
    """An enum hashed by identity: the tables below are looked up with a (state, input)
    pair several times per packet, and ``Enum.__hash__`` is Python code (it hashes the
    member's name). Members are singletons compared by identity, so identity is a
    consistent hash; nothing iterates a set of them (dicts keep insertion order)."""

    __hash__ = object.__hash__


class Verdict(_Rule):
    ACCEPT = "accept"
    IGNORE = "ignore"
    REFUSE = "refuse"


S_ = TypeVar("S_", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class Transition(Generic[S_]):
    verdict: Verdict
    next_state: S_


_A, _G, _R = Verdict.ACCEPT, Verdict.IGNORE, Verdict.REFUSE

# -- sessions ----------------------------------------------------------------------------


class SessionState(_Rule):
    WAITING_RECORD = "waiting_record"  # no identity record for the peer yet; data queued
    INITIATING = "initiating"  # our INIT is out
    RESPONDING = "responding"  # we answered an INIT; waiting for the first sealed packet
    ESTABLISHED = "established"
    REKEYING = "rekeying"  # established, with a fresh handshake running inside it
    CLOSING = "closing"  # we sent CLOSE; lingering to repeat it
    CLOSED = "closed"


class SessionInput(_Rule):
    RECORD_FOUND = "record_found"  # lookup_record answered
    RECORD_TIMED_OUT = "record_timed_out"
    INIT_FROM_LOWER = "init_from_lower"  # a valid INIT from a peer whose NodeId is lower
    INIT_FROM_HIGHER = "init_from_higher"  # ... whose NodeId is higher than ours
    RESPONSE_RECEIVED = "response_received"  # a valid RESPONSE to our INIT
    PACKET_RECEIVED = "packet_received"  # an authenticated DATA packet
    SEND_REQUESTED = "send_requested"  # the application sends or opens a stream
    REKEY_STARTED = "rekey_started"  # either side began a fresh handshake inside
    REKEY_ENDED = "rekey_ended"  # the new keys are in use, or the attempt was abandoned
    HANDSHAKE_TIMED_OUT = "handshake_timed_out"
    IDLE_TIMED_OUT = "idle_timed_out"
    KEYS_EXPIRED = "keys_expired"  # keys older than reject_after_time
    CLOSE_REQUESTED = "close_requested"  # local close (or eviction)
    CLOSE_RECEIVED = "close_received"  # the peer's CLOSE frame
    PROTOCOL_VIOLATED = "protocol_violated"  # the peer broke a rule (flow control, ...)
    REPLACED = "replaced"  # a confirmed newer session with the same peer took over
    LINGER_ENDED = "linger_ended"


def _build_session() -> dict[tuple[SessionState, SessionInput], Transition[SessionState]]:
    S, I = SessionState, SessionInput  # noqa: E741, N806 - short names keep the table readable
    table: dict[tuple[SessionState, SessionInput], Transition[SessionState]] = {}

    def put(state: SessionState, inp: SessionInput, verdict: Verdict, nxt: SessionState) -> None:
        table[(state, inp)] = Transition(verdict, nxt)

    handshaking = (S.WAITING_RECORD, S.INITIATING, S.RESPONDING)
    established = (S.ESTABLISHED, S.REKEYING)
    for state in (*handshaking, *established):
        put(state, I.SEND_REQUESTED, _A, state)  # queued until the keys exist
        put(state, I.RECORD_FOUND, _G, state)
        put(state, I.RECORD_TIMED_OUT, _G, state)
        put(state, I.RESPONSE_RECEIVED, _G, state)
        put(state, I.REKEY_STARTED, _G, state)
        put(state, I.REKEY_ENDED, _G, state)
        put(state, I.REPLACED, _A, S.CLOSED)
        put(state, I.CLOSE_RECEIVED, _A, S.CLOSED)
    for state in handshaking:
        put(state, I.HANDSHAKE_TIMED_OUT, _A, S.CLOSED)
        put(state, I.IDLE_TIMED_OUT, _G, state)
        put(state, I.KEYS_EXPIRED, _G, state)
        put(state, I.CLOSE_REQUESTED, _A, S.CLOSED)  # nothing to say goodbye with
        put(state, I.PROTOCOL_VIOLATED, _A, S.CLOSED)
        put(state, I.PACKET_RECEIVED, _G, state)
        put(state, I.INIT_FROM_LOWER, _A, S.RESPONDING)
        put(state, I.INIT_FROM_HIGHER, _A, S.RESPONDING)
    put(S.WAITING_RECORD, I.RECORD_FOUND, _A, S.INITIATING)
    put(S.WAITING_RECORD, I.RECORD_TIMED_OUT, _A, S.CLOSED)
    put(S.INITIATING, I.INIT_FROM_HIGHER, _G, S.INITIATING)  # our attempt wins the tie
    put(S.INITIATING, I.RESPONSE_RECEIVED, _A, S.ESTABLISHED)
    put(S.RESPONDING, I.PACKET_RECEIVED, _A, S.ESTABLISHED)  # the keys are confirmed
    for state in established:
        put(state, I.PACKET_RECEIVED, _A, state)
        put(state, I.INIT_FROM_LOWER, _A, state)  # a replacement candidate runs beside
        put(state, I.INIT_FROM_HIGHER, _A, state)
        put(state, I.HANDSHAKE_TIMED_OUT, _G, state)
        put(state, I.IDLE_TIMED_OUT, _A, S.CLOSING)
        put(state, I.KEYS_EXPIRED, _A, S.CLOSING)
        put(state, I.CLOSE_REQUESTED, _A, S.CLOSING)
        put(state, I.PROTOCOL_VIOLATED, _A, S.CLOSING)
    put(S.ESTABLISHED, I.REKEY_STARTED, _A, S.REKEYING)
    put(S.REKEYING, I.REKEY_ENDED, _A, S.ESTABLISHED)
    for inp in SessionInput:
        for state in (*handshaking, *established):
            table.setdefault((state, inp), Transition(_G, state))
        closing = _R if inp is I.SEND_REQUESTED else _G
        put(S.CLOSING, inp, closing, S.CLOSING)
        put(S.CLOSED, inp, closing, S.CLOSED)
    put(S.CLOSING, I.PACKET_RECEIVED, _A, S.CLOSING)  # answer it with CLOSE again
    put(S.CLOSING, I.LINGER_ENDED, _A, S.CLOSED)
    put(S.CLOSING, I.CLOSE_RECEIVED, _A, S.CLOSED)
    return table


SESSION_TRANSITIONS = _build_session()

# -- streams, send half ------------------------------------------------------------------


class SendState(_Rule):
    READY = "ready"  # nothing sent yet
    SEND = "send"
    DATA_SENT = "data_sent"  # finished by the application: the FIN is queued or sent
    DATA_RECVD = "data_recvd"  # everything, FIN included, acknowledged (terminal)
    RESET_SENT = "reset_sent"
    RESET_RECVD = "reset_recvd"  # our RESET_STREAM acknowledged (terminal)


class SendInput(_Rule):
    APP_WRITE = "app_write"
    FRAME_SENT = "frame_sent"  # a STREAM frame went out
    APP_FINISH = "app_finish"  # the application closed its direction (FIN after data)
    ALL_ACKED = "all_acked"  # every byte and the FIN acknowledged
    APP_RESET = "app_reset"
    STOP_RECEIVED = "stop_received"  # the peer's STOP_SENDING
    RESET_ACKED = "reset_acked"


def _build_send() -> dict[tuple[SendState, SendInput], Transition[SendState]]:
    S, I = SendState, SendInput  # noqa: E741, N806
    table: dict[tuple[SendState, SendInput], Transition[SendState]] = {}
    for state in S:
        for inp in I:
            refused = inp is I.APP_WRITE and state not in (S.READY, S.SEND)
            table[(state, inp)] = Transition(_R if refused else _G, state)
    for state in (S.READY, S.SEND):
        table[(state, I.APP_WRITE)] = Transition(_A, state)
        table[(state, I.FRAME_SENT)] = Transition(_A, S.SEND)
        table[(state, I.APP_FINISH)] = Transition(_A, S.DATA_SENT)
    table[(S.DATA_SENT, I.FRAME_SENT)] = Transition(_A, S.DATA_SENT)
    table[(S.DATA_SENT, I.ALL_ACKED)] = Transition(_A, S.DATA_RECVD)
    for state in (S.READY, S.SEND, S.DATA_SENT):
        table[(state, I.APP_RESET)] = Transition(_A, S.RESET_SENT)
        table[(state, I.STOP_RECEIVED)] = Transition(_A, S.RESET_SENT)
    table[(S.RESET_SENT, I.RESET_ACKED)] = Transition(_A, S.RESET_RECVD)
    return table


SEND_TRANSITIONS = _build_send()

# -- streams, receive half ---------------------------------------------------------------


class RecvState(_Rule):
    RECV = "recv"
    SIZE_KNOWN = "size_known"  # the FIN (final size) arrived; gaps remain
    DATA_RECVD = "data_recvd"  # every byte up to the final size arrived
    DATA_READ = "data_read"  # the application was given the end of the stream (terminal)
    RESET_RECVD = "reset_recvd"
    RESET_READ = "reset_read"  # the application was told of the reset (terminal)


class RecvInput(_Rule):
    FRAME_RECEIVED = "frame_received"  # a STREAM frame without the FIN
    FIN_RECEIVED = "fin_received"  # a STREAM frame that fixes the final size
    ALL_RECEIVED = "all_received"  # no gap below the final size
    ALL_READ = "all_read"  # the end of the stream was handed to the application
    RESET_RECEIVED = "reset_received"
    RESET_DELIVERED = "reset_delivered"
    APP_STOP = "app_stop"  # the application abandoned reading


def _build_recv() -> dict[tuple[RecvState, RecvInput], Transition[RecvState]]:
    S, I = RecvState, RecvInput  # noqa: E741, N806
    table: dict[tuple[RecvState, RecvInput], Transition[RecvState]] = {
        (state, inp): Transition(_G, state) for state in S for inp in I
    }
    table[(S.RECV, I.FRAME_RECEIVED)] = Transition(_A, S.RECV)
    table[(S.RECV, I.FIN_RECEIVED)] = Transition(_A, S.SIZE_KNOWN)
    table[(S.SIZE_KNOWN, I.FRAME_RECEIVED)] = Transition(_A, S.SIZE_KNOWN)
    table[(S.SIZE_KNOWN, I.FIN_RECEIVED)] = Transition(_A, S.SIZE_KNOWN)  # check it matches
    table[(S.SIZE_KNOWN, I.ALL_RECEIVED)] = Transition(_A, S.DATA_RECVD)
    table[(S.DATA_RECVD, I.ALL_READ)] = Transition(_A, S.DATA_READ)
    for state in (S.RECV, S.SIZE_KNOWN):
        table[(state, I.RESET_RECEIVED)] = Transition(_A, S.RESET_RECVD)
    table[(S.RESET_RECVD, I.RESET_DELIVERED)] = Transition(_A, S.RESET_READ)
    for state in (S.RECV, S.SIZE_KNOWN, S.DATA_RECVD, S.RESET_RECVD):
        table[(state, I.APP_STOP)] = Transition(_A, S.RESET_READ)
    return table


RECV_TRANSITIONS = _build_recv()

# -- lookups -----------------------------------------------------------------------------


def _refused(what: str, inp: enum.Enum, state: enum.Enum) -> StateError:
    action = str(inp.value).replace("_", " ")
    return StateError(f"cannot {action} while {what} is {state.value}")


def session_transition(state: SessionState, inp: SessionInput) -> Transition[SessionState]:
    """What ``inp`` does to a session in ``state``.

    Raises:
        StateError: the verdict is ``REFUSE`` (e.g. sending on a closing session).
    """
    result = SESSION_TRANSITIONS[(state, inp)]
    if result.verdict is Verdict.REFUSE:
        raise _refused("session", inp, state)
    return result


def send_transition(state: SendState, inp: SendInput) -> Transition[SendState]:
    """What ``inp`` does to a stream's send half in ``state``.

    Raises:
        StateError: the verdict is ``REFUSE`` (writing after finishing or resetting).
    """
    result = SEND_TRANSITIONS[(state, inp)]
    if result.verdict is Verdict.REFUSE:
        raise _refused("stream", inp, state)
    return result


def recv_transition(state: RecvState, inp: RecvInput) -> Transition[RecvState]:
    """What ``inp`` does to a stream's receive half in ``state`` (never refused)."""
    return RECV_TRANSITIONS[(state, inp)]
