"""``meshnet up`` as real processes on loopback: links, config, signals, errors.

Every process gets a watchdog that kills it after ``LIMIT`` seconds, so a read of its
output never blocks a test for longer; the fixture stops and reaps every process.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshnet.runtime.msgstore import SqliteMessageStore

LIMIT = 60.0
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +\S")


class Daemon:
    def __init__(self, home: Path, *extra: str, json_events: bool = True) -> None:
        args = [sys.executable, "-m", "meshnet", "up", "--home", str(home)]
        if json_events:
            args.append("--json")
        if not any(a.startswith("--listen") for a in extra) and "--config" not in extra:
            args += ["--listen", "tcp:127.0.0.1:0"]
        self.process = subprocess.Popen(
            [*args, *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.watchdog = threading.Timer(LIMIT, self.process.kill)
        self.watchdog.start()
        self.started: dict[str, Any] = {}
        if json_events:
            self.started = self.wait_for("Started")

    def wait_for(self, kind: str, limit: int = 50) -> dict[str, Any]:
        """Read JSON lines until one of ``kind`` (bounded in lines, and in time by the
        watchdog)."""
        assert self.process.stdout is not None
        for _ in range(limit):
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                event = json.loads(line)
                if event["event"] == kind:
                    return event
        raise AssertionError(f"no {kind} event; stderr: {self.stderr()}")

    def wait_for_line(self, pattern: str, limit: int = 50) -> str:
        """Read log lines on stdout until one contains ``pattern``."""
        assert self.process.stdout is not None
        for _ in range(limit):
            line = self.process.stdout.readline()
            if not line:
                break
            if pattern in line:
                return line.rstrip("\n")
        raise AssertionError(f"no line with {pattern!r}; stderr: {self.stderr()}")

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read() if self.process.stderr else ""

    def finish(self) -> tuple[int, str]:
        """Wait for the process to exit on its own; its status and stderr."""
        code = self.process.wait(timeout=LIMIT)
        return code, self.stderr()

    @property
    def endpoint(self) -> str:
        return str(self.started["listening"][0])

    @property
    def node_id(self) -> str:
        return str(self.started["node_id"])

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
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
        d.watchdog.cancel()
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
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
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


def test_bootstrap_peers_from_the_config_are_linked(tmp_path: Path, daemons: list[Daemon]) -> None:
    a = Daemon(tmp_path / "a")
    daemons.append(a)
    home = tmp_path / "b"
    home.mkdir()
    (home / "config.toml").write_text(
        '[node]\nname = "bee"\n'
        '[listen]\nendpoints = ["tcp:127.0.0.1:0"]\n'
        f'[peers]\nbootstrap = ["alice@{a.endpoint}"]\n'
        f'[peers.petnames]\nalice = "{a.node_id}"\n'
    )
    b = Daemon(home)
    daemons.append(b)
    assert b.started["name"] == "bee" and b.started["home"] == str(home)
    assert b.wait_for("PeerConnected")["peer"] == a.node_id


def test_readable_logs_and_sigint_close_everything(tmp_path: Path, daemons: list[Daemon]) -> None:
    home = tmp_path / "a"
    d = Daemon(home, json_events=False)
    daemons.append(d)
    created = d.wait_for_line("created a new identity")
    started = d.wait_for_line(" started: ")
    assert LOG_LINE.match(created) and LOG_LINE.match(started)
    short = re.search(r"node (\S+) started: listening on (tcp:127\.0\.0\.1:\d+)", started)
    assert short is not None and len(short[1]) == 8
    assert "LAN discovery off" in started
    d.stop(signal.SIGINT)
    stopped = d.wait_for_line(" stopped")
    assert LOG_LINE.match(stopped) and short[1] in stopped
    assert d.finish() == (0, "")
    assert not (home / "messages.db-wal").exists()  # the last close checkpointed the WAL
    SqliteMessageStore.open(home / "messages.db").close()  # passes its integrity check


def test_sigterm_during_links_exits_zero(tmp_path: Path, daemons: list[Daemon]) -> None:
    a = Daemon(tmp_path / "a")
    daemons.append(a)
    b = Daemon(tmp_path / "b", "--connect", a.endpoint)
    daemons.append(b)
    b.wait_for("PeerConnected")
    a.stop(signal.SIGTERM)
    a.wait_for("Stopped")
    code, err = a.finish()
    assert code == 0 and "Traceback" not in err and "ERROR" not in err
    assert not (tmp_path / "a" / "messages.db-wal").exists()


def one_line_error(d: Daemon) -> str:
    code, err = d.finish()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("meshnet: error: "), err
    assert d.process.stdout is not None and "Started" not in d.process.stdout.read()
    return err


def test_config_errors_name_the_file_and_key(tmp_path: Path, daemons: list[Daemon]) -> None:
    home = tmp_path / "a"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[listen]\nendpoints = ["tcp:127.0.0.1:0", "foo"]\n')
    d = Daemon(home, "--config", str(config), json_events=False)
    daemons.append(d)
    err = one_line_error(d)
    assert f'{config}: listen.endpoints[1]: expected "tcp:HOST:PORT" or "udp:HOST:PORT"' in err
    assert not (home / "identity.key").exists()  # nothing started half-configured
    config.write_text("[discovery]\nenable = true\n")
    d = Daemon(home, json_events=False)
    daemons.append(d)
    assert f"{config}: discovery.enable: unknown key" in one_line_error(d)


def test_a_bad_flag_is_a_usage_error(tmp_path: Path, daemons: list[Daemon]) -> None:
    d = Daemon(tmp_path / "a", "--listen", "tcp:127.0.0.1:0", "--listen", "nope", json_events=False)
    daemons.append(d)
    assert '--listen[1]: expected "tcp:HOST:PORT"' in one_line_error(d)


def test_port_in_use_is_one_line(tmp_path: Path, daemons: list[Daemon]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = Daemon(tmp_path / "a", "--listen", f"tcp:127.0.0.1:{port}", json_events=False)
        daemons.append(d)
        err = one_line_error(d)
    assert "address already in use" in err.lower() and "another node" in err
    assert err.count(str(port)) == 1  # the address is named once
