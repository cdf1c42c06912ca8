"""``meshnet id | peers | connect | ... | trace`` on a fake node: output, --json, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tests.cli.fakes import ALICE, BOB, CAROL, FakeNode, message_id

from meshnet.api.client import ApiError
from meshnet.cli.commands import common
from meshnet.cli.main import main


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> FakeNode:
    fake = FakeNode()
    monkeypatch.setattr(common, "open_client", lambda args: fake)
    return fake


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["id"], ALICE),
        (["peers"], "bob"),
        (["status"], "uptime:"),
        (["routes"], "bob > " + CAROL[:8]),
        (["inbox"], "no messages"),
        (["trace", "ccc"], "not measured by this node"),
        (["connect", "bob@127.0.0.1"], "connecting to bob@tcp:127.0.0.1:4100"),
        (["disconnect", "bob"], "disconnected bob: link closed, no longer redialled"),
        (["send", "bob", "hello", "world"], f"sent to bob: {message_id(1)} (pending)"),
    ],
)
def test_each_command_prints_text_and_json(
    node: FakeNode, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert (code, err) == (0, "")
    assert expected in out
    code, out, err = _run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    json.loads(out)


def test_json_is_the_nodes_answer(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "peers", "--json")
    assert json.loads(out) == node.peers()
    _, out, _ = _run(capsys, "status", "--json")
    assert json.loads(out) == node.status()
    _, out, _ = _run(capsys, "trace", CAROL, "--json")
    hops = json.loads(out)["hops"]
    assert [h["node_id"] for h in hops] == [BOB, CAROL]
    assert [h["rtt"] for h in hops] == [0.004, None]
    assert json.loads(out)["end_to_end_rtt"] == 0.0153


def test_send_passes_expiry_and_joins_words(
    node: FakeNode, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "send", "bob", "two", "words", "--expires-in", "60")[0] == 0
    assert node.calls[-1] == ("send", ("bob", "two words"))


def test_user_mistakes_are_one_line_and_status_2(
    node: FakeNode, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "send", "nobody", "hi")
    assert (code, out) == (2, "")
    assert err == "meshnet: error: no known node is called 'nobody'\n"
    code, out, err = _run(capsys, "connect", "bob@host:http")
    assert code == 2 and err.count("\n") == 1 and "port must be a number" in err
    code, _, err = _run(capsys, "trace", "zzz")
    assert code == 2 and err == "meshnet: error: no known node is called 'zzz'\n"
    with pytest.raises(SystemExit) as exited:
        main(["send", "bob", "hi", "--expires-in", "soon"])
    assert exited.value.code == 2
    assert "is not a number of seconds" in capsys.readouterr().err


def test_api_errors_map_to_exit_codes(
    node: FakeNode, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(status: int) -> None:
        def peers() -> object:
            raise ApiError(status, "x", f"the node says {status}")

        monkeypatch.setattr(node, "peers", peers)

    fail(404)
    assert _run(capsys, "peers") == (2, "", "meshnet: error: the node says 404\n")
    fail(500)
    assert _run(capsys, "peers") == (1, "", "meshnet: failed: the node says 500\n")

    def refused() -> object:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(node, "peers", refused)
    assert _run(capsys, "peers")[0] == 1


def test_no_node_running_is_status_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "peers", "--home", str(tmp_path / "nothing-here"))
    assert (code, out) == (3, "")
    assert err.startswith("meshnet: failed: no daemon: ")
    assert "meshnet up" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "shell", "--home", str(tmp_path / "nothing-here"))
    assert code == 3 and "meshnet up" in err


def test_chat_from_a_pipe_sends_each_line_then_shows_the_conversation(
    node: FakeNode, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    node.receive("hi alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n\nsecond line\n"))
    code, out, _ = _run(capsys, "chat", "bob", "--json")
    assert code == 0
    conversation = json.loads(out)
    assert conversation["peer"] == BOB
    assert [(m["direction"], m["text"]) for m in conversation["messages"]] == [
        ("in", "hi alice"),
        ("out", "first line"),
        ("out", "second line"),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    _, out, _ = _run(capsys, "chat", "bob")
    lines = out.splitlines()
    assert lines[0] == f"conversation with bob ({BOB[:8]})"
    assert lines[1].endswith("bob: hi alice")
    assert lines[2].endswith("you: first line  (pending)")


def test_inbox_filters_and_marks_read(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    node.receive("one")
    node.receive("two")
    code, out, _ = _run(capsys, "inbox", "--unread", "--mark-read", "--peer", "bob")
    assert code == 0 and out.splitlines()[0].endswith("bob: one")
    assert ("inbox", ("bob", True, 100)) in node.calls
    assert [c for c in node.calls if c[0] == "mark_read"] == [
        ("mark_read", message_id(1)),
        ("mark_read", message_id(2)),
    ]
    _, out, _ = _run(capsys, "inbox", "--unread")
    assert out == "no messages\n"


def test_the_socket_comes_from_the_config_in_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[api]\nsocket = "elsewhere.sock"\n')
    code, _, err = _run(capsys, "status", "--home", str(home))
    assert code == 3 and str(home / "elsewhere.sock") in err
    code, _, err = _run(capsys, "status", "--socket", str(tmp_path / "given.sock"))
    assert code == 3 and str(tmp_path / "given.sock") in err
    (home / "config.toml").write_text("[api]\nsocket = 5\n")
    code, out, err = _run(capsys, "status", "--home", str(home))
    assert (code, out) == (2, "") and "config.toml" in err and err.count("\n") == 1


def test_a_client_without_messaging_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class OldClient:  # the link and route calls only
        def peers(self) -> object:
            return {"peers": []}

    monkeypatch.setattr(common, "open_client", lambda args: OldClient())
    code, out, err = _run(capsys, "send", "bob", "hi")
    assert (code, out) == (1, "")
    assert err == "meshnet: failed: this version of the node's API client has no messaging calls\n"
