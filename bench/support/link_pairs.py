"""The ceilings ``bench/link.py`` measures the link against: plain Python on loopback TCP.

* (a) the plain asyncio pair: ``bulk_plain`` streams 64 KiB chunks to a ``PlainSink``
  (no crypto);
* (b) the sealed pair: each frame ``length u32 | counter u64 | ciphertext + tag``
  sealed with ChaCha20-Poly1305 (``cryptography``), allocating nothing per frame:
  ``Sealer`` seals into one reused buffer, ``SealedReader`` reads into one reused
  buffer and opens each frame in place into one reused plaintext buffer.
  ``SealedPeer`` is its receiving end (bulk sink or echo), ``bulk_sealed`` its bulk
  sender, ``SealedRtt``/``rtt_sealed`` its round-trip client (``sock_sendall`` and
  ``sock_recv_into``), ``SealedClient``/``rtt_sealed_protocol`` a protocol client (the
  lowest CPU with both ends in one process).

No MeshNet code here; ``bench/link.py`` (and ``bench/messaging.py`` through it) import
these.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

PAYLOAD = 64 * 1024
SMALL = 64
KEY = bytes(range(32))
FRAME = struct.Struct(">IQ")  # the sealed pair's frame header: a length, a counter (the nonce)
LENGTH_SIZE = 4
TAG = 16
SEALED_MAX = FRAME.size + PAYLOAD + TAG
READ_SIZE = 256 * 1024  # bytes per read, as the link's driver reads (runtime/tcpread.py)
HIGH_WATER = 1 << 20


def nonce(counter: int) -> bytes:
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "little")


class PlainSink(asyncio.Protocol):
    """Counts bytes; after an 8-byte expected total, answers one byte when all arrived."""

    def __init__(self) -> None:
        self.expected = -1
        self.buffer = b""
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.expected < 0:
            self.buffer += data
            if len(self.buffer) < 8:
                return
            self.expected = int.from_bytes(self.buffer[:8], "big")
            data, self.buffer = self.buffer[8:], b""
        self.count += len(data)
        if self.count >= self.expected and self.transport is not None:
            self.transport.write(b"k")
            self.expected, self.count = -1, self.count - self.expected


class Sealer:
    """Seals the sealed pair's frames into one reused buffer: no allocation per frame.

    A frame is ``length u32 | counter u64 | ciphertext + tag``: the counter is the nonce
    and, with the length, the associated data. ``seal`` returns a view of the buffer,
    valid until the next ``seal``; a writer that hands it to a transport calls
    ``handed_to`` afterwards, which swaps in a fresh buffer if the transport kept bytes
    queued (Python 3.12+ keeps a view of what it could not send at once, not a copy).
    """

    def __init__(self) -> None:
        self.aead = ChaCha20Poly1305(KEY)
        self.counter = 0
        self.buffer = memoryview(bytearray(SEALED_MAX))

    def seal(self, plain: bytes | memoryview) -> memoryview:
        size = FRAME.size + len(plain) + TAG
        frame, counter = self.buffer, self.counter
        FRAME.pack_into(frame, 0, size - LENGTH_SIZE, counter)
        self.aead.encrypt_into(nonce(counter), plain, frame[: FRAME.size], frame[FRAME.size : size])
        self.counter = counter + 1
        return frame[:size]

    def handed_to(self, transport: asyncio.WriteTransport) -> None:
        if transport.get_write_buffer_size():
            self.buffer = memoryview(bytearray(SEALED_MAX))


class SealedReader:
    """Cuts the sealed pair's frames out of one reused read buffer and opens each into
    one reused plaintext buffer: the kernel writes into memory allocated once, and a
    frame is copied only when its start must move to the front to leave it room.
    """

    def __init__(self) -> None:
        self.aead = ChaCha20Poly1305(KEY)
        self.buffer = memoryview(bytearray(READ_SIZE))
        self.plain = memoryview(bytearray(PAYLOAD))
        self.start = self.end = 0

    def space(self) -> memoryview:
        """Where the next read goes (``get_buffer``)."""
        start, end, buffer = self.start, self.end, self.buffer
        if start == end:
            self.start = self.end = 0
            return buffer
        need = SEALED_MAX
        if end - start >= LENGTH_SIZE:
            need = LENGTH_SIZE + int.from_bytes(buffer[start : start + LENGTH_SIZE], "big")
        if start + need > len(buffer):  # the frame would not fit: move it to the front
            buffer[: end - start] = buffer[start:end]
            self.start, self.end = 0, end - start
        return buffer[self.end :]

    def feed(self, nbytes: int, on_plain: Callable[[memoryview], None]) -> None:
        """Open every frame ``nbytes`` more bytes complete, calling ``on_plain`` with each
        plaintext (a view of the reused plaintext buffer, valid during the call)."""
        self.end += nbytes
        buffer, aead, plain = self.buffer, self.aead, self.plain
        pos, end = self.start, self.end
        while end - pos >= FRAME.size:
            length, counter = FRAME.unpack_from(buffer, pos)
            size = LENGTH_SIZE + length
            if end - pos < size:
                break
            out = plain[: size - FRAME.size - TAG]
            aead.decrypt_into(
                nonce(counter),
                buffer[pos + FRAME.size : pos + size],
                buffer[pos : pos + FRAME.size],
                out,
            )
            pos += size
            on_plain(out)
        self.start = pos


class SealedPeer(asyncio.BufferedProtocol):
    """The sealed pair's receiving end: bulk sink, or echo (re-sealed) for round trips."""

    def __init__(self, *, echo: bool) -> None:
        self.echo = echo
        self.reader = SealedReader()
        self.sealer = Sealer()
        self.expected = -1
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.space()

    def buffer_updated(self, nbytes: int) -> None:
        self.reader.feed(nbytes, self.on_plain)

    def on_plain(self, plain: memoryview) -> None:
        transport = self.transport
        assert transport is not None
        if self.echo:
            transport.write(self.sealer.seal(plain))
            self.sealer.handed_to(transport)
        elif self.expected < 0:
            self.expected = int.from_bytes(plain, "big")
        else:
            self.count += len(plain)
            if self.count >= self.expected:
                transport.write(b"k")
                self.expected, self.count = -1, 0


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.set_write_buffer_limits(high=HIGH_WATER)
    return reader, writer


