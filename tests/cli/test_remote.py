"""``normalize_address``: the shell's ``connect NAME@HOST[:PORT]`` becomes an endpoint."""

from __future__ import annotations

import pytest

from meshnet.cli.remote import normalize_address
from meshnet.errors import LocalError


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("peer123@192.168.1.12", "peer123@tcp:192.168.1.12:4100"),
        ("peer123@192.168.1.12:4200", "peer123@tcp:192.168.1.12:4200"),
        ("bob@udp:10.0.0.1", "bob@udp:10.0.0.1:4100"),
        ("bob@tcp:10.0.0.1:9", "bob@tcp:10.0.0.1:9"),
        ("192.168.1.12", "tcp:192.168.1.12:4100"),
        ("node.example.org:4101", "tcp:node.example.org:4101"),
        ("x@[::1]:4101", "x@tcp:[::1]:4101"),
        ("x@[::1]", "x@tcp:[::1]:4100"),
        ("x@fe80::1", "x@tcp:[fe80::1]:4100"),
    ],
)
def test_defaults_are_filled_in(text: str, address: str) -> None:
    assert normalize_address(text) == address


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("@1.2.3.4", "nothing before '@'"),
        ("bob@", "no host"),
        ("bob@1.2.3.4:http", "port must be a number"),
        ("bob@1.2.3.4:70000", "port must be a number"),
        ("bob@[::1", "closing ']'"),
        ("bob@[::1]x", "expected ':PORT'"),
    ],
)
def test_mistakes_are_local_errors_that_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(LocalError, match=complaint):
        normalize_address(text)
