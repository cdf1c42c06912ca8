"""The Python ceiling for encrypted hops and relay chains (spawned by ``bench/relay.py``).

Plain asyncio processes on loopback TCP, no MeshNet code but the length-prefix framing.
Each hop has its own ChaCha20-Poly1305 key; a frame is ``length | header | sealed``,
with ``header = counter (8 B) | kind (1 B)`` as associated data and the nonce made of
the direction and the counter. Roles:

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

from meshnet.wire.framing import StreamDeframer, encode_frame

HEADER = struct.Struct(">QB")
BULK, TOTAL, ECHO, DONE = range(4)
FORWARD, BACKWARD = b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"
MAX_FRAME = 1 << 20
HIGH_WATER = 1 << 20


def hop_key(hop: int) -> bytes:
    """The key of hop ``hop`` (hop 0 leaves the sender)."""
    return bytes([hop + 1]) * 32


class Sealer:
    """Seals frames in one direction of one hop (its own counter)."""

    def __init__(self, hop: int, direction: bytes) -> None:
        self.aead = ChaCha20Poly1305(hop_key(hop))
        self.direction = direction
        self.counter = 0

    def seal(self, kind: int, plain: bytes | memoryview) -> bytes:
        header = HEADER.pack(self.counter, kind)
        nonce = self.direction + self.counter.to_bytes(8, "little")
        self.counter += 1
        return encode_frame(header + self.aead.encrypt(nonce, plain, header))


class Opener:
    """Opens the frames of one direction of one hop."""

    def __init__(self, hop: int, direction: bytes) -> None:
        self.aead = ChaCha20Poly1305(hop_key(hop))
        self.direction = direction
        self.deframer = StreamDeframer(MAX_FRAME)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        out = []
        for frame in self.deframer.feed(data):
            view = memoryview(frame)
            counter, kind = HEADER.unpack_from(view)
            nonce = self.direction + counter.to_bytes(8, "little")
            out.append((kind, self.aead.decrypt(nonce, view[HEADER.size :], view[: HEADER.size])))
        return out


class Sink(asyncio.Protocol):
    """The last hop: counts bulk bytes, answers the end of a round and every echo."""

    def __init__(self, hop: int) -> None:
        self.opener = Opener(hop, FORWARD)
        self.sealer = Sealer(hop, BACKWARD)
        self.expected = -1
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for kind, plain in self.opener.feed(data):
            if kind == BULK:
                self.count += len(plain)
                if self.count >= self.expected:
                    self.transport.write(self.sealer.seal(DONE, self.count.to_bytes(8, "big")))
                    self.expected, self.count = -1, 0
            elif kind == TOTAL:
                self.expected = int.from_bytes(plain, "big")
            elif kind == ECHO:
                self.transport.write(self.sealer.seal(DONE, plain))


class _Side(asyncio.Protocol):
    """One side of a relay: what it reads is re-sealed for the other side."""

    def __init__(self, opener: Opener, sealer: Sealer) -> None:
        self.opener = opener
        self.sealer = sealer
        self.transport: asyncio.Transport | None = None
        self.other: _Side | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        other = self.other
        assert other is not None and other.transport is not None
        seal = self.sealer.seal
        frames = [seal(kind, plain) for kind, plain in self.opener.feed(data)]
        if frames:
            other.transport.write(b"".join(frames) if len(frames) > 1 else frames[0])

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
