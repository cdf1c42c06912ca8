"""Endpoint text: tcp:/udp: HOST:PORT, IPv6 in brackets, NODE@ENDPOINT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import ConfigError, InvalidNodeIdError
from meshnet.runtime.endpoints import (
    Endpoint,
    Scheme,
    format_address,
    parse_endpoint,
    parse_peer_address,
)


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("tcp:127.0.0.1:4100", Scheme.TCP, "127.0.0.1", 4100),
        ("udp:192.0.2.7:0", Scheme.UDP, "192.0.2.7", 0),
        ("tcp:[::1]:4100", Scheme.TCP, "::1", 4100),
        ("udp:[fe80::1%eth0]:9", Scheme.UDP, "fe80::1%eth0", 9),
        ("TCP:node-1.example.org:65535", Scheme.TCP, "node-1.example.org", 65535),
        ("  tcp:localhost:1  ", Scheme.TCP, "localhost", 1),
    ],
)
def test_parses_endpoints(text: str, scheme: Scheme, host: str, port: int) -> None:
    assert parse_endpoint(text) == Endpoint(scheme, host, port)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("127.0.0.1:4100", "expected tcp:HOST:PORT"),
        ("ws:127.0.0.1:4100", "expected tcp:HOST:PORT"),
        ("tcp", "expected tcp:HOST:PORT"),
        ("tcp:127.0.0.1", "port"),
        ("tcp:127.0.0.1:", "port"),
        ("tcp:127.0.0.1:http", "port"),
        ("tcp:127.0.0.1:65536", "over 65535"),
        ("tcp:127.0.0.1:-1", "port"),
        ("tcp:::1:4100", "brackets"),
        ("tcp:[::1:4100", "unclosed"),
        ("tcp:[::1]x:4100", "unclosed"),
        ("tcp:[127.0.0.1]:4100", "not an IPv6"),
        ("tcp::4100", "empty"),
        ("tcp:a b:4100", "not a host"),
        ("tcp:" + "a" * 254 + ":1", "too long"),
        ("tcp:host:\u0663", "port"),
    ],
)
def test_refuses_malformed_endpoints(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_endpoint(text)


def test_bare_host_port_takes_the_default_scheme() -> None:
    assert parse_endpoint("[::1]:7", default_scheme=Scheme.UDP) == Endpoint(Scheme.UDP, "::1", 7)


@given(
    st.sampled_from(list(Scheme)),
    st.one_of(
        st.ip_addresses().map(str),
        st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,5})?", fullmatch=True),
    ),
    st.integers(0, 65535),
)
def test_text_round_trips(scheme: Scheme, host: str, port: int) -> None:
    endpoint = Endpoint(scheme, host, port)
    assert parse_endpoint(str(endpoint)) == endpoint


def test_formats_socket_addresses() -> None:
    assert format_address(Scheme.TCP, "::ffff:10.1.2.3", 5) == "tcp:10.1.2.3:5"
    assert format_address(Scheme.UDP, "::1", 5) == "udp:[::1]:5"
    assert format_address(Scheme.UDP, "10.0.0.1", 0) == "udp:10.0.0.1:0"
    assert Endpoint(Scheme.TCP, "::1", 1).is_literal
    assert not Endpoint(Scheme.TCP, "localhost", 1).is_literal


def test_peer_addresses() -> None:
    node = Identity.generate(SeededEntropy(1, "x"), created=1_700_000_000).node_id
    assert parse_peer_address(f"{node}@tcp:[::1]:4100") == (node, Endpoint(Scheme.TCP, "::1", 4100))
    assert parse_peer_address(f"{node}@10.0.0.1:4100") == (
        node,
        Endpoint(Scheme.TCP, "10.0.0.1", 4100),
    )
    assert parse_peer_address("udp:10.0.0.1:1") == (None, Endpoint(Scheme.UDP, "10.0.0.1", 1))
    with pytest.raises(InvalidNodeIdError):
        parse_peer_address("@tcp:10.0.0.1:1")
    with pytest.raises(InvalidNodeIdError):
        parse_peer_address("notanode@tcp:10.0.0.1:1")
