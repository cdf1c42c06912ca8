"""Handshake patterns as data: the spec's tables (§7.4-7.6), modifiers and validity rules.

Every pattern of the Noise spec revision 34 is listed here in the spec's own notation:
the three one-way patterns (§7.4), the twelve fundamental interactive patterns (§7.5)
and the 23 deferred patterns (§7.6, appendix §18.1). ``pattern_by_name`` parses a
pattern name section (``"XXpsk3"``, ``"NNpsk0+psk2"``, ``"IKhfs"``) into a
``HandshakePattern`` by applying modifiers to a base pattern:

* ``pskN`` (§9.4): ``psk0`` puts a ``psk`` token first in message 1; ``psk1``, ``psk2``,
  ... put one last in message 1, 2, ...; several may be combined (``psk0+psk2``);
* ``hfs`` (Noise HFS §5): an ``e1`` token directly after the first ``e``, or after the
  first DH of that message if it has one, and an ``ekem1`` token directly after the
  first ``ee``. Allowed on the fundamental interactive patterns except ``KK``, whose
  row in the HFS table contradicts the rule of its §5 text.

Every pattern built is checked against the validity rules of §7.3 and §9.3
(``check_validity``), so a pattern this module returns is safe to run. A name that
does not parse or a pattern that breaks a rule raises ``ConfigError`` (a pattern name
is configuration: it comes from the caller, never from a peer).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

from meshnet.errors import ConfigError

__all__ = [
    "DEFERRED",
    "FUNDAMENTAL",
    "ONE_WAY",
    "PATTERNS",
    "HandshakePattern",
    "Token",
    "check_validity",
    "pattern_by_name",
]


class Token(enum.Enum):
    """A handshake token (§7.1, §9.2, Noise HFS §4)."""

    E = "e"
    S = "s"
    EE = "ee"
    ES = "es"
    SE = "se"
    SS = "ss"
    PSK = "psk"
    E1 = "e1"
    EKEM1 = "ekem1"


DH_TOKENS = frozenset({Token.EE, Token.ES, Token.SE, Token.SS})


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakePattern:
    """A handshake pattern: two pre-message patterns and a list of message patterns.

    Messages alternate starting with the initiator (§7.1): ``messages[0]`` is ``->``.
    """

    name: str
    """The pattern name section: base name plus modifiers, e.g. ``"NNpsk0+psk2"``."""
    initiator_premessage: tuple[Token, ...]
    """The initiator's keys the responder knows beforehand (``-> s`` before ``...``)."""
    responder_premessage: tuple[Token, ...]
    """The responder's keys the initiator knows beforehand (``<- s`` before ``...``)."""
    messages: tuple[tuple[Token, ...], ...]
    """The message patterns in order."""

    @property
    def base_name(self) -> str:
        """The name without modifiers (``"XX"`` for ``"XXpsk3"``)."""
        match = _NAME.fullmatch(self.name)
        return match.group(1) if match else self.name

    @property
    def one_way(self) -> bool:
        """True for ``N``, ``K`` and ``X``: only the initiator ever sends (§7.4)."""
        return len(self.base_name) == 1

    @property
    def psk_count(self) -> int:
        """How many ``psk`` tokens the pattern has, hence how many PSKs it needs."""
        return sum(message.count(Token.PSK) for message in self.messages)

    @property
    def hybrid(self) -> bool:
        """True when the pattern exchanges a KEM key (``e1``/``ekem1``, Noise HFS)."""
        return any(Token.E1 in message for message in self.messages)

    def sends(self, initiator: bool, token: Token) -> bool:
        """Whether the given party writes ``token`` in some message or its pre-message."""
        pre = self.initiator_premessage if initiator else self.responder_premessage
        return token in pre or any(token in m for m in self._messages_of(initiator))

    def _messages_of(self, initiator: bool) -> tuple[tuple[Token, ...], ...]:
        return self.messages[0 if initiator else 1 :: 2]

    def __str__(self) -> str:
        """The spec's notation, one line per (pre-)message."""
        lines = [f"{self.name}:"]
        for arrow, pre in (("->", self.initiator_premessage), ("<-", self.responder_premessage)):
            if pre:
                lines.append(f"  {arrow} {', '.join(t.value for t in pre)}")
        if self.initiator_premessage or self.responder_premessage:
            lines.append("  ...")
        for i, message in enumerate(self.messages):
            arrow = "->" if i % 2 == 0 else "<-"
            lines.append(f"  {arrow} {', '.join(t.value for t in message)}".rstrip())
        return "\n".join(lines)


