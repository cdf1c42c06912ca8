"""Every state rule of a link, in one table (h11's "Rule 1").

Theory of operation
-------------------
A link is one authenticated, encrypted hop to one neighbour. It lives in one of five
states; ``LinkHandshake`` owns the first two and builds a ``LinkConnection``, which owns
the rest (wsproto style)::

    INITIATING --response ok--> ESTABLISHED <--rekey done-- REKEYING
    RESPONDING --finish ok----> ESTABLISHED --rekey due---> REKEYING
    any state --close / timeout / transport lost / fatal error--> CLOSED

``TRANSITIONS`` maps every (state, input) pair to a verdict:

* ``ACCEPT``: handle the input; the next state is given.
* ``IGNORE``: the input is stale or duplicate here (a retransmitted handshake message,
  a frame after close); it is dropped and counted, the state does not change.
* ``REFUSE``: the caller asked for something impossible now (send on a closed link);
  a ``StateError`` is raised to the caller.

The table is total: a test walks every pair, so a new state or input cannot be added
without deciding what each pair means.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from meshnet.errors import StateError

__all__ = ["TRANSITIONS", "LinkInput", "LinkState", "Transition", "Verdict", "transition"]


class LinkState(enum.Enum):
    INITIATING = "initiating"  # we sent the first handshake message
    RESPONDING = "responding"  # we answered a first message, waiting for the third
    ESTABLISHED = "established"
    REKEYING = "rekeying"  # established, with a fresh handshake running inside it
    CLOSED = "closed"


class LinkInput(enum.Enum):
    INIT_RECEIVED = "init_received"  # a (re)transmitted first handshake message
    RESPONSE_RECEIVED = "response_received"
    FINISH_RECEIVED = "finish_received"
    FRAME_RECEIVED = "frame_received"  # an authenticated transport frame
    SEND_REQUESTED = "send_requested"  # the layer above wants to send a payload
    REKEY_DUE = "rekey_due"  # age or frame count says: replace the keys
    REKEY_COMPLETED = "rekey_completed"
    HANDSHAKE_TIMED_OUT = "handshake_timed_out"
    PEER_TIMED_OUT = "peer_timed_out"  # nothing heard for the dead-peer interval
    CLOSE_REQUESTED = "close_requested"  # local close
    CLOSE_RECEIVED = "close_received"  # the peer said goodbye
    TRANSPORT_LOST = "transport_lost"  # the carrier (socket, sim link) went away
    PROTOCOL_VIOLATED = "protocol_violated"  # fatal remote error (e.g. bad tag on a stream)


class Verdict(enum.Enum):
    ACCEPT = "accept"
    IGNORE = "ignore"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Transition:
    verdict: Verdict
    next_state: LinkState


S, I = LinkState, LinkInput  # noqa: E741 - short names keep the table readable
_A, _G, _R = Verdict.ACCEPT, Verdict.IGNORE, Verdict.REFUSE
_CLOSERS = (
    I.HANDSHAKE_TIMED_OUT,
    I.PEER_TIMED_OUT,
    I.CLOSE_REQUESTED,
    I.CLOSE_RECEIVED,
    I.TRANSPORT_LOST,
    I.PROTOCOL_VIOLATED,
)


def _build() -> dict[tuple[LinkState, LinkInput], Transition]:
    table: dict[tuple[LinkState, LinkInput], Transition] = {}

    def put(state: LinkState, inp: LinkInput, verdict: Verdict, nxt: LinkState) -> None:
        table[(state, inp)] = Transition(verdict, nxt)

    # Handshaking: only the next handshake message moves us on; data waits above us.
    put(S.INITIATING, I.INIT_RECEIVED, _G, S.INITIATING)
    put(S.INITIATING, I.RESPONSE_RECEIVED, _A, S.ESTABLISHED)
    put(S.INITIATING, I.FINISH_RECEIVED, _G, S.INITIATING)
    put(S.INITIATING, I.FRAME_RECEIVED, _G, S.INITIATING)
    put(S.INITIATING, I.SEND_REQUESTED, _R, S.INITIATING)
    put(S.INITIATING, I.REKEY_DUE, _G, S.INITIATING)
    put(S.INITIATING, I.REKEY_COMPLETED, _G, S.INITIATING)
    put(S.RESPONDING, I.INIT_RECEIVED, _A, S.RESPONDING)  # retransmitted init: resend response
    put(S.RESPONDING, I.RESPONSE_RECEIVED, _G, S.RESPONDING)
    put(S.RESPONDING, I.FINISH_RECEIVED, _A, S.ESTABLISHED)
    put(S.RESPONDING, I.FRAME_RECEIVED, _G, S.RESPONDING)
    put(S.RESPONDING, I.SEND_REQUESTED, _R, S.RESPONDING)
    put(S.RESPONDING, I.REKEY_DUE, _G, S.RESPONDING)
    put(S.RESPONDING, I.REKEY_COMPLETED, _G, S.RESPONDING)
    put(S.INITIATING, I.PEER_TIMED_OUT, _G, S.INITIATING)
    put(S.RESPONDING, I.PEER_TIMED_OUT, _G, S.RESPONDING)

    for state in (S.ESTABLISHED, S.REKEYING):
        put(state, I.INIT_RECEIVED, _G, state)
        put(state, I.RESPONSE_RECEIVED, _G, state)  # late duplicate of our handshake
        put(state, I.FINISH_RECEIVED, _G, state)
        put(state, I.FRAME_RECEIVED, _A, state)
        put(state, I.SEND_REQUESTED, _A, state)
    put(S.ESTABLISHED, I.REKEY_DUE, _A, S.REKEYING)
    put(S.ESTABLISHED, I.REKEY_COMPLETED, _G, S.ESTABLISHED)
    put(S.REKEYING, I.REKEY_DUE, _G, S.REKEYING)  # one rekey at a time
    put(S.REKEYING, I.REKEY_COMPLETED, _A, S.ESTABLISHED)

    for state in (S.INITIATING, S.RESPONDING, S.ESTABLISHED, S.REKEYING):
        for inp in _CLOSERS:
            if (state, inp) not in table:
                put(state, inp, _A, S.CLOSED)
    # Establishment does not time out as a handshake does; a rekey that stalls is
    # handled by the connection (it abandons the attempt, the old keys stay).
    put(S.ESTABLISHED, I.HANDSHAKE_TIMED_OUT, _G, S.ESTABLISHED)
    put(S.REKEYING, I.HANDSHAKE_TIMED_OUT, _A, S.ESTABLISHED)

    for inp in LinkInput:
        put(S.CLOSED, inp, _R if inp is I.SEND_REQUESTED else _G, S.CLOSED)
    return table


TRANSITIONS: dict[tuple[LinkState, LinkInput], Transition] = _build()


def transition(state: LinkState, inp: LinkInput) -> Transition:
    """Look up what ``inp`` does in ``state``; raise ``StateError`` for a refused command.

    Returns:
        The transition; callers act on ``ACCEPT`` and count ``IGNORE`` as a drop.

    Raises:
        StateError: the verdict is ``REFUSE`` (a local misuse, such as sending on a
            link that is not established).
    """
    result = TRANSITIONS[(state, inp)]
    if result.verdict is Verdict.REFUSE:
        raise StateError(f"cannot {inp.value.replace('_', ' ')} while link is {state.value}")
    return result