async def bulk_plain(port: int, total: int) -> float:
    reader, writer = await _open(port)
    chunk = os.urandom(PAYLOAD)
    start = time.perf_counter()
    writer.write(total.to_bytes(8, "big"))
    for _ in range(total // PAYLOAD):
        writer.write(chunk)
        await writer.drain()
    await reader.readexactly(1)
    elapsed = time.perf_counter() - start
    writer.close()
    return total / elapsed / 1e6


async def _dial(port: int) -> socket.socket:
    """A non-blocking socket connected to ``port``, for the loop's ``sock_*`` calls."""
    sock = socket.socket()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def bulk_sealed(port: int, total: int) -> float:
    """The sealed sender: ``sock_sendall`` returns once the kernel took the whole frame,
    so the one sealing buffer is reused for every frame without any copy or allocation.
    """
    loop = asyncio.get_running_loop()
    sock = await _dial(port)
    sealer = Sealer()
    chunk = os.urandom(PAYLOAD)
    start = time.perf_counter()
    await loop.sock_sendall(sock, sealer.seal(total.to_bytes(8, "big")))
    for _ in range(total // PAYLOAD):
        await loop.sock_sendall(sock, sealer.seal(chunk))
    await loop.sock_recv(sock, 1)
    elapsed = time.perf_counter() - start
    sock.close()
    return total / elapsed / 1e6


class SealedRtt:
    """The sealed pair's round-trip client, connected once and reused by every batch:
    each round trip sealed into one reused buffer, sent with ``sock_sendall``, the echo
    read with ``sock_recv_into`` and opened in place."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.sealer, self.reader = Sealer(), SealedReader()

    async def start(self) -> None:
        self.sock = await _dial(self.port)

    async def rtt(self, rounds: int) -> list[float]:
        loop, sock = asyncio.get_running_loop(), self.sock
        assert sock is not None
        sealer, reader = self.sealer, self.reader
        message = b"E" * SMALL
        answers: list[memoryview] = []
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            await loop.sock_sendall(sock, sealer.seal(message))
            while not answers:
                reader.feed(await loop.sock_recv_into(sock, reader.space()), answers.append)
            answers.clear()
            samples.append(time.perf_counter() - start)
        return samples

    async def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


async def rtt_sealed(port: int, rounds: int) -> list[float]:
    """``rounds`` timed round trips of the sealed pair on a connection of their own
    (``SealedRtt``; ``bench/messaging.py`` measures its ceiling with it)."""
    client = SealedRtt(port)
    await client.start()
    try:
        return await client.rtt(rounds)
    finally:
        await client.stop()


class SealedClient(asyncio.BufferedProtocol):
    """The sealed pair's client as a protocol: the answer completes a future."""

    def __init__(self) -> None:
        self.reader = SealedReader()
        self.answers: list[memoryview] = []
        self.waiter: asyncio.Future[None] | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.space()

    def buffer_updated(self, nbytes: int) -> None:
        self.reader.feed(nbytes, self.answers.append)
        if self.answers and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def rtt_sealed_protocol(port: int, rounds: int) -> None:
    """``rounds`` round trips of the sealed pair through a protocol client.

    With both ends in one process this client costs the least CPU per round trip (about
    20 µs against 30 µs for ``rtt_sealed``, whose ``sock_recv_into`` adds and removes
    the socket's reader every round); ``rtt_sealed`` has the lower wall-clock round trip
    between two processes. Each figure is judged against the better one.
    """
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(SealedClient, "127.0.0.1", port)
    sealer = Sealer()
    message = b"E" * SMALL
    for _ in range(rounds):
        client.waiter = loop.create_future()
        transport.write(bytes(sealer.seal(message)))
        await client.waiter
        client.answers.clear()
    transport.close()
