"""``make demo`` without a terminal: five real node processes, the tour, then a clean stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture
def demo_tmp() -> Iterator[str]:
    """A TMPDIR of this test's own, so the node processes it looks for are only its
    demo's (another test run on the machine may run a demo meanwhile); short, because
    each node's API socket path lies under it."""
    path = tempfile.mkdtemp(prefix="mdt", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _demo_nodes(tmp: str) -> list[psutil.Process]:
    """``meshnet up`` processes whose home lies in a demo directory under ``tmp``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "up" in cmdline and any(
            part.startswith(os.path.join(tmp, "meshnet-demo-")) for part in cmdline
        ):
            found.append(proc)
    return found


def test_demo_runs_the_tour_across_relays_and_stops_everything(demo_tmp: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meshnet.demo"],
        env={**os.environ, "TMPDIR": demo_tmp},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert out.count("listening on tcp:127.0.0.1:") == 5
    assert _demo_nodes(demo_tmp) == []  # nothing the demo started is left
    assert "erin sent alice a message through 3 relays" in out
    assert "meshnet> peers" in out and "meshnet> chat erin" in out
    assert "bob > carol > dave > erin" in out  # the route really crosses the relays
    assert "erin: hello alice, this is erin, 4 hops away" in out
    assert 'erin received alice\'s "hello", relayed end to end.' in out
    assert "stopping every node..." in out


def test_demo_at_a_terminal_opens_the_shell_and_stops_on_exit(demo_tmp: str) -> None:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "meshnet.demo", "--nodes", "3"],
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 160),
        env={
            "TERM": "xterm",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": ":".join(sys.path),
            "PROMPT_TOOLKIT_NO_CPR": "1",
            "TMPDIR": demo_tmp,
        },
    )
    try:
        child.expect_exact("Type 'help'")  # the shell's greeting
        child.expect_exact("meshnet>")
        child.sendintr()  # Ctrl-C at the prompt abandons the line; the nodes keep running
        child.sendline("peers")
        child.expect_exact("bob")
        child.expect_exact("linked")
        child.sendline("exit")
        child.expect_exact("stopping every node...")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert _demo_nodes(demo_tmp) == []
