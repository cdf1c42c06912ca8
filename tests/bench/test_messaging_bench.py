"""``bench/messaging.py`` in a tiny configuration: it runs, and its JSON line adds up.

Real node processes on loopback (a line of four, one hop and three hops) with SQLite
stores; a handful of messages per case, so it only shows that the benchmark works and
reports consistent figures, not what they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_run_reports_every_figure_beside_its_ceiling(tmp_path: Path) -> None:
    tiny = ["--rounds", "1", "--count", "6", "--dir", str(tmp_path)]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "messaging.py"), "--json", *tiny],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    figures = result["figures"]
    assert result["benchmark"] == "messaging"
    assert result["message_bytes"] == 100
    assert figures["store_commits_per_s"] > 0
    assert figures["sealed_rtt_ms_median"] > 0
    for hops in ("1hop", "3hop"):
        rate = figures[f"msgs_per_s_{hops}"]
        assert rate > 0
        ratio = rate / figures["store_commits_per_s"]
        assert figures[f"msgs_per_s_{hops}_vs_store"] == pytest.approx(ratio, rel=1e-2)
        received = figures[f"latency_ms_median_{hops}_received"]
        delivered = figures[f"latency_ms_median_{hops}_delivered"]
        # MessageDelivered needs the receiver's ACK, which follows its MessageReceived commit
        assert 0 < figures[f"send_ms_median_{hops}"] < received < delivered
        assert figures[f"latency_ms_p99_{hops}_delivered"] >= delivered
        ping = figures[f"ping_ms_median_{hops}"]
        assert figures[f"latency_ms_median_{hops}_delivered_vs_ping"] == pytest.approx(
            delivered / ping, rel=1e-2
        )
    assert list(tmp_path.iterdir()) == []  # the databases were removed
