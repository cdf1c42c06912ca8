"""``meshnet ping`` and ``meshnet trace``: round trips to a node and to each hop on the way.

Both are measured end to end by the node (``/v1/ping``, ``/v1/trace``): a ping rides an
ack-eliciting packet of the session and its acknowledgement answers it; a trace pings
every relay of the route and the destination at once (see ``meshnet.cli.trace``).
"""

from __future__ import annotations

import argparse

from meshnet.cli.commands.common import Answer, add_node_options, node_command
from meshnet.cli.remote import NodeApi, peer_names
from meshnet.cli.render import render_ping, render_trace
from meshnet.cli.trace import end_to_end_rtt, trace_hops

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ping`` and ``trace``."""
    ping = subparsers.add_parser(
        "ping",
        help="round trips to a node, end to end through the relays",
        description="Ping PEER over its end-to-end session: each answer is the round trip "
        "to PEER through every relay on the way.",
    )
    ping.add_argument("peer", metavar="PEER")
    ping.add_argument("-c", "--count", type=int, default=3, help="how many pings (1-10)")
    ping.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer")
    add_node_options(ping)
    ping.set_defaults(handler=node_command(_ping))
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


def _ping(client: NodeApi, args: argparse.Namespace) -> Answer:
    answer = client.ping(args.peer, count=args.count, timeout=args.timeout)
    return Answer(answer, render_ping(answer, names=peer_names(client)))
