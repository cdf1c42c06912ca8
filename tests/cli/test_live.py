"""The CLI and the shell against real ``meshnet up`` daemons on loopback.

Three daemons in a line (a - b - c, so c is two hops from a). The commands run
in-process through ``main`` against a's API socket; the shell runs in a real
pseudo-terminal (pexpect) as ``python -m meshnet shell``. Every wait is bounded, and
every process started is stopped at the end of the module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from meshnet.cli.main import main
from meshnet.demo import NodeProcess, poll, start_node, stopping, wait_for
from meshnet.runtime.home import Home

TIMEOUT = 30
TERMINAL_ENV = {
    "TERM": "xterm",
    "PATH": "/usr/bin:/bin",
    "PYTHONUNBUFFERED": "1",
    "PROMPT_TOOLKIT_NO_CPR": "1",  # pexpect does not answer cursor position requests
}


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    root = tmp_path_factory.mktemp("live")
    procs: list[NodeProcess] = []
    with stopping(procs):
        for name in ("a", "b", "c"):
            connect = [f"{procs[-1].node_id}@{procs[-1].endpoint}"] if procs else []
            proc = start_node(name, root / name, connect)
            procs.append(proc)
            started = wait_for(proc, "Started")
            proc.node_id = started["node_id"]
            proc.endpoint = started["listening"][0]
            if connect:
                wait_for(proc, "PeerConnected")
        a, c = procs[0], procs[2]
        socket = Home(a.home).api_socket
        poll("a's API socket", lambda: socket.exists() or None, timeout=30)

        def a_knows_c() -> bool | None:
            routes = a.client().routes()["routes"]
            return any(r["destination"] == c.node_id and r["path"] for r in routes) or None

        poll("a to find a route to c", a_knows_c)
        yield procs


def _cli(capsys: pytest.CaptureFixture[str], node: NodeProcess, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--home", str(node.home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_commands_read_the_live_node(
    line: list[NodeProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = line
    code, out, _ = _cli(capsys, a, "id", "--json")
    assert code == 0 and json.loads(out)["node_id"] == a.node_id
    code, out, _ = _cli(capsys, a, "peers")
    assert code == 0
    row_b = next(r for r in out.splitlines() if b.node_id[:8] in r)
    assert "linked" in row_b
    row_c = next(r for r in out.splitlines() if c.node_id[:8] in r)
    assert "in mesh" in row_c.split(c.node_id[:8])[1]
    code, out, _ = _cli(capsys, a, "routes")
    assert code == 0 and f"{b.node_id[:8]} > {c.node_id[:8]}" in out
    code, out, _ = _cli(capsys, a, "trace", c.node_id[:10], "--json")
    hops = json.loads(out)["hops"]
    assert [h["node_id"] for h in hops] == [b.node_id, c.node_id]
    assert all(h["rtt"] is not None and h["error"] == "" for h in hops)  # every hop answered
    code, out, _ = _cli(capsys, a, "ping", c.node_id[:10], "-c", "2", "--json")
    pinged = json.loads(out)
    assert (code, pinged["peer"], pinged["sent"], pinged["answered"]) == (0, c.node_id, 2, 2)
    assert pinged["median"] is not None and pinged["median"] > 0
    code, out, _ = _cli(capsys, a, "ping", c.node_id[:10], "-c", "1")
    assert code == 0 and "answer from" in out and "1 sent, 1 answered" in out
    code, out, _ = _cli(capsys, a, "status")
    assert code == 0 and "known nodes: 2" in out


def test_mistakes_and_a_missing_daemon_exit_cleanly(
    line: list[NodeProcess], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = line[0]
    code, out, err = _cli(capsys, a, "trace", "zzzzzz")
    assert (code, out) == (2, "") and err.count("\n") == 1
    code, out, err = _cli(capsys, a, "ping", "zzzzzz")
    assert (code, out) == (2, "") and "zzzzzz" in err and err.count("\n") == 1
    code, out, err = _cli(capsys, a, "ping", line[1].node_id, "-c", "11")
    assert code == 2 and "count" in err and err.count("\n") == 1
    code, out, err = _cli(capsys, a, "connect", "x@127.0.0.1:notaport")
    assert code == 2 and "port" in err and err.count("\n") == 1
    code, out, err = main(["peers", "--home", str(tmp_path / "none")]), *capsys.readouterr()
    assert code == 3 and "meshnet up" in err and "Traceback" not in err


def _shell(node: NodeProcess) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "meshnet", "shell", "--home", str(node.home)],
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 200),
        env={**TERMINAL_ENV, "PYTHONPATH": ":".join(sys.path)},
    )
    child.expect_exact("Type 'help'")
    child.expect_exact("meshnet>")
    return child


def test_shell_connects_as_the_seed_writes_it_and_completes_peers(
    line: list[NodeProcess],
) -> None:
    a, b, c = line
    child = _shell(a)
    try:
        child.sendline("peers")
        child.expect_exact(b.node_id[:8])
        child.expect_exact("meshnet>")
        child.send(f"use {c.node_id[:3]}\t")  # Tab: the unique prefix from the node's peers
        child.send("\r")
        child.expect_exact(f"current peer: {c.node_id[:8]}")
        host, port = c.endpoint.removeprefix("tcp:").rsplit(":", 1)
        child.sendline(f"connect {c.node_id[:8]}@{host}:{port}")
        child.expect_exact(f"connecting to {c.node_id[:8]}@tcp:{host}:{port}")
        child.sendline("routes --watch")
        child.expect_exact("press any key to stop")
        child.send("x")
        child.expect_exact("meshnet>")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert (Home(a.home).root / "shell_history").read_text().count("connect ") == 1

    def linked_to_c() -> bool | None:
        peers = a.client().peers()["peers"]
        return any(p["node_id"] == c.node_id and p["linked"] for p in peers) or None

    poll("a to link to c directly", linked_to_c)


def _inbox_texts(node: NodeProcess, peer: str) -> list[str]:
    return [m["text"] for m in node.client().inbox(peer=peer)["messages"]]


def test_send_crosses_the_relay_and_lands_in_the_inbox(
    line: list[NodeProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    a, _, c = line
    code, out, err = _cli(capsys, a, "send", c.node_id[:8], "hello", "c", "--json")
    assert (code, err) == (0, "")
    sent = json.loads(out)
    assert sent["peer"] == c.node_id and sent["text"] == "hello c"
    poll("the message to reach c", lambda: "hello c" in _inbox_texts(c, a.node_id) or None)
    code, out, _ = _cli(capsys, c, "inbox", "--peer", a.node_id[:8])
    assert code == 0 and out.rstrip().endswith(f"{a.node_id[:8]}: hello c")
    code, out, _ = _cli(capsys, a, "trace", c.node_id[:8])  # a session to c exists now
    assert code == 0 and "end to end: " in out and "(the session's smoothed RTT)" in out


def test_chat_view_shows_arrivals_sends_lines_and_receipts(line: list[NodeProcess]) -> None:
    a, _, c = line
    child = _shell(c)
    try:
        child.sendline(f"chat {a.node_id[:8]}")
        child.expect_exact(f"chat with {a.node_id[:8]}")
        child.expect_exact(f"{a.node_id[:8]}>")
        a.client().send_message(c.node_id, "live from a")  # arrives while the view is open
        child.expect_exact(f"{a.node_id[:8]}: live from a")
        child.sendline("right back at you")
        child.expect_exact("you: right back at you")
        child.expect_exact("delivered: right back at you")  # the receipt came back from a
        child.sendline("/exit")
        child.expect_exact("left the chat")
        child.expect_exact("meshnet>")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "right back at you" in _inbox_texts(a, c.node_id)
    shown = [m for m in c.client().inbox(peer=a.node_id)["messages"] if m["text"] == "live from a"]
    assert shown and shown[0]["read"]  # shown in the chat, so marked read


def test_plugin_message_handler_answers_through_the_node(
    line: list[NodeProcess], tmp_path: Path
) -> None:
    from tests.cli.conftest import example_site

    a, _, c = line
    paths = [str(p) for p in example_site(tmp_path / "site")]
    serve = pexpect.spawn(
        sys.executable,
        ["-m", "meshnet", "plugins", "serve", "--count", "1", "--home", str(c.home)],
        encoding="utf-8",
        timeout=TIMEOUT,
        env={**TERMINAL_ENV, "PYTHONPATH": ":".join([*paths, *sys.path])},
    )
    try:
        serve.expect_exact("handling received messages with: echo")
        a.client().send_message(c.node_id, "are you there?")
        serve.expect_exact(f"from {a.node_id[:8]}")
        serve.expect(pexpect.EOF)
    finally:
        serve.close(force=True)
    assert serve.exitstatus == 0
    poll(
        "the echo to reach a",
        lambda: "echo: are you there?" in _inbox_texts(a, c.node_id) or None,
    )
