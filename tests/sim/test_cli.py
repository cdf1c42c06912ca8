"""``meshnet sim run``: report, JSON, trace file, plots, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshnet.cli.main import main
from meshnet.errors import ConfigError
from meshnet.sim.registry import DRIVER_VERBS, resolve_node_factory
from meshnet.sim.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]
LINE10 = str(ROOT / "scenarios" / "line10.toml")
TOY = "tests.sim.toynode:make_toy_node"


def run_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    code = main(["sim", "run", LINE10, "--node", TOY, "--duration", "8", "--json", *extra])
    assert code == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_json_report_is_deterministic_and_follows_the_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = run_json(capsys)
    second = run_json(capsys)
    other = run_json(capsys, "--seed", "2")
    assert first["digest"] == second["digest"] != other["digest"]
    metrics = first["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["delivered"] == metrics["offered"] > 0
    assert first["name"] == "line10" and first["nodes"] == 10


def test_text_report_and_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "out.jsonl"
    code = main(["sim", "run", LINE10, "--node", TOY, "--duration", "6", "--trace", str(trace)])
    assert code == 0
    out = capsys.readouterr().out
    assert "scenario   line10 (seed 1)" in out
    assert "delivery" in out and "latency" in out and f"trace      {trace}" in out
    kinds = {rec["kind"] for rec in read_trace(trace)}
    assert {"node", "send", "deliver", "links"} <= kinds
    assert "frame" not in kinds
    main(
        [
            "sim",
            "run",
            LINE10,
            "--node",
            TOY,
            "--duration",
            "2",
            "--trace",
            str(trace),
            "--trace-frames",
        ]
    )
    assert "frame" in {rec["kind"] for rec in read_trace(trace)}


def test_plots_are_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    code = main(
        ["sim", "run", LINE10, "--node", TOY, "--duration", "4", "--plot", str(tmp_path / "fig")]
    )
    assert code == 0
    for name in ("delivery.png", "latency.png", "topology.png"):
        data = (tmp_path / "fig" / name).read_bytes()
        assert data.startswith(b"\x89PNG")


def test_bad_scenario_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nduration = 1.0\n[topology]\nkind = 'line'\nnodes = 3\nfoo = 1\n")
    assert main(["sim", "run", str(bad), "--node", TOY]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "topology.foo" in err


def test_unknown_node_factory_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "run", LINE10, "--node", "no.such.module:factory"]) == 2
    assert "cannot import no.such.module" in capsys.readouterr().err
    assert main(["sim", "run", LINE10, "--node", "json:no_such_attribute"]) == 2
    assert "no callable 'no_such_attribute'" in capsys.readouterr().err


def test_sim_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim"]) == 2
    assert "choose a subcommand" in capsys.readouterr().err


def test_real_node_is_used_when_ready_and_explained_when_not() -> None:
    try:
        factory = resolve_node_factory(None)
    except ConfigError as exc:
        text = str(exc)
        assert "meshnet.node" in text
        missing = [verb for verb in DRIVER_VERBS if verb in text]
        assert missing or "import" in text or "no Node" in text
    else:
        assert callable(factory)
