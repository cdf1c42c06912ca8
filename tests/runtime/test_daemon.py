"""``meshnet up`` as real processes on loopback: link up, identity checks, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class Daemon:
    def __init__(self, home: Path, *extra: str) -> None:
        args = [sys.executable, "-m", "meshnet", "up", "--json", "--home", str(home)]
        args += ["--listen", "tcp:127.0.0.1:0", *extra]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started = self.wait_for("Started")

    def wait_for(self, kind: str, limit: int = 50) -> dict[str, Any]:
        """Read JSON lines until one of ``kind`` (bounded in lines; the pipe read blocks
        until the process writes or exits, and the fixture kills it on failure)."""
        assert self.process.stdout is not None
        for _ in range(limit):
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                event = json.loads(line)
                if event["event"] == kind:
                    return event
        raise AssertionError(
            f"no {kind} event; stderr: {self.process.stderr.read() if self.process.stderr else ''}"
        )

    @property
    def endpoint(self) -> str:
        return str(self.started["listening"][0])

    @property
    def node_id(self) -> str:
        return str(self.started["node_id"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop()
    for d in started:
        try:
            d.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            d.process.kill()
            d.process.wait()
        for stream in (d.process.stdout, d.process.stderr):
            if stream is not None:
                stream.close()


def test_two_daemons_link_and_stop_cleanly(tmp_path: Path, daemons: list[Daemon]) -> None:
    a = Daemon(tmp_path / "a")
    daemons.append(a)
    b = Daemon(tmp_path / "b", "--connect", f"{a.node_id}@{a.endpoint}")
    daemons.append(b)
    up_b = b.wait_for("PeerConnected")
    up_a = a.wait_for("PeerConnected")
    assert up_b["peer"] == a.node_id and up_b["outbound"] is True
    assert up_a["peer"] == b.node_id and up_a["outbound"] is False
    assert (tmp_path / "a" / "identity.key").stat().st_mode & 0o777 == 0o600
    b.stop()
    assert b.wait_for("Stopped")["node_id"] == b.node_id
    assert b.process.wait(timeout=10) == 0
    down = a.wait_for("PeerDisconnected")
    assert down["peer"] == b.node_id and down["reason"] == "shutdown" and down["by_peer"] is True


def test_wrong_identity_is_refused(tmp_path: Path, daemons: list[Daemon]) -> None:
    a = Daemon(tmp_path / "a")
    daemons.append(a)
    other = Daemon(tmp_path / "other")
    daemons.append(other)
    b = Daemon(tmp_path / "b", "--connect", f"{other.node_id}@{a.endpoint}")
    daemons.append(b)
    failed = b.wait_for("PeerDialFailed")
    assert a.node_id[:8] in failed["reason"] and other.node_id[:8] in failed["reason"]
    assert failed["retry_in"] is not None


def test_restarted_daemon_keeps_its_identity(tmp_path: Path, daemons: list[Daemon]) -> None:
    first = Daemon(tmp_path / "a")
    daemons.append(first)
    first.stop()
    first.process.wait(timeout=10)
    second = Daemon(tmp_path / "a")
    daemons.append(second)
    assert second.node_id == first.node_id
