"""Handshake patterns as data: the spec's tables, modifiers and the validity rules."""

from __future__ import annotations

import pytest

from meshnet.errors import ConfigError
from meshnet.noise.patterns import (
    DEFERRED,
    FUNDAMENTAL,
    ONE_WAY,
    PATTERNS,
    HandshakePattern,
    Token,
    check_validity,
    pattern_by_name,
)


def _tokens(text: str) -> tuple[Token, ...]:
    return tuple(Token(t.strip()) for t in text.split(",") if t.strip())


def _messages(name: str) -> list[str]:
    return [", ".join(t.value for t in m) for m in pattern_by_name(name).messages]


def test_the_tables_hold_every_pattern_of_the_spec() -> None:
    assert sorted(ONE_WAY) == ["K", "N", "X"]
    assert len(FUNDAMENTAL) == 12
    assert len(DEFERRED) == 23
    assert len(PATTERNS) == 38
    assert all(name.startswith(("N", "K", "X", "I")) for name in PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_base_pattern_is_valid(name: str) -> None:
    check_validity(PATTERNS[name])
    assert pattern_by_name(name) == PATTERNS[name]


def test_fundamental_and_deferred_rows_match_the_spec_text() -> None:
    assert _messages("IK") == ["e, es, s, ss", "e, ee, se"]
    assert PATTERNS["IK"].responder_premessage == (Token.S,)
    assert _messages("X1X1") == ["e", "e, ee, s", "es, s", "se"]
    assert _messages("K1X1") == ["e", "e, ee, s", "se, es"]
    assert PATTERNS["K1K1"].initiator_premessage == (Token.S,)
    assert PATTERNS["K1K1"].responder_premessage == (Token.S,)


def test_psk_modifiers_place_tokens_per_section_9_4() -> None:
    assert _messages("NNpsk0") == ["psk, e", "e, ee"]
    assert _messages("NNpsk2") == ["e", "e, ee, psk"]
    assert _messages("XXpsk3") == ["e", "e, ee, s, es", "s, se, psk"]
    assert _messages("Xpsk1") == ["e, es, s, ss, psk"]


def test_several_psk_modifiers_combine() -> None:
    pattern = pattern_by_name("NNpsk0+psk2")
    assert _messages("NNpsk0+psk2") == ["psk, e", "e, ee, psk"]
    assert pattern.psk_count == 2
    assert pattern_by_name("XXpsk0+psk1+psk3").psk_count == 3


# The HFS spec's table (§5); its IN row omits "ee", a typo its own rule contradicts.
HFS_TABLE = {
    "NNhfs": ["e, e1", "e, ee, ekem1"],
    "NKhfs": ["e, es, e1", "e, ee, ekem1"],
    "NXhfs": ["e, e1", "e, ee, ekem1, s, es"],
    "XNhfs": ["e, e1", "e, ee, ekem1", "s, se"],
    "XKhfs": ["e, es, e1", "e, ee, ekem1", "s, se"],
    "XXhfs": ["e, e1", "e, ee, ekem1, s, es", "s, se"],
    "KNhfs": ["e, e1", "e, ee, ekem1, se"],
    "KXhfs": ["e, e1", "e, ee, ekem1, se, s, es"],
    "INhfs": ["e, e1, s", "e, ee, ekem1, se"],
    "IKhfs": ["e, es, e1, s, ss", "e, ee, ekem1, se"],
    "IXhfs": ["e, e1, s", "e, ee, ekem1, se, s, es"],
}


@pytest.mark.parametrize("name", sorted(HFS_TABLE))
def test_hfs_modifier_reproduces_the_hfs_table(name: str) -> None:
    assert _messages(name) == HFS_TABLE[name]
    assert pattern_by_name(name).hybrid


def test_hfs_combines_with_psk_and_kk_is_refused() -> None:
    assert _messages("XXhfs+psk3") == ["e, e1", "e, ee, ekem1, s, es", "s, se, psk"]
    with pytest.raises(ConfigError, match="hfs"):
        pattern_by_name("KKhfs")
    with pytest.raises(ConfigError, match="hfs"):
        pattern_by_name("XX1hfs")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("xx", "malformed"),
        ("QQ", "unknown handshake pattern"),
        ("XXfallback", "unsupported pattern modifier"),
        ("NNpsk3", "past the last message"),
        ("NNpsk2+psk0", "out of order"),
        ("NNpsk0+psk0", "repeated"),
        ("NNpsk0+hfs", "out of order"),
        ("", "malformed"),
    ],
)
def test_bad_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        pattern_by_name(name)


def _raw(name: str, initiator_pre: str, responder_pre: str, *messages: str) -> HandshakePattern:
    return HandshakePattern(
        name=name,
        initiator_premessage=_tokens(initiator_pre),
        responder_premessage=_tokens(responder_pre),
        messages=tuple(_tokens(m) for m in messages),
    )


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [
        (_raw("AA", "", "", "e, ee", "e"), "rule 1"),
        (_raw("AB", "", "", "e, s", "e, ee", "e"), "rule 2"),
        (_raw("AC", "", "s", "e, es", "e, ee, es"), "rule 3"),
        (_raw("AD", "", "s", "e, es", "e"), "rule 4"),
        (_raw("AE", "s", "", "e", "e, se"), "rule 4"),
        (_raw("AF", "", "", "e, psk", "psk, s, e, ee"), "9.3"),
        (_raw("AG", "", "", "e", "e, ekem1"), "ekem1"),
        (_raw("AH", "", "", "e1, e", "e"), "'e1' before 'e'"),
        (_raw("AI", "s, s", "", "e", "e, ee"), "pre-message"),
        (_raw("N", "", "s", "e, es", "e, ee"), "one-way"),
    ],
)
def test_validity_rules_catch_broken_patterns(pattern: HandshakePattern, rule: str) -> None:
    with pytest.raises(ConfigError, match=rule):
        check_validity(pattern)


def test_str_is_the_spec_notation() -> None:
    assert str(pattern_by_name("IKpsk2")) == (
        "IKpsk2:\n  <- s\n  ...\n  -> e, es, s, ss\n  <- e, ee, se, psk"
    )
    assert str(pattern_by_name("NN")) == "NN:\n  -> e\n  <- e, ee"


def test_pattern_properties() -> None:
    assert pattern_by_name("Xpsk1").one_way
    assert not pattern_by_name("XX1").one_way
    assert pattern_by_name("XX1").base_name == "XX1"
    assert pattern_by_name("NNpsk0+psk2").base_name == "NN"
    assert pattern_by_name("IK").sends(True, Token.S)
    assert not pattern_by_name("NK").sends(True, Token.S)
    assert pattern_by_name("NK").sends(False, Token.S)
