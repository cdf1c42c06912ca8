"""``PipeMesh``: the pipes between the worker processes of a partitioned run.

Every ordered pair of workers has its own pipe (``os.pipe``, made before the workers
are forked; each process then closes the ends that are not its own, so a worker that
dies is seen as end of file). Messages are pickled values behind a 4-byte length.

Once per window every worker sends one message to each other worker and reads one from
each (``exchange``): a one-way latency per window, not a round trip through a
coordinator. Writes are non-blocking, so two workers that both send more than a pipe
holds cannot block each other: a write that does not fit is finished while reading
(``selectors``). Pipes are enlarged to 1 MiB where the system allows, so that this
slow path is rare.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import selectors
import struct

from meshnet.errors import StateError

__all__ = ["PipeMesh", "make_pipes"]

_LENGTH = struct.Struct(">I")
_PIPE_SIZE = 1 << 20

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
        for write in self._writes.values():
            os.set_blocking(write, False)

    @property
    def peers(self) -> list[int]:
        """The other workers, in order."""
        return sorted(self._writes)

    def close(self) -> None:
        """Close our ends (idempotent)."""
        for fd in [*self._reads.values(), *self._writes.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reads.clear()
        self._writes.clear()

    def exchange(self, messages: dict[int, object]) -> dict[int, object]:
        """Send ``messages[peer]`` to every peer and return what every peer sent us.

        Raises:
            StateError: a peer closed its pipe (it died) before its message came.
        """
        pending = {
            peer: _frame(message) for peer, message in messages.items() if peer in self._writes
        }
        for peer in list(pending):
            self._write_some(peer, pending)
        if pending:
            return self._slow_exchange(pending)
        return {peer: self.receive(peer) for peer in self.peers}

    def send(self, peer: int, message: object) -> None:
        """Send one message to ``peer``, waiting while its pipe is full."""
        pending = {peer: _frame(message)}
        with selectors.DefaultSelector() as selector:
            selector.register(self._writes[peer], selectors.EVENT_WRITE)
            while self._write_some(peer, pending):
                selector.select()

    def send_quietly(self, message: object) -> None:
        """Send ``message`` to every peer whose pipe has room; never wait, never raise."""
        data = _frame(message)
        for peer in self.peers:
            with contextlib.suppress(OSError):
                os.write(self._writes[peer], data)

    def receive(self, peer: int) -> object:
        """Wait for the next message from ``peer``.

        Raises:
            StateError: the peer's pipe closed before a whole message came.
        """
        fd = self._reads[peer]
        (length,) = _LENGTH.unpack(self._read_exactly(peer, fd, _LENGTH.size))
        message: object = pickle.loads(self._read_exactly(peer, fd, length))
        return message

    def _read_exactly(self, peer: int, fd: int, size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            chunk = os.read(fd, size)
            if not chunk:
                raise StateError(f"simulation worker {peer} ended without an answer")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _write_some(self, peer: int, pending: dict[int, memoryview]) -> bool:
        """Write what the pipe takes; True while some of the message is left."""
        data = pending[peer]
        try:
            written = os.write(self._writes[peer], data)
        except BlockingIOError:
            return True
        except BrokenPipeError:
            # The peer is gone. What it sent before it went (its error, say) is still
            # to be read, and reading tells the caller what happened.
            del pending[peer]
            return False
        if written == len(data):
            del pending[peer]
            return False
        pending[peer] = data[written:]
        return True

    def _slow_exchange(self, pending: dict[int, memoryview]) -> dict[int, object]:
        """Finish writing while reading, so two full pipes cannot block each other."""
        received: dict[int, object] = {}
        buffers = {peer: bytearray() for peer in self.peers}
        with selectors.DefaultSelector() as selector:
            for peer in pending:
                selector.register(self._writes[peer], selectors.EVENT_WRITE, ("w", peer))
            for peer in self.peers:
                selector.register(self._reads[peer], selectors.EVENT_READ, ("r", peer))
            while pending or len(received) < len(buffers):
                for key, _ in selector.select():
                    way, peer = key.data
                    if way == "w":
                        if not self._write_some(peer, pending):
                            selector.unregister(key.fd)
                        continue
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        raise StateError(f"simulation worker {peer} ended without an answer")
                    buffer = buffers[peer]
                    buffer += chunk
                    message = _unframe(buffer)
                    if message is not None:
                        received[peer] = message
                        selector.unregister(key.fd)
        return received


def _frame(message: object) -> memoryview:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return memoryview(_LENGTH.pack(len(data)) + data)


def _unframe(buffer: bytearray) -> object | None:
    """The message in ``buffer`` once it is whole (exactly one message is expected)."""
    if len(buffer) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack_from(buffer)
    if len(buffer) < _LENGTH.size + length:
        return None
    if len(buffer) > _LENGTH.size + length:
        raise StateError("a simulation worker sent more than one message in a window")
    message: object = pickle.loads(buffer[_LENGTH.size :])
    return message
