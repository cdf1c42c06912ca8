"""``meshnet id | peers | connect | disconnect | status | routes``: ask the running node.

Each prints a table or a summary for people, or with ``--json`` the node's answer as
one JSON document. Peers are named by petname, unique id prefix or full id; the node
resolves the name. ``connect`` takes ``[PEER@]HOST[:PORT]`` (TCP, port 4100 unless
given), as the shell does.
"""

from __future__ import annotations

import argparse

from meshnet.cli.commands.common import Answer, add_node_options, node_command
from meshnet.cli.remote import NodeApi, normalize_address, peer_names
from meshnet.cli.render import (
    disconnected_text,
    render_identity,
    render_peers,
    render_routes,
    render_status,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands that show and change the node's links."""
    simple = [
        ("id", "the running node's identity", _id),
        ("peers", "the neighbours: state, endpoint, RTT, loss", _peers),
        ("status", "a summary of the running node", _status),
        ("routes", "links with their quality, and the routes in use", _routes),
    ]
    for name, summary, body in simple:
        parser = subparsers.add_parser(
            name, help=summary, description=summary[0].upper() + summary[1:] + "."
        )
        add_node_options(parser)
        parser.set_defaults(handler=node_command(body))

    connect = subparsers.add_parser(
        "connect",
        help="link to a node",
        description="Link to a node: [PEER@]HOST[:PORT] (TCP and port 4100 unless given; "
        "tcp: or udp: may precede the host). With PEER, the node must prove that identity.",
    )
    connect.add_argument("address", metavar="[PEER@]HOST[:PORT]")
    add_node_options(connect)
    connect.set_defaults(handler=node_command(_connect))

    disconnect = subparsers.add_parser(
        "disconnect",
        help="drop the link to a peer",
        description="Drop the link to a peer (petname, id prefix or id) or an endpoint, "
        "and stop redialling it.",
    )
    disconnect.add_argument("peer", metavar="PEER|ENDPOINT")
    add_node_options(disconnect)
    disconnect.set_defaults(handler=node_command(_disconnect))


def _id(client: NodeApi, args: argparse.Namespace) -> Answer:
    identity = client.identity()
    return Answer(identity, render_identity(identity))


def _peers(client: NodeApi, args: argparse.Namespace) -> Answer:
    peers = client.peers()
    return Answer(peers, render_peers(peers))


def _status(client: NodeApi, args: argparse.Namespace) -> Answer:
    status = client.status()
    return Answer(status, render_status(status))


def _routes(client: NodeApi, args: argparse.Namespace) -> Answer:
    routes = client.routes()
    return Answer(routes, render_routes(routes, names=peer_names(client)))


def _connect(client: NodeApi, args: argparse.Namespace) -> Answer:
    address = normalize_address(args.address)
    answer = client.connect(address)
    return Answer(answer, f"connecting to {address}")


def _disconnect(client: NodeApi, args: argparse.Namespace) -> Answer:
    answer = client.disconnect(args.peer)
    return Answer(answer, disconnected_text(args.peer, answer))
