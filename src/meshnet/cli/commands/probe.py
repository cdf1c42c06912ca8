"""``meshnet trace``: the route to a node, hop by hop, with RTT and loss per link.

See ``meshnet.cli.trace`` for where the figures come from.
"""

from __future__ import annotations

import argparse

from meshnet.cli.commands.common import Answer, add_node_options, node_command
from meshnet.cli.remote import NodeApi, peer_names
from meshnet.cli.render import render_trace
from meshnet.cli.trace import end_to_end_rtt, trace_hops

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``trace``."""
    trace = subparsers.add_parser(
        "trace",
        help="the route to a node, hop by hop, with RTT and loss",
        description="The route in use to PEER: each relay and the destination, with the "
        "measured round-trip time and loss of the link that reaches it.",
    )
    trace.add_argument("peer", metavar="PEER")
    add_node_options(trace)
    trace.set_defaults(handler=node_command(_trace))


def _trace(client: NodeApi, args: argparse.Namespace) -> Answer:
    hops = trace_hops(client, args.peer)
    rtt = end_to_end_rtt(client, hops[-1]["node_id"]) if hops else None
    data = {"peer": args.peer, "hops": hops, "end_to_end_rtt": rtt}
    return Answer(data, render_trace(hops, names=peer_names(client), end_to_end=rtt))
