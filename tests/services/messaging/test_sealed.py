"""Sealed messages: only the recipient opens them, and it learns the true sender."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import AuthenticationError, DecodeError
from meshnet.ids import MessageId
from meshnet.services.messaging.messages import MAX_BODY, MessageFrame
from meshnet.services.messaging.sealed import open_sealed, seal

ALICE = Identity.generate(SeededEntropy(1, "alice"), created=0)
BOB = Identity.generate(SeededEntropy(2, "bob"), created=0)
CAROL = Identity.generate(SeededEntropy(3, "carol"), created=0)
MESSAGE = MessageFrame(
    id=MessageId(b"i" * 16), epoch=b"e" * 8, seq=4, created=1.5, expires=9.0, body=b"secret body"
)


def sealed_for_bob(sender: Identity = ALICE, message: MessageFrame = MESSAGE) -> bytes:
    return seal(message, sender=sender, recipient=BOB.record, entropy=SeededEntropy(9, "seal"))


def test_the_recipient_opens_it_and_learns_the_signed_sender() -> None:
    assert open_sealed(sealed_for_bob(), recipient=BOB) == (ALICE.node_id, MESSAGE)
    full = MessageFrame(
        id=MESSAGE.id, epoch=MESSAGE.epoch, seq=0, created=0.0, expires=0.0, body=b"x" * MAX_BODY
    )
    assert open_sealed(sealed_for_bob(message=full), recipient=BOB)[1] == full


def test_the_mailbox_and_anyone_else_cannot_open_or_read_it() -> None:
    sealed = sealed_for_bob()
    assert b"secret body" not in sealed
    with pytest.raises(AuthenticationError):
        open_sealed(sealed, recipient=CAROL)


def test_every_altered_byte_is_detected() -> None:
    sealed = sealed_for_bob()
    for position in range(0, len(sealed), 7):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(AuthenticationError):
            open_sealed(bytes(altered), recipient=BOB)


def test_a_sender_cannot_claim_another_senders_name() -> None:
    """A seal carries the sender's NodeId and its Ed25519 signature; carol can encrypt to
    bob (his key is public) but cannot sign as alice, so bob refuses the forgery."""
    genuine = open_sealed(sealed_for_bob(sender=CAROL), recipient=BOB)
    assert genuine[0] == CAROL.node_id
    from meshnet.services.messaging import sealed as module

    original = CAROL.sign

    class Impostor:
        node_id = ALICE.node_id

        @staticmethod
        def sign(data: bytes) -> bytes:
            return original(data)

    forged = module.seal(
        MESSAGE,
        sender=Impostor(),  # type: ignore[arg-type]
        recipient=BOB.record,
        entropy=SeededEntropy(9, "forge"),
    )
    with pytest.raises(AuthenticationError, match="signed"):
        open_sealed(forged, recipient=BOB)


@given(st.binary(max_size=400))
def test_any_bytes_either_open_or_raise_a_remote_error(data: bytes) -> None:
    with pytest.raises((AuthenticationError, DecodeError)):
        open_sealed(data, recipient=BOB)
