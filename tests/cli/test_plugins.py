"""Plug-ins: loading through entry points, the example plug-in, broken plug-ins skipped."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.cli.conftest import write_dist_info
from tests.cli.fakes import BOB, FakeNode

from meshnet.cli.main import main
from meshnet.cli.plugins import cli_plugins
from meshnet.cli.shell import Shell
from meshnet.plugins import (
    IncomingMessage,
    LoadedPlugin,
    Plugin,
    dispatch_message,
    load_plugins,
)

MODULE = "meshnet_plugin_fixtures"


@pytest.fixture
def fixtures_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module with good and bad plug-in objects, and entry points naming them."""
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{MODULE}.py").write_text(
        "from meshnet.plugins import Plugin, ShellCommand\n"
        "class Good(Plugin):\n"
        "    name = 'good'\n"
        "def factory():\n"
        "    p = Plugin(); p.name = 'made'; return p\n"
        "def bad_factory():\n"
        "    return 42\n"
        "not_a_plugin = object()\n"
        "class Clash(Plugin):\n"
        "    name = 'clash'\n"
        "    def add_cli_commands(self, subparsers):\n"
        "        subparsers.add_parser('clash-extra')\n"
        "        subparsers.add_parser('peers-of-mine')\n"
        "        subparsers.add_parser('identity')\n"
    )
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return code


def _entry(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="meshnet.plugins")


def test_load_plugins_keeps_the_good_and_reports_the_bad(fixtures_module: Path) -> None:
    plugins, failures = load_plugins(
        [
            _entry("good", f"{MODULE}:Good"),
            _entry("factory", f"{MODULE}:factory"),
            _entry("missing", "no_such_module_here:Thing"),
            _entry("bad-factory", f"{MODULE}:bad_factory"),
            _entry("object", f"{MODULE}:not_a_plugin"),
            _entry("again", f"{MODULE}:Good"),
        ]
    )
    assert [p.name for p in plugins] == ["good", "made"]
    assert isinstance(plugins[0].plugin, Plugin)
    assert plugins[0].entry_point == f"{MODULE}:Good"
    errors = {f.name: f.error for f in failures}
    assert errors["missing"].startswith("ModuleNotFoundError: No module named")
    assert errors["bad-factory"] == "TypeError: the factory returned int, not a meshnet Plugin"
    assert "is not a meshnet Plugin" in errors["object"]
    assert errors["good"] == f"duplicate name (from {MODULE}:Good)"
    assert all("\n" not in str(f) for f in failures)


def test_example_plugin_is_found_through_installed_entry_points(
    echo_installed: list[Path],
) -> None:
    found = importlib.metadata.entry_points(group="meshnet.plugins")
    assert "echo" in found.names
    plugins, failures = load_plugins()
    echo = next(p for p in plugins if p.name == "echo")
    assert echo.distribution == "meshnet-echo 0.1.0"
    assert echo.entry_point == "meshnet_echo:EchoPlugin"
    assert not [f for f in failures if f.name == "echo"]


def test_example_plugin_adds_a_cli_command(
    echo_installed: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["echo", "hello", "mesh"]) == 0
    assert capsys.readouterr().out == "hello mesh\n"
    assert main(["echo", "--json", "hi"]) == 0
    assert json.loads(capsys.readouterr().out) == "hi"
    assert main(["plugins", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    echo = next(p for p in listing["plugins"] if p["name"] == "echo")
    assert echo == {
        "name": "echo",
        "distribution": "meshnet-echo 0.1.0",
        "entry_point": "meshnet_echo:EchoPlugin",
        "provides": ["cli", "shell", "messages"],
    }


def test_example_plugin_shell_commands_and_auto_reply(echo_installed: list[Path]) -> None:
    node = FakeNode()
    out: list[str] = []
    shell = Shell(node, write=out.append, plugins=cli_plugins())
    assert shell.failures == []
    shell.execute('echo "two  spaces" kept')
    assert out[-1] == "two  spaces kept"
    shell.execute("uptime")
    assert out[-1] == "up 1m 15s"  # the fake node reports its uptime
    node.status = lambda: {"node_id": "x"}  # type: ignore[method-assign]
    shell.execute("uptime")
    assert out[-1] == f"on the mesh for 1h 2m 5s (oldest link: to {BOB[:8]})"
    echo = next(p for p in cli_plugins() if p.name == "echo")
    replies: list[str] = []
    message = IncomingMessage(id="m1", sender=BOB, text="ping?")
    assert dispatch_message([echo], message, replies.append) == []
    echoed = IncomingMessage(id="m2", sender=BOB, text=replies[0])
    assert dispatch_message([echo], echoed, replies.append) == []
    assert replies == ["echo: ping?"]


def test_a_broken_installed_plugin_is_one_line_and_the_cli_works(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixtures_module: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = tmp_path / "broken-site"
    write_dist_info(
        site,
        "meshnet-broken",
        "1.0",
        {"broken": "no_such_module_for_meshnet:Plugin", "clash": f"{MODULE}:Clash"},
    )
    monkeypatch.syspath_prepend(str(site))
    assert main(["plugins", "list"]) == 0
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert any(
        line.startswith("meshnet: plug-in 'broken' skipped: ModuleNotFoundError") for line in errors
    )
    clash = [line for line in errors if "'clash'" in line]
    assert clash == [
        "meshnet: plug-in 'clash' skipped: ArgumentError: argument COMMAND: "
        "conflicting subparser: identity"
    ]
    assert "Traceback" not in captured.err
    assert "skipped broken: ModuleNotFoundError" in captured.out
    with pytest.raises(SystemExit) as exited:  # the clashing plug-in's commands are all gone
        main(["clash-extra"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_failing_message_handlers_do_not_stop_the_others() -> None:
    class Angry(Plugin):
        def on_message(self, message: IncomingMessage, reply: object) -> None:
            raise ValueError("no")

    class Polite(Plugin):
        def on_message(self, message: IncomingMessage, reply: object) -> None:
            assert callable(reply)
            reply("thanks")

    loaded: Sequence[LoadedPlugin] = [
        LoadedPlugin(name=n, plugin=p, entry_point="x:y", distribution="?")
        for n, p in (("angry", Angry()), ("polite", Polite()))
    ]
    replies: list[str] = []
    failures = dispatch_message(
        loaded, IncomingMessage(id="1", sender=BOB, text="hi"), replies.append
    )
    assert [str(f) for f in failures] == ["plug-in 'angry' skipped: ValueError: no"]
    assert replies == ["thanks"]
