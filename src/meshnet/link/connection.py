"""``LinkConnection``: an established link: sealing, opening, probes, keepalives, timers.

What lives where: this module seals and opens TRANSPORT frames, dispatches inner
frames, runs the link's timers and reports its status; the key epochs and counters are
in ``epochs.py``, the rekey rules (a mixin, ``Rekeying``) in ``rekeying.py``, probe
and RTT bookkeeping in ``probes.py``, the reused buffers of large frames in
``sealbuffers.py``.

Theory of operation
-------------------
A connection holds up to three key epochs, each named by the index the peer puts in
its TRANSPORT frames: the *current* epoch (we send with it), the *previous* one (kept
for receiving only, ``old_keys_grace`` seconds after a rekey, so frames in flight are
not lost) and, during a rekey, the *pending* one (``rekeying.py``: a fresh handshake
inside the link). Keys older than ``reject_after_time`` close the link.

Timers. ``get_timer`` is the earliest of eight deadlines. Sending and receiving frames
only ever move deadlines later (the keepalive and dead-peer deadlines), so the hot
path leaves the deadline the manager holds as it was: early is safe, because
``handle_timer`` acts only on what is due and a premature call does nothing. Whatever
may move a deadline earlier (a probe outstanding, a rekey begun, retried, finished or
abandoned, old keys retired, ``handle_timer`` itself) sets ``timer_moved``, and the
manager asks ``get_timer`` again only then.

Authentication failures are drops on datagram links (anyone can send a datagram) and
fatal on stream links (a stream cannot be corrupted by accident under TCP's checks).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.errors import AuthenticationError, LocalError, RemoteError
from meshnet.ids import LinkId
from meshnet.link.config import LinkConfig
from meshnet.link.epochs import Counters, Epoch
from meshnet.link.events import (
    LinkClosed,
    LinkEvent,
    LinkMeasured,
    LinkPayloadReceived,
    payload_received,
)
from meshnet.link.messages import (
    CAPABILITY_PROBE_ECHOES,
    TRANSPORT_HEADER,
    Close,
    CloseReason,
    Data,
    FrameType,
    InnerFrame,
    InnerType,
    KeepAlive,
    Probe,
    ProbeEcho,
    ProbeWithEchoes,
    Rekey,
    decode_inner,
    encode_inner,
)
from meshnet.link.probes import Prober
from meshnet.link.rekeying import RekeyAttempt, Rekeying
from meshnet.link.sealbuffers import POOLED_MIN, Payload, SealBuffers
from meshnet.link.state import LinkInput, LinkState, Verdict, transition
from meshnet.link.status import LinkStatus
from meshnet.noise.authenticated import HandshakeResult
from meshnet.noise.functions import TAG_LEN
from meshnet.noise.replay import ReplayWindow
from meshnet.wire.framing import Frame
from meshnet.wire.headroom import Headroom, Outgoing

__all__ = ["LinkConnection", "Outbox"]

Outbox = list[tuple[LinkId, Frame]]
_HEADER_SIZE = TRANSPORT_HEADER.size
_COUNTER = struct.Struct(">Q")
_DATA = bytes([InnerType.DATA])
_DATA_CODE = int(InnerType.DATA)
_TRANSPORT_CODE = int(FrameType.TRANSPORT)
_PACK_HEADER = TRANSPORT_HEADER.pack

_CLOSE_INPUT = {
    CloseReason.PEER_TIMEOUT: LinkInput.PEER_TIMED_OUT,
    CloseReason.HANDSHAKE_TIMEOUT: LinkInput.HANDSHAKE_TIMED_OUT,
    CloseReason.TRANSPORT_LOST: LinkInput.TRANSPORT_LOST,
    CloseReason.PROTOCOL_ERROR: LinkInput.PROTOCOL_VIOLATED,
    CloseReason.AUTHENTICATION_FAILED: LinkInput.PROTOCOL_VIOLATED,
}


class LinkConnection(Rekeying):
    """An established, encrypted link to one neighbour (built by ``LinkHandshake``)."""

    def __init__(
        self,
        *,
        link: LinkId,
        identity: Identity,
        result: HandshakeResult,
        local_index: int,
        remote_index: int,
        outbound: bool,
        datagram: bool,
        config: LinkConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        extension: bytes,
        outbox: Outbox,
        events: deque[LinkEvent],
        finish_frame: bytes | None,
        now: float,
        allocate_index: Callable[[], int] | None = None,
        buffers: SealBuffers | None = None,
    ) -> None:
        self.link = link
        self.peer = result.peer
        self.peer_record = result.peer_record
        self.peer_extension = result.peer_extension
        self.outbound = outbound
        self.datagram = datagram
        self.state = LinkState.ESTABLISHED
        self.created = now
        self.endpoint = ""
        self.indices_version = 0
        self.timer_moved = True  # the deadline may be earlier than the one last reported
        self.counters = Counters()
        self._identity = identity
        self._config = config
        self._entropy = entropy
        # for rekeys; one attribute, not two: past 30 attributes an instance's dict stops
        # sharing its keys and grows from 0.3 to 1.6 KB (twice per link)
        self._rekey_with = (verifier, extension)
        self._outbox = outbox
        self._events = events
        self._allocate_index = allocate_index or self._random_index
        self._buffers = None if datagram else buffers  # fragments would copy anyway
        self._current = self._epoch(result, local_index, remote_index, now)
        self._previous: Epoch | None = None
        self._rekey: RekeyAttempt | None = None
        self._finish_frame = finish_frame  # initiator: resent until the peer is heard
        self._finish_delay = config.handshake_retry
        self._finish_at = now + self._finish_delay if finish_frame else None
        self._last_sent = now
        self._last_received = now
        self._prober = Prober(
            config=config,
            datagram=datagram,
            echoes=config.probe_echoes and bool(result.peer_capabilities & CAPABILITY_PROBE_ECHOES),
            now=now,
        )
        if finish_frame is not None:
            self._raw(finish_frame)
        else:  # responder: confirm at once so the initiator stops resending FINISH
            self._seal(encode_inner(KeepAlive()), now)

    # -- helpers ---------------------------------------------------------------------

    def _random_index(self) -> int:
        return int.from_bytes(self._entropy.random_bytes(4), "big") or 1

    def _epoch(self, result: HandshakeResult, local: int, remote: int, now: float) -> Epoch:
        replay = ReplayWindow(self._config.replay_window) if self.datagram else None
        return Epoch(local, remote, result.send, result.receive, replay, now)

    def _drop(self, reason: str, count: int = 1) -> None:
        drops = self.counters.drops
        drops[reason] = drops.get(reason, 0) + count

    def _raw(self, frame: bytes) -> None:
        self._outbox.append((self.link, frame))
        self.counters.bytes_sent += len(frame)
        self.counters.frames_sent += 1

    def _seal(self, inner: bytes | memoryview, now: float) -> None:
        epoch = self._current
        send = epoch.send
        header = _PACK_HEADER(_TRANSPORT_CODE, epoch.remote_index, send.next_counter)
        frame = header + send.encrypt(inner, header)[1]
        self._outbox.append((self.link, frame))
        counters = self.counters
        counters.bytes_sent += len(frame)
        counters.frames_sent += 1
        self._last_sent = now
        epoch.frames_sent += 1

    def _seal_into(self, buffers: SealBuffers, inner: bytes | memoryview, now: float) -> None:
        """``_seal`` for a large inner frame: sealed into a reused buffer (sealbuffers.py)."""
        epoch = self._current
        send = epoch.send
        header = _PACK_HEADER(_TRANSPORT_CODE, epoch.remote_index, send.next_counter)
        size = _HEADER_SIZE + len(inner) + TAG_LEN
        frame = buffers.take(size)
        frame[:_HEADER_SIZE] = header
        send.encrypt_into(inner, frame[_HEADER_SIZE:], header)
        self._outbox.append((self.link, frame))
        counters = self.counters
        counters.bytes_sent += size
        counters.frames_sent += 1
        self._last_sent = now
        epoch.frames_sent += 1

    def indices(self) -> tuple[int, ...]:
        """Our indices that the peer may address frames to, current first."""
        found = [self._current.local_index]
        if self._previous is not None:
            found.append(self._previous.local_index)
        if self._rekey is not None:
            found.append(self._rekey.local_index)
        return tuple(found)

    def _epoch_for(self, index: int) -> Epoch | None:
        if index == self._current.local_index:
            return self._current
        if self._previous is not None and index == self._previous.local_index:
            return self._previous
        rekey = self._rekey
        if rekey is not None and rekey.pending is not None and index == rekey.local_index:
            return rekey.pending
        return None

    # -- commands from above ---------------------------------------------------------

    def send_payload(self, payload: Payload | Outgoing, now: float, *, prefix: bytes = b"") -> None:
        """Seal ``prefix + payload`` into a DATA frame for the neighbour.

        The layer above puts its own type code in ``prefix`` rather than joining it to
        the payload itself: the DATA frame is then built with one copy of the payload.

        Raises:
            StateError: the link is closed.
            LocalError: the payload is larger than ``LinkConfig.max_payload``.
        """
        if self.state is not LinkState.ESTABLISHED:  # the table's ACCEPT, looked up quickly
            transition(self.state, LinkInput.SEND_REQUESTED)
        size = len(prefix) + len(payload)
        if size > self._config.max_payload:
            raise LocalError(
                f"payload of {size} bytes over the link limit {self._config.max_payload}"
            )
        buffers = self._buffers
        if isinstance(payload, Headroom):  # a routed packet: the inner type goes in front
            inner = (
                payload.view()
                if payload.prepend(_DATA + prefix)
                else _DATA + prefix + payload.view()
            )
            if buffers is not None and size >= POOLED_MIN:
                self._seal_into(buffers, inner, now)  # no assembly: it is in one piece
            else:
                self._seal(inner, now)
        elif buffers is not None and size >= POOLED_MIN:
            self._seal_into(buffers, buffers.plaintext(_DATA, prefix, payload), now)
        else:
            self._seal(b"".join((_DATA, prefix, payload)) if prefix else _DATA + payload, now)
        if self._current.frames_sent >= self._config.rekey_after_frames and self._rekey is None:
            self._start_rekey(now)

    def close(self, now: float, reason: CloseReason = CloseReason.NORMAL, detail: str = "") -> None:
        """Say goodbye to the neighbour (best effort) and close."""
        if self.state is LinkState.CLOSED:
            return
        self._seal(encode_inner(Close(reason, detail)), now)
        self._finish(reason, detail or reason.name.lower(), by_peer=False)

    def transport_lost(self) -> None:
        """The carrier went away; close without a goodbye."""
        self._finish(CloseReason.TRANSPORT_LOST, "transport lost", by_peer=False)

    def retire(self) -> None:
        """Erase every key without an event: a newer connection took over this link."""
        self.state = LinkState.CLOSED
        self._erase_keys()

    def _erase_keys(self) -> None:
        self._current.clear()
        if self._previous is not None:
            self._previous.clear()
            self._previous = None
        if self._rekey is not None and self._rekey.pending is not None:
            self._rekey.pending.clear()
        self._rekey = None
        self.indices_version += 1
        self.timer_moved = True

    def _finish(self, reason: CloseReason, detail: str, *, by_peer: bool) -> None:
        inp = (
            LinkInput.CLOSE_RECEIVED
            if by_peer
            else _CLOSE_INPUT.get(reason, LinkInput.CLOSE_REQUESTED)
        )
        if transition(self.state, inp).verdict is not Verdict.ACCEPT:
            return
        self.state = LinkState.CLOSED
        self._erase_keys()
        self._events.append(
            LinkClosed(
                link=self.link, peer=self.peer, reason=reason, detail=detail, by_peer=by_peer
            )
        )

    # -- bytes from below ------------------------------------------------------------

    def receive_transport(self, index: int, frame: bytes | memoryview, now: float) -> bool:
        """Open one TRANSPORT frame addressed to our ``index``, everything it causes
        queued (a DATA payload as a ``LinkPayloadReceived``).

        Returns:
            True when the frame authenticated (the caller may then move the link to
            the transport it came from: roaming).
        """
        opened = self.receive_data(index, frame, now)
        if opened is True or opened is False:
            return opened
        self.queue_payload(opened)
        return True

    def queue_payload(self, payload: memoryview) -> None:
        """Queue a payload ``receive_data`` handed back as a ``LinkPayloadReceived``."""
        self._events.append(payload_received(self.link, self.peer, payload))

    def receive_data(self, index: int, frame: bytes | memoryview, now: float) -> memoryview | bool:
        """``receive_transport``, a DATA frame's payload handed back instead of queued.

        Every check, the counters, replay and rekey rules are the same; only the
        payload is not wrapped in an event: the caller hands it on at once or queues it
        (``queue_payload``). It is a view of the opened frame (of the reused opening
        buffer when its first byte is ``lent``: valid until the next frame).

        Returns:
            A DATA frame's payload; else True when the frame authenticated (whatever
            it caused is queued), False when it was dropped.
        """
        if self.state is LinkState.CLOSED:
            self._drop("closed")
            return False
        current = self._current
        epoch = current if index == current.local_index else self._epoch_for(index)
        if epoch is None:
            self._drop("stale_index")
            return False
        counter = _COUNTER.unpack_from(frame, 5)[0]
        if epoch.replay is not None:
            if not epoch.replay.check(counter):
                self._drop("replay")
                return False
        elif counter != epoch.next_counter:
            self._fatal(CloseReason.PROTOCOL_ERROR, "frame counter out of sequence")
            return False
        view = memoryview(frame)  # the frame may be a view of the driver's read buffer:
        header = bytes(view[:_HEADER_SIZE])  # nothing of it is kept past this call
        body = view[_HEADER_SIZE:]
        buffers = self._buffers
        lent: memoryview | None = None  # a payload in the reused opening buffer
        plaintext = b""
        try:
            if buffers is not None and len(body) >= POOLED_MIN:
                opened = buffers.opened(len(body) - TAG_LEN)
                epoch.receive.decrypt_into(counter, body, opened, header)
                if opened[0] == _DATA_CODE and opened[1] in buffers.lent:
                    lent = opened[1:]
                else:
                    plaintext = bytes(opened)  # may be kept: a copy of its own
            else:
                plaintext = epoch.receive.decrypt(counter, body, header)
        except AuthenticationError:
            if epoch.replay is not None:
                self._drop("authentication")
                return False
            self._fatal(CloseReason.AUTHENTICATION_FAILED, "frame failed authentication")
            return False
        if epoch.replay is not None:
            epoch.replay.accept(counter)
        else:
            epoch.next_counter += 1
        counters = self.counters
        counters.bytes_received += len(frame)
        counters.frames_received += 1
        self._last_received = now
        if self._finish_frame is not None:
            self._finish_frame = self._finish_at = None
        rekey = self._rekey
        if rekey is not None and epoch is rekey.pending:
            self._switch_to(epoch, now)
        if lent is not None:  # the caller consumes it at once (LinkManager.lend_payloads)
            return lent
        if plaintext and plaintext[0] == _DATA_CODE:  # the hot path: no Data object
            return memoryview(plaintext)[1:]
        try:
            inner = decode_inner(plaintext)
        except RemoteError:
            self._drop("malformed_inner")
            return True
        self._dispatch(inner, now)
        return True

    def reconfirm(self, now: float) -> None:
        """The peer resent FINISH: it has not heard us yet, so send it a keepalive."""
        if self.state is not LinkState.CLOSED and not self.outbound:
            self._seal(encode_inner(KeepAlive()), now)

    def _fatal(self, reason: CloseReason, detail: str) -> None:
        self._drop(reason.name.lower())
        self._finish(reason, detail, by_peer=False)

    def _dispatch(self, inner: InnerFrame, now: float) -> None:
        if isinstance(inner, Data):
            self._events.append(
                LinkPayloadReceived(
                    link=self.link, peer=self.peer, payload=memoryview(inner.payload)
                )
            )
        elif isinstance(inner, ProbeWithEchoes):
            samples: list[float | None] = []
            early, unknown = self._prober.on_probe(inner, now, samples)
            if unknown:
                self._drop("unexpected_echo", unknown)
            self._report(samples)
            if early:
                self._send_probe(now)
        elif isinstance(inner, Probe):
            self._seal(encode_inner(ProbeEcho(inner.probe_id)), now)
        elif isinstance(inner, ProbeEcho):
            samples = []
            if not self._prober.on_echo(inner.probe_id, now, samples):
                self._drop("unexpected_echo")
            self._report(samples)
        elif isinstance(inner, Close):
            self._finish(
                inner.reason,
                f"peer closed: {inner.text or inner.reason.name.lower()}",
                by_peer=True,
            )
        elif isinstance(inner, Rekey):
            self._on_rekey(inner, now)

    # -- measurements ----------------------------------------------------------------

    @property
    def srtt(self) -> float | None:
        """Smoothed RTT in seconds (RFC 6298), None before the first sample."""
        return self._prober.srtt

    @property
    def rttvar(self) -> float | None:
        return self._prober.rttvar

    @property
    def loss(self) -> float:
        """Probe loss estimate (EWMA, datagram links only)."""
        return self._prober.loss

    @property
    def probe_echoes(self) -> bool:
        """Both ends speak PROBE_WITH_ECHOES (no PROBE_ECHO frames on this link)."""
        return self._prober.echoes

    def _send_probe(self, now: float) -> None:
        samples: list[float | None] = []
        self._seal(encode_inner(self._prober.probe(now, samples)), now)
        self._report(samples)
        self.timer_moved = True

    def _report(self, samples: list[float | None]) -> None:
        for rtt in samples:
            self._events.append(LinkMeasured(link=self.link, rtt=rtt, lost=rtt is None))

    # -- time ------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        if self.state is LinkState.CLOSED:
            return None
        config = self._config
        deadline = min(
            self._last_received + config.dead_peer_timeout,
            self._last_sent + config.keepalive_interval,
            self._prober.next_probe,
            self._current.started + config.reject_after_time,
        )
        rekey = self._rekey
        if rekey is None:
            deadline = min(deadline, self._rekey_due_at())
        else:
            deadline = min(deadline, rekey.started + config.handshake_timeout, rekey.retry_at)
        if self._previous is not None:
            deadline = min(deadline, self._previous.retired_at + config.old_keys_grace)
        if self._finish_at is not None:
            deadline = min(deadline, self._finish_at)
        lost_at = self._prober.loss_deadline()
        if lost_at is not None:
            deadline = min(deadline, lost_at)
        return deadline

    def handle_timer(self, now: float) -> None:
        self.timer_moved = True
        if self.state is LinkState.CLOSED:
            return
        config = self._config
        if now >= self._last_received + config.dead_peer_timeout:
            self._finish(CloseReason.PEER_TIMEOUT, "no frame from the peer", by_peer=False)
            return
        if now >= self._current.started + config.reject_after_time:
            self.close(now, CloseReason.PROTOCOL_ERROR, "keys could not be replaced in time")
            return
        samples: list[float | None] = []
        self._prober.expire(now, samples)
        self._report(samples)
        if self._previous is not None and now >= self._previous.retired_at + config.old_keys_grace:
            self._previous.clear()
            self._previous = None
            self.indices_version += 1
        if (
            self._finish_frame is not None
            and self._finish_at is not None
            and now >= self._finish_at
        ):
            self._raw(self._finish_frame)
            self._finish_delay *= 2
            self._finish_at = now + self._finish_delay
        self._rekey_timers(now)
        if now >= self._prober.next_probe:
            self._send_probe(now)
        if now >= self._last_sent + config.keepalive_interval:
            self._seal(encode_inner(KeepAlive()), now)

    # -- inspection ------------------------------------------------------------------

    def status(self, now: float) -> LinkStatus:
        counters = self.counters
        return LinkStatus(
            link=self.link,
            peer=str(self.peer),
            endpoint=self.endpoint,
            state=self.state.value,
            outbound=self.outbound,
            datagram=self.datagram,
            age=now - self.created,
            srtt=self.srtt,
            rttvar=self.rttvar,
            loss=self.loss,
            bytes_sent=counters.bytes_sent,
            bytes_received=counters.bytes_received,
            frames_sent=counters.frames_sent,
            frames_received=counters.frames_received,
            rekeys=counters.rekeys,
            key_age=now - self._current.started,
            drops=tuple(sorted(counters.drops.items())),
        )
