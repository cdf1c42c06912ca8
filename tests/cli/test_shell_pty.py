"""The interactive shell in a real pseudo-terminal (pexpect), on a fake node.

Checks the terminal side: the ``meshnet>`` prompt, history kept in a file across
sessions, Tab completion of commands and peer names, the live chat view (history,
typed lines sent, replies and receipts appearing) and ``routes --watch`` stopped by a
key. Every expect has a bounded timeout; the child is closed in every case.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from tests.cli.fakes import CAROL

FAKE_SHELL = Path(__file__).with_name("fake_shell.py")
TIMEOUT = 30
TERMINAL_ENV = {
    "TERM": "xterm",
    "PATH": "/usr/bin:/bin",
    "PYTHONUNBUFFERED": "1",
    "PROMPT_TOOLKIT_NO_CPR": "1",  # pexpect does not answer cursor position requests
}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "state" / "shell_history"


def _spawn(history: Path) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        [str(FAKE_SHELL), str(history)],
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 160),
        env=TERMINAL_ENV,
    )
    child.expect_exact("fake shell ready")
    child.expect_exact("meshnet>")
    return child


@pytest.fixture
def shell(history: Path) -> Iterator[pexpect.spawn]:
    child = _spawn(history)
    try:
        yield child
    finally:
        child.close(force=True)


def test_commands_run_at_the_prompt_and_exit_ends_it(shell: pexpect.spawn) -> None:
    shell.sendline("peers")
    shell.expect(r"bob\s+bbbbbbbb\s+linked")
    shell.expect_exact("meshnet>")
    shell.sendline("frobnicate")
    shell.expect_exact("error: unknown command 'frobnicate'")
    shell.sendline("exit")
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0


def test_tab_completes_commands_and_peer_names(shell: pexpect.spawn) -> None:
    # The terminal shows a completion as a redraw of the line (sometimes only the added
    # characters), so the proof is what the completed line does when run.
    shell.send("sta\t")
    shell.send("\r")
    shell.expect_exact("uptime:")
    shell.expect_exact("meshnet>")
    shell.send("use bo\t")
    shell.send("\r")
    shell.expect_exact("current peer: bob")
    shell.expect_exact("meshnet>")
    shell.send(f"use {CAROL[:3]}\t")
    shell.send("\r")
    shell.expect_exact(f"current peer: {CAROL[:8]}")


def test_history_is_kept_in_the_state_directory(history: Path) -> None:
    child = _spawn(history)
    try:
        child.sendline("use remembered-peer")
        child.expect_exact("current peer: remembered-peer")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "use remembered-peer" in history.read_text()
    child = _spawn(history)
    try:
        child.send("\x1b[A")  # arrow up: the previous session's last line... then older
        child.send("\x1b[A")
        child.send("\r")
        child.expect_exact("current peer: remembered-peer")
    finally:
        child.close(force=True)


def test_chat_shows_history_sends_lines_and_reports_receipts(shell: pexpect.spawn) -> None:
    shell.sendline("chat bob")
    shell.expect_exact("chat with bob")
    shell.expect_exact("bob: hello from bob")
    shell.expect_exact("bob>")
    shell.sendline("how are you?")
    shell.expect_exact("you: how are you?")
    shell.expect_exact("bob: re: how are you?")
    shell.expect_exact("delivered: how are you?")
    shell.expect_exact("read: how are you?")
    shell.sendline("/exit")
    shell.expect_exact("left the chat with bob")
    shell.expect_exact("meshnet>")
    shell.sendline('send "after chat"')
    shell.expect_exact("sent to bob:")


def test_routes_watch_is_live_until_a_key(shell: pexpect.spawn) -> None:
    shell.sendline("routes --watch")
    shell.expect_exact("bob > cccccccc")
    shell.expect_exact("press any key to stop")
    shell.expect_exact("dddddddd")  # a route that appeared after the view opened
    shell.send("q")
    shell.expect_exact("meshnet>")
    shell.sendline("status")
    shell.expect_exact("uptime:")
