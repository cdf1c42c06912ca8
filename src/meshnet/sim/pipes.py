"""``PipeMesh``: the pipes between the worker processes of a partitioned run.

Every ordered pair of workers has its own pipe (``os.pipe``, made before the workers
are forked; each process then closes the ends that are not its own, so a worker that
dies is seen as end of file). Messages are pickled values behind a 4-byte length, in
order on each pipe.

Once per window every worker sends one message to each other worker and reads one from
each (``exchange``): a one-way latency per window, not a round trip through a
coordinator. A worker never waits for one peer while another could be waiting for it:
``post`` queues a message and writes what the pipe takes at once (writes are
non-blocking), and every read finishes queued writes while it waits, so two workers
that both send more than a pipe holds cannot block each other. Bytes read past the
message asked for stay buffered for the next one (a peer may send its next message
before we have read all of the last); ``receive`` waits for the next message of one
peer, keeping those of others in order. Pipes are enlarged to 1 MiB where the system
allows, so that a write rarely has to wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import selectors
import struct
from collections import deque

from meshnet.errors import StateError

__all__ = ["PipeMesh", "make_pipes"]

_LENGTH = struct.Struct(">I")
_PIPE_SIZE = 1 << 20
_READ_SIZE = 1 << 16

Pipes = dict[tuple[int, int], tuple[int, int]]
"""``(sender, receiver) -> (read fd, write fd)`` for every ordered pair of workers."""


def make_pipes(workers: int) -> Pipes:
    """One pipe per ordered pair of workers."""
    pipes: Pipes = {}
    for sender in range(workers):
        for receiver in range(workers):
            if sender != receiver:
                read, write = os.pipe()
                with contextlib.suppress(OSError, AttributeError):
                    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
                pipes[(sender, receiver)] = (read, write)
    return pipes


class PipeMesh:
    """One worker's ends of the pipes: it writes to every peer and reads from every peer.

    Args:
        me: this worker's number.
        pipes: every pipe (``make_pipes``); the ends that are not ours are closed here.
    """

    def __init__(self, me: int, pipes: Pipes) -> None:
        self.me = me
        self._reads: dict[int, int] = {}
        self._writes: dict[int, int] = {}
        for (sender, receiver), (read, write) in pipes.items():
            if receiver == me:
                self._reads[sender] = read
                os.close(write)
            elif sender == me:
                self._writes[receiver] = write
                os.close(read)
            else:
                os.close(read)
                os.close(write)
        for fd in [*self._reads.values(), *self._writes.values()]:
            os.set_blocking(fd, False)
        self._out: dict[int, bytearray] = {peer: bytearray() for peer in self._writes}
        self._in: dict[int, bytearray] = {peer: bytearray() for peer in self._reads}
        self._held: deque[tuple[int, object]] = deque()
        self._ended: set[int] = set()  # peers whose pipe to us closed
        self._selector = selectors.DefaultSelector()
        self._wanted: dict[int, int] = {}  # fd -> events registered
        for read in self._reads.values():
            self._set_events(read, selectors.EVENT_READ)

    @property
    def peers(self) -> list[int]:
        """The other workers, in order."""
        return sorted(self._writes)

    def close(self) -> None:
        """Close our ends (idempotent)."""
        self._selector.close()
        for fd in [*self._reads.values(), *self._writes.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reads.clear()
        self._writes.clear()

    def exchange(self, messages: dict[int, object]) -> dict[int, object]:
        """Send ``messages[peer]`` to every peer and return the next message of each.

        Raises:
            StateError: a peer closed its pipe (it died) before its message came.
        """
        for peer, message in messages.items():
            if peer in self._writes:
                self.post(peer, message)
        return {peer: self.receive(peer) for peer in self.peers}

    def post(self, peer: int, message: object) -> None:
        """Queue ``message`` for ``peer`` and write what its pipe takes now."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._out[peer] += _LENGTH.pack(len(data))
        self._out[peer] += data
        self._write(peer)

    def send(self, peer: int, message: object) -> None:
        """Send ``message`` to ``peer``, waiting until it is all written."""
        self.post(peer, message)
        while self._out[peer] and peer in self._writes:
            self._wait()

    def send_quietly(self, message: object) -> None:
        """Send ``message`` to every peer whose pipe has room; never wait, never raise."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        for peer in self.peers:
            with contextlib.suppress(OSError):
                os.write(self._writes[peer], _LENGTH.pack(len(data)) + data)

    def receive(self, peer: int) -> object:
        """Wait for the next message from ``peer``; others' messages are kept for later.

        Raises:
            StateError: the peer's pipe closed before a whole message came.
        """
        while True:
            self._read_all()
            for k, (sender, message) in enumerate(self._held):
                if sender == peer:
                    del self._held[k]
                    return message
            if peer in self._ended:
                raise StateError(f"simulation worker {peer} ended without an answer")
            self._wait()

    # -- the bytes ---------------------------------------------------------------------

    def _set_events(self, fd: int, events: int) -> None:
        old = self._wanted.get(fd, 0)
        if events == old:
            return
        if not old:
            self._selector.register(fd, events)
        elif not events:
            self._selector.unregister(fd)
        else:
            self._selector.modify(fd, events)
        self._wanted[fd] = events

    def _write(self, peer: int) -> None:
        """Write what the pipe takes; wait for room later (``_wait``) if some is left."""
        out, fd = self._out[peer], self._writes.get(peer)
        if fd is None:
            out.clear()
            return
        try:
            written = os.write(fd, out) if out else 0
        except BlockingIOError:
            written = 0
        except BrokenPipeError:
            # The peer is gone. What it sent before it went (its error, say) is still
            # to be read, and reading tells the caller what happened.
            out.clear()
            written = 0
        del out[:written]
        self._set_events(fd, selectors.EVENT_WRITE if out else 0)

    def _read_all(self) -> None:
        """Read what every pipe holds now, and keep the whole messages."""
        for peer, fd in self._reads.items():
            if peer not in self._ended:
                self._read(peer, fd)

    def _read(self, peer: int, fd: int) -> None:
        buffer = self._in[peer]
        while True:
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                self._ended.add(peer)
                self._set_events(fd, 0)
                break
            buffer += chunk
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if len(buffer) < _LENGTH.size + length:
                break
            message: object = pickle.loads(buffer[_LENGTH.size : _LENGTH.size + length])
            del buffer[: _LENGTH.size + length]
            self._held.append((peer, message))

    def _wait(self) -> None:
        """Block until a pipe can be read or a queued write can go on, and do it."""
        for key, _ in self._selector.select():
            fd = key.fd
            for peer, write in self._writes.items():
                if write == fd:
                    self._write(peer)
            for peer, read in self._reads.items():
                if read == fd:
                    self._read(peer, read)
