"""PNG figures of a run: delivery over time, latency distribution, links used.

matplotlib is imported here only, inside ``write_plots``, with the non-interactive
Agg backend; nothing else in the simulator needs it. The topology figure draws each
link with a width and colour that grow with the bytes it carried: the relays do not
report paths, so this shows the routes used in aggregate.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from meshnet.errors import ConfigError
from meshnet.sim.report import RunReport
from meshnet.sim.topology import Topology

__all__ = ["require_matplotlib", "write_plots"]


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, imported on first use only."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib: install it with 'pip install matplotlib'"
        ) from None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def require_matplotlib() -> None:
    """Check early that plots can be drawn.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    _pyplot()


def write_plots(report: RunReport, topology: Topology, directory: Path) -> list[Path]:
    """Write ``delivery.png``, ``latency.png`` and ``topology.png`` into ``directory``.

    Returns:
        The files written.

    Raises:
        ConfigError: matplotlib is not installed or the directory cannot be made.
    """
    plt = _pyplot()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{directory}: cannot create the plot directory: {exc.strerror}"
        ) from None
    written = [
        _delivery(plt, report, directory / "delivery.png"),
        _latency(plt, report, directory / "latency.png"),
        _topology(plt, report, topology, directory / "topology.png"),
    ]
    return written


def _delivery(plt: Any, report: RunReport, path: Path) -> Path:
    m = report.metrics
    fig, ax = plt.subplots(figsize=(8, 4))
    times = [row[0] for row in m.timeline]
    ax.plot(times, [row[1] for row in m.timeline], label="sent", color="tab:gray")
    ax.plot(times, [row[2] for row in m.timeline], label="delivered", color="tab:blue")
    ax.set_xlabel("simulated time (s), by send time")
    ax.set_ylabel("messages per bin")
    ratio = ax.twinx()
    ratio.plot(
        times,
        [row[2] / row[1] if row[1] else math.nan for row in m.timeline],
        color="tab:green",
        linewidth=0.8,
        label="delivery ratio",
    )
    ratio.set_ylim(0, 1.05)
    ratio.set_ylabel("delivery ratio")
    for conv in m.convergence:
        ax.axvline(conv.at, color="tab:red", linestyle=":", linewidth=0.8)
        ax.annotate(conv.fault, (conv.at, 0), rotation=90, fontsize=7, color="tab:red")
    ax.legend(loc="upper left")
    ax.set_title(f"{report.name}: delivery over time (seed {report.seed})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _latency(plt: Any, report: RunReport, path: Path) -> Path:
    m = report.metrics
    fig, ax = plt.subplots(figsize=(8, 4))
    samples = [x * 1000 for x in m.latencies]
    if samples:
        ax.hist(samples, bins=60, color="tab:blue", alpha=0.8)
        for label, value in (
            ("median", m.latency.median),
            ("p95", m.latency.p95),
            ("p99", m.latency.p99),
        ):
            if value is not None:
                ax.axvline(value * 1000, linestyle="--", linewidth=0.8, color="black")
                ax.annotate(label, (value * 1000, 0), rotation=90, fontsize=7)
    else:
        ax.text(0.5, 0.5, "no message was delivered", ha="center", transform=ax.transAxes)
    ax.set_xlabel("end-to-end latency (ms)")
    ax.set_ylabel("messages")
    ax.set_title(f"{report.name}: latency ({m.latency.count} messages)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _positions(topology: Topology) -> list[tuple[float, float]]:
    if topology.positions is not None:
        return list(topology.positions)
    n = topology.nodes
    return [(math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)) for i in range(n)]


def _topology(plt: Any, report: RunReport, topology: Topology, path: Path) -> Path:
    pos = _positions(topology)
    usage = {(a, b): n for a, b, n in report.link_usage}
    peak = max(usage.values(), default=0) or 1
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = plt.get_cmap("viridis")
    for a, b in topology.edges:
        share = usage.get((a, b), 0) / peak
        ax.plot(
            [pos[a][0], pos[b][0]],
            [pos[a][1], pos[b][1]],
            color=cmap(share),
            linewidth=0.5 + 4.5 * share,
            zorder=1,
        )
    ax.scatter([p[0] for p in pos], [p[1] for p in pos], s=14, color="black", zorder=2)
    if topology.nodes <= 50:
        for i, (x, y) in enumerate(pos):
            ax.annotate(str(i), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{report.topology}: links by bytes carried (widest = {peak} bytes)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