def _pattern(name: str, initiator_pre: str, responder_pre: str, *messages: str) -> HandshakePattern:
    def tokens(text: str) -> tuple[Token, ...]:
        return tuple(Token(t.strip()) for t in text.split(",") if t.strip())

    return HandshakePattern(
        name=name,
        initiator_premessage=tokens(initiator_pre),
        responder_premessage=tokens(responder_pre),
        messages=tuple(tokens(m) for m in messages),
    )


# Pre-messages (initiator's, responder's), then the messages in order: §7.4.
ONE_WAY: dict[str, HandshakePattern] = {
    p.name: p
    for p in (
        _pattern("N", "", "s", "e, es"),
        _pattern("K", "s", "s", "e, es, ss"),
        _pattern("X", "", "s", "e, es, s, ss"),
    )
}
"""The one-way patterns of §7.4."""

# §7.5
FUNDAMENTAL: dict[str, HandshakePattern] = {
    p.name: p
    for p in (
        _pattern("NN", "", "", "e", "e, ee"),
        _pattern("NK", "", "s", "e, es", "e, ee"),
        _pattern("NX", "", "", "e", "e, ee, s, es"),
        _pattern("KN", "s", "", "e", "e, ee, se"),
        _pattern("KK", "s", "s", "e, es, ss", "e, ee, se"),
        _pattern("KX", "s", "", "e", "e, ee, se, s, es"),
        _pattern("XN", "", "", "e", "e, ee", "s, se"),
        _pattern("XK", "", "s", "e, es", "e, ee", "s, se"),
        _pattern("XX", "", "", "e", "e, ee, s, es", "s, se"),
        _pattern("IN", "", "", "e, s", "e, ee, se"),
        _pattern("IK", "", "s", "e, es, s, ss", "e, ee, se"),
        _pattern("IX", "", "", "e, s", "e, ee, se, s, es"),
    )
}
"""The twelve fundamental interactive patterns of §7.5."""

# §7.6 and appendix §18.1: all 23 deferred patterns.
DEFERRED: dict[str, HandshakePattern] = {
    p.name: p
    for p in (
        _pattern("NK1", "", "s", "e", "e, ee, es"),
        _pattern("NX1", "", "", "e", "e, ee, s", "es"),
        _pattern("X1N", "", "", "e", "e, ee", "s", "se"),
        _pattern("X1K", "", "s", "e, es", "e, ee", "s", "se"),
        _pattern("XK1", "", "s", "e", "e, ee, es", "s, se"),
        _pattern("X1K1", "", "s", "e", "e, ee, es", "s", "se"),
        _pattern("X1X", "", "", "e", "e, ee, s, es", "s", "se"),
        _pattern("XX1", "", "", "e", "e, ee, s", "es, s, se"),
        _pattern("X1X1", "", "", "e", "e, ee, s", "es, s", "se"),
        _pattern("K1N", "s", "", "e", "e, ee", "se"),
        _pattern("K1K", "s", "s", "e, es", "e, ee", "se"),
        _pattern("KK1", "s", "s", "e", "e, ee, se, es"),
        _pattern("K1K1", "s", "s", "e", "e, ee, es", "se"),
        _pattern("K1X", "s", "", "e", "e, ee, s, es", "se"),
        _pattern("KX1", "s", "", "e", "e, ee, se, s", "es"),
        _pattern("K1X1", "s", "", "e", "e, ee, s", "se, es"),
        _pattern("I1N", "", "", "e, s", "e, ee", "se"),
        _pattern("I1K", "", "s", "e, es, s", "e, ee", "se"),
        _pattern("IK1", "", "s", "e, s", "e, ee, se, es"),
        _pattern("I1K1", "", "s", "e, s", "e, ee, es", "se"),
        _pattern("I1X", "", "", "e, s", "e, ee, s, es", "se"),
        _pattern("IX1", "", "", "e, s", "e, ee, se, s", "es"),
        _pattern("I1X1", "", "", "e, s", "e, ee, s", "se, es"),
    )
}
"""The 23 deferred interactive patterns of §7.6 / §18.1."""

