"""The Python ceiling for encrypted hops and relay chains (spawned by ``bench/relay.py``).

Plain asyncio processes on loopback TCP, no MeshNet code. Each hop has its own
ChaCha20-Poly1305 key; a frame is ``length (4 B) | header | sealed``, with ``header =
counter (8 B) | kind (1 B)`` as associated data and the nonce made of the direction
and the counter. It is the best plain Python does, so that MeshNet is compared with a
ceiling, not a strawman:

* reads go straight into one buffer per connection (``asyncio.BufferedProtocol``) and
  every frame is opened where it lies: no copy, and a frame cut by a read waits there
  for its tail (the unread tail moves to the front only when the buffer runs short);
* frames are opened with ``decrypt_into`` into one reused plaintext buffer, and sealed
  with ``encrypt_into`` straight after their length and header in one reused output
  buffer: no 64 KiB object is allocated (nor zero-filled by ``cryptography``) per frame.
  An output buffer is reused only when the transport took all of it (asyncio 3.12+ may
  keep a reference to what it could not send yet); otherwise a fresh one is made.

Roles:

* ``sink``: opens every frame; ``TOTAL`` (8-byte count) starts a bulk round, ``BULK``
  frames are counted and the last one answered by a sealed ``DONE``; ``ECHO`` is
  answered at once by a sealed ``DONE`` with the same bytes (round trips);
* ``relay --to PORT``: for each connection it accepts, connects to the next hop and
  forwards both ways, opening each frame with the incoming hop's key and sealing it
  again with the outgoing hop's (what a relay of an encrypted overlay must do at
  least). A slow next hop pauses reading from the previous one (bounded buffers).

The process prints ``tcp:127.0.0.1:PORT`` and serves until its stdin closes.

    python bench/support/sealed.py sink --hop 2
    python bench/support/sealed.py relay --hop 1 --to 40123
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HEADER = struct.Struct(">QB")
PREFIX = struct.Struct(">IQB")  # the length, then the header
BULK, TOTAL, ECHO, DONE = range(4)
FORWARD, BACKWARD = b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"
TAG = 16
MAX_FRAME = 1 << 20
HIGH_WATER = 1 << 20
READ_SIZE = 256 * 1024
READ_BUFFER = 4 * MAX_FRAME
KEEPS_VIEWS = sys.version_info >= (3, 12)


def hop_key(hop: int) -> bytes:
    """The key of hop ``hop`` (hop 0 leaves the sender)."""
    return bytes([hop + 1]) * 32


class Sealer:
    """Seals frames in one direction of one hop (its own counter) into a reused buffer."""

    def __init__(self, hop: int, direction: bytes) -> None:
        self.aead = ChaCha20Poly1305(hop_key(hop))
        self.direction = direction
        self.counter = 0
        self.out = bytearray(MAX_FRAME)
        self.used = 0

    def add(self, kind: int, plain: bytes | bytearray | memoryview) -> None:
        """Seal one frame after those added since the last ``take``."""
        start, size = self.used, PREFIX.size + len(plain) + TAG
        if start + size > len(self.out):
            self.out.extend(bytes(start + size - len(self.out)))
        counter = self.counter
        self.counter = counter + 1
        PREFIX.pack_into(self.out, start, size - 4, counter, kind)
        nonce = self.direction + counter.to_bytes(8, "little")
        with memoryview(self.out) as view:
            header = view[start + 4 : start + PREFIX.size]
            self.aead.encrypt_into(nonce, plain, header, view[start + PREFIX.size : start + size])
        self.used = start + size

    def take(self) -> memoryview:
        """The frames added so far, to write now (call ``written`` once written)."""
        used, self.used = self.used, 0
        return memoryview(self.out)[:used]

    def written(self, transport: asyncio.WriteTransport) -> None:
        """After writing ``take()``: keep the buffer unless the transport may hold a view of
        it (before 3.12 asyncio copies what it cannot send at once)."""
        if KEEPS_VIEWS and transport.get_write_buffer_size():
            self.out = bytearray(len(self.out))

    def seal(self, kind: int, plain: bytes | bytearray | memoryview) -> bytes:
        """One frame as ``bytes`` (the small frames: totals, echoes, answers)."""
        self.add(kind, plain)
        with self.take() as view:
            return bytes(view)


class Opener:
    """Opens the frames of one direction of one hop into a reused plaintext buffer."""

    def __init__(self, hop: int, direction: bytes) -> None:
        self.aead = ChaCha20Poly1305(hop_key(hop))
        self.direction = direction
        self.plain = memoryview(bytearray(MAX_FRAME))

    def open(self, frame: memoryview) -> tuple[int, memoryview]:
        """``(kind, plaintext)``; the plaintext is valid until the next call."""
        counter, kind = HEADER.unpack_from(frame)
        nonce = self.direction + counter.to_bytes(8, "little")
        plain = self.plain[: len(frame) - HEADER.size - TAG]
        self.aead.decrypt_into(nonce, frame[HEADER.size :], frame[: HEADER.size], plain)
        return kind, plain


class Reader(asyncio.BufferedProtocol):
    """Reads into one buffer and hands every whole frame, in place, to ``on_frame``."""

    def __init__(self) -> None:
        self.buffer = memoryview(bytearray(READ_BUFFER))
        self.start = 0  # the first byte not yet cut into a frame
        self.end = 0  # the first byte not yet read
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self.buffer) - self.end < READ_SIZE:  # move the unread tail to the front
            tail = self.end - self.start
            self.buffer[:tail] = self.buffer[self.start : self.end]
            self.start, self.end = 0, tail
        return self.buffer[self.end : self.end + READ_SIZE]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        buffer, pos, end = self.buffer, self.start, self.end
        while end - pos >= 4:
            size = 4 + int.from_bytes(buffer[pos : pos + 4], "big")
            if size > 4 + MAX_FRAME:
                raise ValueError(f"frame of {size - 4} bytes over {MAX_FRAME}")
            if end - pos < size:
                break
            self.on_frame(buffer[pos + 4 : pos + size])
            pos += size
        self.start = pos
        self.frames_done()

    def on_frame(self, frame: memoryview) -> None:
        raise NotImplementedError

    def frames_done(self) -> None:
        """After the frames of one read."""


class Sink(Reader):
    """The last hop: counts bulk bytes, answers the end of a round and every echo."""

    def __init__(self, hop: int) -> None:
        super().__init__()
        self.opener = Opener(hop, FORWARD)
        self.sealer = Sealer(hop, BACKWARD)
        self.expected = -1
        self.count = 0

    def on_frame(self, frame: memoryview) -> None:
        assert self.transport is not None
        kind, plain = self.opener.open(frame)
        if kind == BULK:
            self.count += len(plain)
            if self.count >= self.expected:
                self.transport.write(self.sealer.seal(DONE, self.count.to_bytes(8, "big")))
                self.expected, self.count = -1, 0
        elif kind == TOTAL:
            self.expected = int.from_bytes(plain, "big")
        elif kind == ECHO:
            self.transport.write(self.sealer.seal(DONE, plain))


class _Side(Reader):
    """One side of a relay: what it reads is re-sealed for the other side."""

    def __init__(self, opener: Opener, sealer: Sealer) -> None:
        super().__init__()
        self.opener = opener
        self.sealer = sealer
        self.other: _Side | None = None

    def on_frame(self, frame: memoryview) -> None:
        self.sealer.add(*self.opener.open(frame))

    def frames_done(self) -> None:
        other = self.other
        assert other is not None and other.transport is not None
        if self.sealer.used:
            with self.sealer.take() as frames:
                other.transport.write(frames)
            self.sealer.written(other.transport)

    def pause_writing(self) -> None:  # our outgoing buffer is full: stop the other reading
        if self.other is not None and self.other.transport is not None:
            self.other.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.other is not None and self.other.transport is not None:
            self.other.transport.close()


class Upstream(_Side):
    """The connection a relay accepted; it dials the next hop before reading."""

    def __init__(self, hop: int, to: int) -> None:
        super().__init__(Opener(hop, FORWARD), Sealer(hop + 1, FORWARD))
        self.hop, self.to = hop, to

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        asyncio.get_running_loop().create_task(self._dial())

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        down = _Side(Opener(self.hop + 1, BACKWARD), Sealer(self.hop, BACKWARD))
        await loop.create_connection(lambda: down, "127.0.0.1", self.to)
        down.other, self.other = self, down
        assert self.transport is not None
        self.transport.resume_reading()


class Client(Reader):
    """The sender's end of the first hop (in ``bench/relay.py``'s process)."""

    def __init__(self) -> None:
        super().__init__()
        self.opener = Opener(0, BACKWARD)
        self.sealer = Sealer(0, FORWARD)
        self.replies: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()

    def on_frame(self, frame: memoryview) -> None:
        kind, plain = self.opener.open(frame)
        self.replies.put_nowait((kind, bytes(plain)))

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def send(self, kind: int, plain: bytes | memoryview) -> None:
        """Seal and write one frame, then wait while the transport's buffer is full."""
        assert self.transport is not None
        self.sealer.add(kind, plain)
        with self.sealer.take() as frame:
            self.transport.write(frame)
        self.sealer.written(self.transport)
        await self.writable.wait()


async def serve(role: str, hop: int, to: int) -> None:
    loop = asyncio.get_running_loop()
    if role == "sink":
        server = await loop.create_server(lambda: Sink(hop), "127.0.0.1", 0)
    else:
        server = await loop.create_server(lambda: Upstream(hop, to), "127.0.0.1", 0)
    print(f"tcp:127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # until the parent closes our stdin
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("sink", "relay"))
    parser.add_argument("--hop", type=int, required=True, help="the hop this process reads")
    parser.add_argument("--to", type=int, default=0, help="a relay's next hop (its port)")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.role, arguments.hop, arguments.to))
