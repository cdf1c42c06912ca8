"""``config.toml``: defaults, validation errors that name file, key and expectation, flags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import ConfigError
from meshnet.runtime.config import Config, load_config, parse_config, with_overrides
from meshnet.runtime.configtext import config_keys, default_config_text

ROOT = Path(__file__).resolve().parents[2]
ALICE = str(Identity.generate(SeededEntropy(b"alice"), created=1).node_id)
BOB = str(Identity.generate(SeededEntropy(b"bob"), created=1).node_id)


def error(text: str, source: str = "config.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=source)
    return str(caught.value)


def test_the_default_file_is_the_defaults_and_shows_every_key() -> None:
    text = default_config_text()
    assert parse_config(text) == Config()
    for dotted, default, doc in config_keys():
        section, _, key = dotted.partition(".")
        assert f"[{section}]" in text
        if key != "petnames":
            assert f"\n{key} = {default}\n" in text
        assert doc.split()[0] in text
    assert parse_config("") == Config()


def test_defaults() -> None:
    config = Config()
    assert config.listen.endpoints == ("tcp:0.0.0.0:4100", "udp:0.0.0.0:4100")
    assert config.discovery.enabled is True and config.discovery.interval == 5.0
    assert config.node.hybrid is True
    assert config.messaging.default_expiry == 7 * 86400
    assert config.api.tcp == "" and config.api.socket == Path("api.sock")
    assert config.logging.level == "info"


def test_a_full_config_is_read() -> None:
    config = parse_config(
        f"""
        [node]
        name = "kitchen"
        hybrid = false
        [listen]
        endpoints = ["tcp:[::]:4200", "udp:192.0.2.1:4200"]
        [discovery]
        enabled = false
        interval = "1m"
        [peers]
        bootstrap = ["bob@tcp:192.0.2.7:4100", "{ALICE}@udp:198.51.100.1:4100", "10.0.0.1:4100"]
        [peers.petnames]
        bob = "{BOB}"
        [api]
        socket = "/run/meshnet/api.sock"
        tcp = "127.0.0.1:4180"
        token_file = "secret/token"
        [messaging]
        default_expiry = 86400
        mailbox_owners = 3
        mailbox_items = 10
        mailbox_max_age = "2d"
        [logging]
        level = "DEBUG"
        """
    )
    assert config.node.name == "kitchen" and config.node.hybrid is False
    assert config.listen.endpoints == ("tcp:[::]:4200", "udp:192.0.2.1:4200")
    assert config.discovery.enabled is False and config.discovery.interval == 60.0
    assert config.peers.bootstrap == (
        f"{BOB}@tcp:192.0.2.7:4100",
        f"{ALICE}@udp:198.51.100.1:4100",
        "tcp:10.0.0.1:4100",
    )
    assert str(config.peers.petnames["bob"]) == BOB
    assert config.api.socket == Path("/run/meshnet/api.sock")
    assert config.api.tcp == "127.0.0.1:4180" and config.api.token_file == Path("secret/token")
    assert config.messaging.default_expiry == 86400.0
    assert (config.messaging.mailbox_owners, config.messaging.mailbox_items) == (3, 10)
    assert config.messaging.mailbox_max_age == 2 * 86400.0
    assert config.logging.level == "debug"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[listen]\nendpoints = ["tcp:0.0.0.0:1", "foo"]',
            'config.toml: listen.endpoints[1]: expected "tcp:HOST:PORT" or "udp:HOST:PORT", '
            'got "foo"',
        ),
        ("[listen]\nport = 4100", "config.toml: listen.port: unknown key (known in [listen]: "),
        ("[lisen]\nendpoints = []", "config.toml: lisen: unknown section (known sections: "),
        ("name = 1", "config.toml: name: unknown key outside a section"),
        ('[node]\nhybrid = "yes"', 'config.toml: node.hybrid: expected true or false, got "yes"'),
        ("node = 3", "config.toml: node: expected a table [node], got 3"),
        ("[discovery]\ninterval = 0", "config.toml: discovery.interval: expected a duration"),
        ('[discovery]\ninterval = "3 weeks"', 'got "3 weeks"'),
        ("[messaging]\nmailbox_items = 0", "messaging.mailbox_items: expected a whole number"),
        ("[messaging]\nmailbox_items = 1.5", "messaging.mailbox_items: expected a whole number"),
        ("[messaging]\nmailbox_owners = true", "got true"),
        ("[logging]\nlevel = 3", 'logging.level: expected one of "debug", "info"'),
        ('[api]\ntcp = "0.0.0.0:4180"', "api.tcp: expected"),
        ('[api]\ntcp = "127.0.0.1:0"', "api.tcp: expected"),
        ('[api]\nsocket = ""', "api.socket: expected a file path"),
        ('[node]\nname = "a\\nb"', "node.name: expected a string of at most 64 printable"),
        ('[peers]\nbootstrap = "tcp:h:1"', "peers.bootstrap: expected an array of"),
        ('[peers]\nbootstrap = ["a@b@c"]', "peers.bootstrap[0]: expected"),
        ('[peers]\nbootstrap = ["tcp:h:1", "tcp:h:1"]', "peers.bootstrap[1]: "),
        (
            '[peers]\nbootstrap = ["carol@tcp:h:1"]',
            'peers.bootstrap[0]: "carol" is neither a node id nor a name in [peers.petnames]',
        ),
        ('[peers.petnames]\n"a b" = "x"', 'peers.petnames."a b": expected a petname'),
        ('[peers.petnames]\nbob = "x"', "peers.petnames.bob: expected a full node id"),
        (
            f'[peers.petnames]\nbob = "{BOB}"\nrob = "{BOB}"',
            'peers.petnames.rob: the same node is also named "bob"',
        ),
        ("[listen\n", "config.toml: not valid TOML: "),
    ],
)
def test_errors_name_the_file_the_key_and_what_is_expected(text: str, expected: str) -> None:
    assert expected in error(text)


def test_load_config_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[listen]\nendpoints = ["foo"]\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: listen.endpoints[0]: ")):
        load_config(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    path.write_bytes(b"#" * (2 * 1024 * 1024))
    with pytest.raises(ConfigError, match="too large"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    assert load_config(tmp_path / "missing.toml", missing_ok=True) == Config()
    path.write_text(default_config_text())
    assert load_config(path).source == str(path)


def test_flags_override_and_are_checked_the_same_way() -> None:
    base = parse_config(
        f'[peers]\nbootstrap = ["tcp:192.0.2.1:1"]\n[peers.petnames]\nbob = "{BOB}"\n'
    )
    config = with_overrides(
        base,
        listen=["tcp:127.0.0.1:0"],
        connect=["bob@192.0.2.7:4100", "tcp:192.0.2.1:1"],
        discovery=False,
        hybrid=False,
        log_level="warning",
    )
    assert config.listen.endpoints == ("tcp:127.0.0.1:0",)
    assert config.peers.bootstrap == ("tcp:192.0.2.1:1", f"{BOB}@tcp:192.0.2.7:4100")
    assert config.discovery.enabled is False and config.node.hybrid is False
    assert config.logging.level == "warning"
    assert with_overrides(base) == base
    assert with_overrides(base, listen=[]).listen.endpoints == ()
    with pytest.raises(ConfigError, match=re.escape('--listen[1]: expected "tcp:HOST:PORT"')):
        with_overrides(base, listen=["tcp:127.0.0.1:0", "nope"])
    with pytest.raises(ConfigError, match=r"--connect: value\[0\]: \"carol\" is neither"):
        with_overrides(base, connect=["carol@tcp:h:1"])
    with pytest.raises(ConfigError, match="--log-level: expected one of"):
        with_overrides(base, log_level="loud")


def test_docs_describe_every_key_and_its_default() -> None:
    doc = (ROOT / "docs" / "config.md").read_text()
    for dotted, default, _ in config_keys():
        assert f"`{dotted}`" in doc, dotted
        if default != "{}":
            assert f"`{default}`" in doc, (dotted, default)


# -- random documents never raise anything but ConfigError -------------------------------

KEYS = sorted({k for d, _, _ in config_keys() for k in d.split(".")} | {"x", "petnames"})
SECTIONS = sorted({d.partition(".")[0] for d, _, _ in config_keys()})

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(
        ["tcp:0.0.0.0:4100", "udp:[::1]:0", f"{BOB}@tcp:h:1", "bob@tcp:h:1", "7d", "0.1s", BOB]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=10))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(
    st.one_of(st.sampled_from(SECTIONS), keys),
    st.dictionaries(keys, values, max_size=5) | values,
    max_size=6,
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(document: dict[str, Any]) -> str:
    top = [
        f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)
    ]
    lines = top[:]
    for name, table in document.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(name)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def only_config_errors(text: str) -> None:
    try:
        config = parse_config(text)
    except ConfigError as exc:
        assert str(exc).startswith("config.toml: ")
    else:
        assert isinstance(config, Config)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_random_documents_raise_only_config_errors(document: dict[str, Any]) -> None:
    only_config_errors(toml_document(document))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_config_errors(text: str) -> None:
    only_config_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_edited_default_files_raise_only_config_errors(data: st.DataObject) -> None:
    lines = default_config_text().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        key = lines[index].partition(" = ")[0]
        replacement = data.draw(st.one_of(scalars, values).map(toml_value))
        lines[index] = f"{key} = {replacement}" if " = " in lines[index] else replacement
    only_config_errors("\n".join(lines))


def test_the_docs_example_is_a_valid_config() -> None:
    doc = (ROOT / "docs" / "config.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example, source="docs/config.md")
    assert config.peers.bootstrap[0].endswith("@tcp:192.0.2.7:4100")