PATTERNS: dict[str, HandshakePattern] = {**ONE_WAY, **FUNDAMENTAL, **DEFERRED}
"""Every base pattern by name."""

_HFS_BASES = frozenset(FUNDAMENTAL) - {"KK"}
_NAME = re.compile(r"([A-Z][A-Z0-9]*)([a-z][a-z0-9]*(?:\+[a-z][a-z0-9]*)*)?")
_PSK = re.compile(r"psk([0-9]+)")


@lru_cache(maxsize=256)
def pattern_by_name(name: str) -> HandshakePattern:
    """Parse a pattern name section: a base pattern and its modifiers (§8.1).

    Args:
        name: e.g. ``"XX"``, ``"XXpsk3"``, ``"NNpsk0+psk2"``, ``"IKhfs"``.

    Returns:
        The pattern, checked for validity.

    Raises:
        ConfigError: unknown base pattern or modifier, modifiers out of the
            canonical order, a ``pskN`` beyond the last message, or an invalid result.
    """
    match = _NAME.fullmatch(name)
    if match is None:
        raise ConfigError(f"malformed pattern name {name!r}")
    base, modifiers = match.group(1), match.group(2)
    if base not in PATTERNS:
        raise ConfigError(f"unknown handshake pattern {base!r}")
    pattern = PATTERNS[base]
    names = modifiers.split("+") if modifiers else []
    if names != sorted(names, key=_modifier_order) or len(set(names)) != len(names):
        raise ConfigError(f"modifiers of {name!r} are repeated or out of order")
    messages = [list(m) for m in pattern.messages]
    for modifier in names:
        psk = _PSK.fullmatch(modifier)
        if modifier == "hfs":
            if base not in _HFS_BASES:
                raise ConfigError(f"the hfs modifier is not defined for {base!r}")
            _apply_hfs(messages)
        elif psk is not None:
            _apply_psk(messages, int(psk.group(1)), name)
        else:
            raise ConfigError(f"unsupported pattern modifier {modifier!r}")
    result = HandshakePattern(
        name=name,
        initiator_premessage=pattern.initiator_premessage,
        responder_premessage=pattern.responder_premessage,
        messages=tuple(tuple(m) for m in messages),
    )
    check_validity(result)
    return result


def _modifier_order(modifier: str) -> tuple[int, int]:
    """``hfs`` first (it places tokens by position), then ``pskN`` by N."""
    psk = _PSK.fullmatch(modifier)
    return (1, int(psk.group(1))) if psk else (0, 0)


def _apply_psk(messages: list[list[Token]], index: int, name: str) -> None:
    if index == 0:
        messages[0].insert(0, Token.PSK)
    elif index <= len(messages):
        messages[index - 1].append(Token.PSK)
    else:
        raise ConfigError(f"{name!r}: psk{index} is past the last message")


def _apply_hfs(messages: list[list[Token]]) -> None:
    for message in messages:
        if Token.E in message:
            dh = [i for i, t in enumerate(message) if t in DH_TOKENS]
            at = dh[0] if dh else message.index(Token.E)
            message.insert(at + 1, Token.E1)
            break
    for message in messages:
        if Token.EE in message:
            message.insert(message.index(Token.EE) + 1, Token.EKEM1)
            break


