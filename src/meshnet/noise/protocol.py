"""``NoiseProtocol``: a pattern plus function sets, and the parser of protocol names (§8).

A full protocol name is ``"Noise_" + pattern + "_" + DH + "_" + cipher + "_" + hash``
(§8), e.g. ``Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s``. A hybrid (Noise HFS) protocol
names its KEM after the DH function with a plus sign (HFS §5), e.g.
``Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s``; the KEM is required exactly when
the pattern carries the ``hfs`` modifier.

``parse_protocol_name`` checks the grammar; ``NoiseProtocol.from_name`` also resolves
every section to the implemented function sets. Both raise ``ConfigError`` (a protocol
name is local configuration, never peer input); ``unsupported_parts`` names the pieces
of a well-formed name that are not implemented here, so a vector runner can skip them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from meshnet.errors import ConfigError
from meshnet.noise.functions import (
    CIPHER_FUNCTIONS,
    DH_FUNCTIONS,
    HASH_FUNCTIONS,
    KEM_FUNCTIONS,
    CipherFunctions,
    DHFunctions,
    HashFunctions,
    KEMFunctions,
)
from meshnet.noise.patterns import PATTERNS, HandshakePattern, pattern_by_name

__all__ = [
    "MAX_PROTOCOL_NAME",
    "NoiseProtocol",
    "ProtocolName",
    "parse_protocol_name",
    "unsupported_parts",
]

MAX_PROTOCOL_NAME = 255
"""The longest protocol name the spec allows, in bytes (§8)."""
_SECTION = re.compile(r"[A-Za-z0-9+/]+")
_PATTERN_NAME = re.compile(r"([A-Z][A-Z0-9]*)([a-z][a-z0-9]*(?:\+[a-z][a-z0-9]*)*)?")
_PSK_MODIFIER = re.compile(r"psk[0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolName:
    """The four sections of a protocol name, split but not resolved."""

    pattern: str
    """The pattern name section, modifiers included."""
    dh: str
    """The DH algorithm name (without a ``+KEM`` part)."""
    kem: str | None
    """The KEM name after ``+`` in the DH section, if any."""
    cipher: str
    """The cipher name section."""
    hash: str
    """The hash name section."""


def parse_protocol_name(name: str) -> ProtocolName:
    """Split a protocol name into its sections (§8).

    Raises:
        ConfigError: not ``Noise_`` plus four well-formed sections.
    """
    if len(name.encode()) > MAX_PROTOCOL_NAME:
        raise ConfigError(f"protocol name longer than {MAX_PROTOCOL_NAME} bytes")
    parts = name.split("_")
    if len(parts) != 5 or parts[0] != "Noise":
        raise ConfigError(f"not a Noise protocol name: {name!r}")
    if not all(_SECTION.fullmatch(section) for section in parts[1:]):
        raise ConfigError(f"bad characters in protocol name {name!r}")
    dh, _, kem = parts[2].partition("+")
    if "+" in kem or (_ and not kem):
        raise ConfigError(f"DH section {parts[2]!r} is not DH or DH+KEM")
    return ProtocolName(pattern=parts[1], dh=dh, kem=kem or None, cipher=parts[3], hash=parts[4])


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseProtocol:
    """A concrete Noise protocol: a handshake pattern and its function sets.

    Build one from a name with ``from_name``; tests may ``dataclasses.replace`` a
    function set (e.g. a KEM whose output they control).
    """

    pattern: HandshakePattern
    """The handshake pattern, modifiers applied."""
    dh: DHFunctions
    """The DH functions."""
    cipher: CipherFunctions
    """The cipher functions."""
    hash: HashFunctions
    """The hash functions."""
    kem: KEMFunctions | None = None
    """The KEM functions of a hybrid (``hfs``) pattern, else None."""

    def __post_init__(self) -> None:
        if self.pattern.hybrid != (self.kem is not None):
            raise ConfigError(
                f"pattern {self.pattern.name!r} "
                + ("needs a KEM" if self.pattern.hybrid else "takes no KEM")
            )

    @property
    def name(self) -> str:
        """The full protocol name, e.g. ``Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s``."""
        dh = f"{self.dh.name}+{self.kem.name}" if self.kem is not None else self.dh.name
        return f"Noise_{self.pattern.name}_{dh}_{self.cipher.name}_{self.hash.name}"

    @classmethod
    def from_name(cls, name: str) -> NoiseProtocol:
        """Resolve a full protocol name to a ``NoiseProtocol``.

        Raises:
            ConfigError: malformed, or naming a pattern, modifier or
                primitive not implemented here (``unsupported`` names it).
        """
        return _from_name(name)


def unsupported_parts(name: str) -> list[str]:
    """The parts of a well-formed protocol name that this module does not implement.

    Each entry says what kind of part it is, e.g. ``"hash 'SHA3/256'"`` or
    ``"pattern modifier 'fallback'"``. An empty list means every part is implemented
    (the name may still be invalid, e.g. a ``psk`` past the last message).

    Raises:
        ConfigError: the name is malformed (not four sections after ``Noise_``).
    """
    parsed = parse_protocol_name(name)
    missing: list[str] = []
    base = _PATTERN_NAME.fullmatch(parsed.pattern)
    if base is None or base.group(1) not in PATTERNS:
        missing.append(f"handshake pattern {parsed.pattern!r}")
    elif base.group(2):
        missing.extend(
            f"pattern modifier {m!r}"
            for m in base.group(2).split("+")
            if m != "hfs" and not _PSK_MODIFIER.fullmatch(m)
        )
    for kind, value, table in (
        ("DH", parsed.dh, DH_FUNCTIONS),
        ("KEM", parsed.kem, KEM_FUNCTIONS),
        ("cipher", parsed.cipher, CIPHER_FUNCTIONS),
        ("hash", parsed.hash, HASH_FUNCTIONS),
    ):
        if value is not None and value not in table:
            missing.append(f"{kind} {value!r}")
    return missing


@lru_cache(maxsize=128)
def _from_name(name: str) -> NoiseProtocol:
    parsed = parse_protocol_name(name)
    missing = unsupported_parts(name)
    if missing:
        raise ConfigError(f"{name}: unsupported {', '.join(missing)}")
    return NoiseProtocol(
        pattern=pattern_by_name(parsed.pattern),
        dh=DH_FUNCTIONS[parsed.dh],
        cipher=CIPHER_FUNCTIONS[parsed.cipher],
        hash=HASH_FUNCTIONS[parsed.hash],
        kem=KEM_FUNCTIONS[parsed.kem] if parsed.kem is not None else None,
    )
