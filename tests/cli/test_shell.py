"""The shell's commands on a fake node: the seed's lines, the current peer, errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from tests.cli.fakes import BOB, BOBBY, CAROL, FakeNode

from meshnet.cli.shell import PROMPT, Shell, run_script
from meshnet.cli.shell_completion import PeerNameCache, ShellCompleter, unique_prefixes
from meshnet.plugins import LoadedPlugin, Plugin, ShellCommand, ShellContext


def _shell(node: FakeNode, plugins: Sequence[LoadedPlugin] = ()) -> tuple[Shell, list[str]]:
    out: list[str] = []
    return Shell(node, write=out.append, plugins=plugins), out


def test_connect_as_the_seed_writes_it_sets_the_current_peer() -> None:
    node = FakeNode()
    shell, out = _shell(node)
    assert shell.execute("connect peer123@192.168.1.12")
    assert node.calls == [("connect", "peer123@tcp:192.168.1.12:4100")]
    assert shell.current_peer == "peer123"
    assert out == ["connecting to peer123@tcp:192.168.1.12:4100 (current peer: peer123)"]


def test_send_quoted_text_to_the_current_peer() -> None:
    node = FakeNode()
    shell, out = _shell(node)
    shell.execute("send hi")
    assert out[-1].startswith("usage: send") and "no current peer" in out[-1]
    shell.execute("use bob")
    shell.execute('send "hello world"')
    assert node.calls[-1] == ("send", ("bob", "hello world"))
    assert out[-1] == "sent to bob: 015e5e5e (pending)"
    shell.execute("send --to carol two words")
    assert node.calls[-1] == ("send", ("carol", "two words"))


def test_errors_are_one_line_and_the_shell_goes_on() -> None:
    node = FakeNode()
    shell, out = _shell(node)
    assert shell.execute("send --to nobody hi")
    assert out[-1] == "error: no known node is called 'nobody'"
    assert shell.execute('send "unclosed')
    assert out[-1].startswith("error: No closing quotation")
    assert shell.execute("frobnicate")
    assert out[-1] == "error: unknown command 'frobnicate' (type 'help' for the list)"
    assert shell.execute("connect bob@1.2.3.4:99999")
    assert out[-1].startswith("error: ") and "port" in out[-1]
    assert shell.execute("peers extra")
    assert out[-1].startswith("usage: peers")
    assert all("\n" not in line for line in out)


def test_tables_and_exit() -> None:
    node = FakeNode()
    shell, out = _shell(node)
    shell.execute("peers")
    assert out[-1].splitlines()[1].startswith("bob")
    shell.execute("routes")
    assert "bob > " + CAROL[:8] in out[-1]
    shell.execute("status")
    assert "known nodes: 2" in out[-1]
    shell.execute("trace " + CAROL[:6])
    lines = out[-1].splitlines()
    assert lines[-1] == "end to end: 15.3 ms (the session's smoothed RTT)"
    assert lines[1].split()[:4] == ["1", "bob", "4.0", "ms"]
    assert lines[2].split() == ["2", CAROL[:8], "-", "-", "not", "measured", "by", "this", "node"]
    assert shell.execute("exit") is False
    assert shell.execute("quit") is False


def test_chat_outside_a_terminal_sets_the_peer_and_shows_history() -> None:
    node = FakeNode()
    node.receive("earlier")
    shell, out = _shell(node)
    shell.execute("chat bob")
    assert shell.current_peer == "bob"
    assert out[-1].endswith("bob: earlier")


def test_run_script_echoes_and_stops_at_exit() -> None:
    node = FakeNode()
    shell, out = _shell(node)
    run_script(shell, ["use bob\n", "", "# a comment\n", "exit\n", "peers\n"])
    assert out[0] == f"{PROMPT}use bob"
    assert out[-1] == f"{PROMPT}exit"
    assert not any("NAME" in line for line in out)


class _Tools(Plugin):
    name = "tools"

    def shell_commands(self) -> dict[str, ShellCommand]:
        def shout(context: ShellContext, args: Sequence[str]) -> None:
            context.write(" ".join(args).upper() + f" to {context.current_peer}")

        def boom(context: ShellContext, args: Sequence[str]) -> None:
            raise RuntimeError("kaput")

        return {
            "shout": ShellCommand(run=shout, usage="TEXT...", help="say it loud"),
            "boom": ShellCommand(run=boom, help="always fails"),
            "peers": ShellCommand(run=shout, help="tries to take a built-in"),
        }


class _Broken(Plugin):
    name = "broken"

    def shell_commands(self) -> dict[str, ShellCommand]:
        raise ImportError("missing dependency")


def _loaded(plugin: Plugin) -> LoadedPlugin:
    return LoadedPlugin(name=plugin.name, plugin=plugin, entry_point="x:y", distribution="x 1")


def test_plugin_commands_run_and_their_failures_stay_contained() -> None:
    node = FakeNode()
    shell, out = _shell(node, [_loaded(_Broken()), _loaded(_Tools())])
    assert [str(f) for f in shell.failures] == [
        "plug-in 'broken' skipped: ImportError: missing dependency",
        "plug-in 'tools' skipped: shell command 'peers' is already taken",
    ]
    shell.execute("use bob")
    shell.execute("shout hi there")
    assert out[-1] == "HI THERE to bob"
    assert shell.execute("boom")
    assert out[-1] == "error: plug-in command 'boom' failed: RuntimeError: kaput"
    shell.execute("help")
    assert "shout TEXT..." in out[-1] and "[plug-in]" in out[-1]
    shell.execute("help shout")
    assert out[-1] == "shout TEXT...\n    say it loud"


def test_builtin_bugs_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode()

    def broken() -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(node, "peers", broken)
    shell, _ = _shell(node)
    with pytest.raises(ZeroDivisionError):
        shell.execute("peers")


def _complete(shell: Shell, text: str, names: dict[str, str] | None = None) -> list[str]:
    cache = PeerNameCache(lambda: names if names is not None else shell.peer_names())
    completer = ShellCompleter(shell, cache)
    document = Document(text, len(text))
    return [c.text for c in completer.get_completions(document, CompleteEvent())]


def test_completion_of_commands_and_peer_names() -> None:
    shell, _ = _shell(FakeNode())
    assert _complete(shell, "ro") == ["routes"]
    assert "exit" in _complete(shell, "")
    assert _complete(shell, "chat ") == ["bob", BOB[:21], BOBBY[:21], CAROL[:8]]
    assert _complete(shell, "chat b") == ["bob", BOB[:21], BOBBY[:21]]
    assert _complete(shell, "use bo") == ["bob"]
    assert _complete(shell, "send --to b") == ["bob", BOB[:21], BOBBY[:21]]
    assert _complete(shell, "send hel") == []
    assert _complete(shell, "connect b") == ["bob@", f"{BOB[:21]}@", f"{BOBBY[:21]}@"]
    assert _complete(shell, "routes --") == ["--watch"]


def test_peer_name_cache_refreshes_after_its_ttl_and_survives_a_dead_node() -> None:
    now = [0.0]
    fetched = [0]

    def fetch() -> dict[str, str]:
        fetched[0] += 1
        if fetched[0] == 2:
            raise OSError("connection refused")
        return {BOB: "bob"}

    cache = PeerNameCache(fetch, ttl=5.0, clock=lambda: now[0])
    assert cache.names() == ["bob", BOB[:8]]
    now[0] = 4.9
    assert cache.names() == ["bob", BOB[:8]] and fetched[0] == 1
    now[0] = 5.0
    assert cache.names() == [] and fetched[0] == 2
    now[0] = 10.0
    assert cache.names() == ["bob", BOB[:8]]


def test_unique_prefixes_grow_past_a_shared_start() -> None:
    assert unique_prefixes([BOB, BOBBY, CAROL]) == [BOB[:21], BOBBY[:21], CAROL[:8]]
    assert unique_prefixes([CAROL[:8]]) == [CAROL[:8]]