def check_validity(pattern: HandshakePattern) -> None:
    """Check the §7.3 rules (1-4), the §9.3 PSK rule and the HFS token order.

    Raises:
        ConfigError: naming the rule broken and where.
    """
    _ValidityCheck(pattern).run()


_DH_KEYS = {  # DH token -> (initiator's key, responder's key), canonical notation
    Token.EE: (Token.E, Token.E),
    Token.ES: (Token.E, Token.S),
    Token.SE: (Token.S, Token.E),
    Token.SS: (Token.S, Token.S),
}


class _ValidityCheck:
    """Walks a pattern once, tracking what each party (0 initiator, 1 responder) sent."""

    def __init__(self, pattern: HandshakePattern) -> None:
        self.pattern = pattern
        self.sent: list[set[Token]] = [
            set(pattern.initiator_premessage),
            set(pattern.responder_premessage),
        ]
        self.dhs: set[Token] = set()
        self.psk_seen = False

    def fail(self, why: str) -> None:
        raise ConfigError(f"{self.pattern.name}: {why}")

    def run(self) -> None:
        pattern = self.pattern
        for pre in (pattern.initiator_premessage, pattern.responder_premessage):
            if not set(pre) <= {Token.E, Token.S} or len(set(pre)) != len(pre):
                self.fail("a pre-message holds only 'e' and/or 's', once each")
        for index, message in enumerate(pattern.messages):
            sender = index % 2
            where = f"message {index + 1}"
            if pattern.one_way and sender:
                self.fail("a one-way pattern has a single message")
            for token in message:
                self.token(token, sender, where)
            self.may_encrypt(sender, where)
        for party in (0,) if pattern.one_way else (0, 1):
            self.may_encrypt(party, "transport messages")

    def token(self, token: Token, sender: int, where: str) -> None:
        sent = self.sent
        if token in (Token.E, Token.S, Token.E1):
            if token in sent[sender]:
                self.fail(f"{where}: {token.value!r} sent twice (rule 2)")
            if token is Token.E1 and Token.E not in sent[sender]:
                self.fail(f"{where}: 'e1' before 'e'")
            sent[sender].add(token)
        elif token is Token.EKEM1:
            if Token.E1 not in sent[1 - sender] or Token.EKEM1 in sent[sender]:
                self.fail(f"{where}: 'ekem1' without a KEM key to encapsulate to")
            sent[sender].add(token)
        elif token in DH_TOKENS:
            if token in self.dhs:
                self.fail(f"{where}: {token.value!r} twice (rule 3)")
            initiator_key, responder_key = _DH_KEYS[token]
            if initiator_key not in sent[0] or responder_key not in sent[1]:
                self.fail(f"{where}: {token.value!r} needs keys not sent yet (rule 1)")
            self.dhs.add(token)
        else:  # psk
            self.psk_seen = True
        if token in (Token.S, Token.E1, Token.EKEM1):  # may travel encrypted
            self.psk_rule(sender, where)

    def may_encrypt(self, party: int, where: str) -> None:
        """Rule 4 of §7.3 (canonical notation) and the PSK rule of §9.3."""
        dhs = self.dhs
        if party == 0:
            unsafe = (Token.SE in dhs and Token.EE not in dhs) or (
                Token.SS in dhs and Token.ES not in dhs
            )
        else:
            unsafe = (Token.ES in dhs and Token.EE not in dhs) or (
                Token.SS in dhs and Token.SE not in dhs
            )
        if unsafe:
            self.fail(f"{where} would be encrypted without ephemeral contribution (rule 4)")
        self.psk_rule(party, where)

    def psk_rule(self, party: int, where: str) -> None:
        """§9.3: no encrypted data after a ``psk`` token until the party has sent ``e``."""
        if self.psk_seen and Token.E not in self.sent[party]:
            self.fail(f"{where} encrypts after 'psk' before sending 'e' (§9.3)")
