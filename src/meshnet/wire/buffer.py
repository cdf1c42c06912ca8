"""Reader and Writer: fixed-width integers, varints and length-prefixed bytes.

Every decoder in MeshNet reads through ``Reader``, which never reads past its buffer:
running short, a varint longer than allowed, or a length over the caller's limit raises
``DecodeError`` (a ``RemoteError``), so a hostile peer's bytes end as a counted drop.
All integers are big-endian (network order). Varints are unsigned LEB128, at most
9 bytes (63 bits), and must be minimally encoded so each value has one encoding.
"""

from __future__ import annotations

from meshnet.errors import DecodeError

__all__ = ["MAX_VARINT", "Reader", "Writer", "varint_size"]

MAX_VARINT = (1 << 63) - 1
_MAX_VARINT_BYTES = 9


def varint_size(value: int) -> int:
    """How many bytes ``Writer.varint(value)`` writes."""
    return max(1, (value.bit_length() + 6) // 7)


class Writer:
    """Appends encoded values to a growing buffer; ``bytes(writer)`` returns it."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts = bytearray()

    def u8(self, value: int) -> Writer:
        self._parts += value.to_bytes(1, "big")
        return self

    def u16(self, value: int) -> Writer:
        self._parts += value.to_bytes(2, "big")
        return self

    def u32(self, value: int) -> Writer:
        self._parts += value.to_bytes(4, "big")
        return self

    def u64(self, value: int) -> Writer:
        self._parts += value.to_bytes(8, "big")
        return self

    def varint(self, value: int) -> Writer:
        if 0 <= value < 0x80:  # one byte: most ids, flags and counts
            self._parts.append(value)
            return self
        if not 0 <= value <= MAX_VARINT:
            raise ValueError(f"varint out of range: {value}")
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                self._parts.append(byte | 0x80)
            else:
                self._parts.append(byte)
                return self

    def raw(self, data: bytes | memoryview) -> Writer:
        self._parts += data
        return self

    def blob(self, data: bytes) -> Writer:
        """Length-prefixed (varint) bytes."""
        self.varint(len(data))
        self._parts += data
        return self

    def __bytes__(self) -> bytes:
        return bytes(self._parts)

    def view(self) -> memoryview:
        """The bytes written so far, without a copy (write nothing more while it is held)."""
        return memoryview(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


class Reader:
    """Reads encoded values from a buffer, refusing to read past its end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, n: int) -> memoryview:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError(f"truncated: need {n} bytes, have {self.remaining}")
        view = self._data[self._pos : self._pos + n]
        self._pos += n
        return view

    def u8(self) -> int:
        pos = self._pos  # the hottest read (types, flags, every varint byte): no slice
        if pos >= len(self._data):
            raise DecodeError(f"truncated: need 1 bytes, have {self.remaining}")
        self._pos = pos + 1
        return self._data[pos]

    def u16(self) -> int:
        return int.from_bytes(self._take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self._take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self._take(8), "big")

    def varint(self, limit: int = MAX_VARINT) -> int:
        data, pos = self._data, self._pos  # bytes read inline: no ``u8`` call per byte
        end = min(len(data), pos + _MAX_VARINT_BYTES)
        value = shift = 0
        while pos < end:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if byte == 0 and shift:
                    raise DecodeError("varint is not minimally encoded")
                if value > limit:
                    raise DecodeError(f"value {value} over limit {limit}")
                self._pos = pos
                return value
            shift += 7
        if shift == 7 * _MAX_VARINT_BYTES:
            raise DecodeError("varint too long")
        raise DecodeError(f"truncated: need 1 bytes, have {len(data) - pos}")

    def raw(self, n: int) -> bytes:
        return bytes(self._take(n))

    def blob(self, limit: int) -> bytes:
        """Length-prefixed bytes of at most ``limit`` bytes."""
        return bytes(self._take(self.varint(limit)))

    def rest(self) -> bytes:
        return bytes(self._take(self.remaining))

    def finish(self) -> None:
        """Raise ``DecodeError`` if bytes are left over: every message has an exact size."""
        if self.remaining:
            raise DecodeError(f"{self.remaining} trailing bytes")
