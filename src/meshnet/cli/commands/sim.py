"""``meshnet sim run SCENARIO``: play a simulator scenario and print its report.

The scenario file (TOML, see docs/simulator.md) says the topology, the links, the
traffic and the faults; ``--seed`` replaces its seed, ``--duration`` its length. The
nodes are the real ``meshnet`` node unless the scenario's ``node`` key or ``--node``
names another factory (``package.module:attribute``). ``--trace`` writes every record
as JSON lines (``--trace-frames`` adds one line per frame), ``--plot DIR`` draws PNG
figures (needs matplotlib) and ``--json`` prints the report as one JSON object.
``--workers N`` splits the nodes among N processes (``meshnet.sim.parallel``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

from meshnet.errors import ConfigError
from meshnet.sim.parallel import run_partitioned
from meshnet.sim.plots import require_matplotlib, write_plots
from meshnet.sim.registry import resolve_node_factory
from meshnet.sim.report import format_report, report_to_json
from meshnet.sim.scenario import load_scenario
from meshnet.sim.trace import Trace

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet sim`` and its subcommands to the root parser."""
    group = subparsers.add_parser(
        "sim",
        help="run the deterministic simulator",
        description="Run many nodes on virtual time over simulated links.",
    )
    group.set_defaults(handler=lambda _args: _usage(group))
    commands = group.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    run = commands.add_parser(
        "run",
        help="play a scenario file and print a report",
        description="Play a scenario file (TOML) and print what was measured.",
    )
    run.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario file")
    run.add_argument("--seed", type=int, default=None, help="replace the scenario's seed")
    run.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="replace the scenario's duration (simulated seconds of traffic)",
    )
    run.add_argument(
        "--node",
        default=None,
        metavar="FACTORY",
        help="the node factory: 'meshnet' (the real node, default) or package.module:attribute",
    )
    run.add_argument(
        "--trace", type=Path, default=None, metavar="PATH", help="write the trace (JSON lines)"
    )
    run.add_argument(
        "--trace-frames", action="store_true", help="also write one trace line per frame delivered"
    )
    run.add_argument(
        "--plot", type=Path, default=None, metavar="DIR", help="write PNG figures into DIR"
    )
    run.add_argument("--json", action="store_true", help="print the report as one JSON object")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="split the nodes among N processes (deterministic for a given N; "
        "no faults; docs/simulator.md)",
    )
    run.set_defaults(handler=_run)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("meshnet sim: error: choose a subcommand: run", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    factory = resolve_node_factory(args.node if args.node is not None else scenario.node)
    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration must be > 0, got {args.duration}")
    if args.plot is not None:
        require_matplotlib()
    with contextlib.ExitStack() as stack:
        sink = None
        if args.trace is not None:
            try:
                sink = stack.enter_context(args.trace.open("w", encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(f"{args.trace}: cannot write the trace: {exc.strerror}") from None
        trace = Trace(sink=sink, frames=args.trace_frames or scenario.trace_frames)
        started = time.perf_counter()
        if args.workers != 1:
            report = run_partitioned(
                scenario,
                workers=args.workers,
                node=args.node if args.node is not None else scenario.node,
                seed=args.seed,
                duration=args.duration,
                trace=trace,
            )
        else:
            report = scenario.build(
                node_factory=factory, seed=args.seed, trace=trace, duration=args.duration
            ).run()
        report = dataclasses.replace(report, wall_seconds=time.perf_counter() - started)
    if args.plot is not None:
        topology = scenario.topology.build(args.seed if args.seed is not None else scenario.seed)
        written = write_plots(report, topology, args.plot)
    else:
        written = []
    if args.json:
        print(json.dumps(report_to_json(report)))
        return 0
    print(format_report(report))
    if args.trace is not None:
        print(f"trace      {args.trace}")
    for path in written:
        print(f"figure     {path}")
    return 0
