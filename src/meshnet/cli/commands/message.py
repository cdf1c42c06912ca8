"""``meshnet send | inbox | chat``: messages through the running node.

``send`` returns once the node has stored the message durably (it is then retried
until delivered, cancelled or expired). ``inbox`` lists received messages. ``chat`` is
a live conversation at a terminal (the shell's chat view); with its input from a pipe
it sends each line read, then prints the conversation (``--json``: as one document).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from meshnet.cli.commands.common import Answer, add_node_options, node_command
from meshnet.cli.output import field, short_id
from meshnet.cli.remote import MessagingApi, NodeApi, messaging, peer_names
from meshnet.cli.render import items, message_line, render_inbox
from meshnet.errors import LocalError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``send``, ``inbox`` and ``chat``."""
    send = subparsers.add_parser(
        "send",
        help="send a message (returns once it is stored)",
        description="Send a text message to a peer (petname, id prefix or id). It returns "
        "once the node has stored it; the node delivers it end to end, retrying while "
        "the peer is unreachable.",
    )
    send.add_argument("peer", metavar="PEER")
    send.add_argument("text", nargs="+", metavar="TEXT", help="the words are joined by spaces")
    send.add_argument(
        "--expires-in",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="give up delivering after this long (default: the node's)",
    )
    add_node_options(send)
    send.set_defaults(handler=node_command(_send))

    inbox = subparsers.add_parser(
        "inbox", help="received messages", description="Received messages, oldest first."
    )
    inbox.add_argument("--peer", default=None, help="only from this peer")
    inbox.add_argument("--unread", action="store_true", help="only those not marked read")
    inbox.add_argument("--limit", type=_count, default=100, help="at most this many (100)")
    inbox.add_argument("--mark-read", action="store_true", help="mark the ones shown as read")
    add_node_options(inbox)
    inbox.set_defaults(handler=node_command(_inbox))

    chat = subparsers.add_parser(
        "chat",
        help="a live conversation with a peer",
        description="A live conversation with PEER at a terminal (/exit or Ctrl-D leaves). "
        "With input from a pipe: send each line, then print the conversation.",
    )
    chat.add_argument("peer", metavar="PEER")
    add_node_options(chat)
    chat.set_defaults(handler=node_command(_chat))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _send(node: NodeApi, args: argparse.Namespace) -> Answer:
    client = messaging(node)
    text = " ".join(args.text)
    if not text.strip():
        raise LocalError("the message is empty")
    answer = client.send_message(args.peer, text, expires_in=args.expires_in)
    message_id = field(answer, "id", "message_id")
    state = field(answer, "state", "status", default="stored")
    return Answer(answer, f"sent to {args.peer}: {message_id or '-'} ({state})")


def _inbox(node: NodeApi, args: argparse.Namespace) -> Answer:
    client = messaging(node)
    messages = client.inbox(peer=args.peer, unread=args.unread, limit=args.limit)
    if args.mark_read:
        for message in items(messages, "messages"):
            if field(message, "read_at") is None and field(message, "id") is not None:
                client.mark_read(str(field(message, "id")))
    return Answer(messages, render_inbox(messages, names=peer_names(node)))


def _chat(node: NodeApi, args: argparse.Namespace) -> Answer:
    client = messaging(node)
    if sys.stdin.isatty() and sys.stdout.isatty() and not args.json:
        from meshnet.cli.shell import Shell  # noqa: PLC0415 (terminal only)
        from meshnet.cli.shell_views import chat  # noqa: PLC0415

        chat(Shell(node, interactive=True), args.peer)
        return Answer(None, "")
    sent = []
    for line in sys.stdin:
        if line.strip():
            sent.append(client.send_message(args.peer, line.rstrip("\n")))
    return _conversation(client, args.peer, sent)


def _conversation(client: MessagingApi, peer: str, sent: list[Any]) -> Answer:
    incoming = items(client.inbox(peer=peer, limit=100), "messages")
    outgoing = items(client.outbox(peer=peer, limit=100), "messages")
    known = {field(m, "id") for m in outgoing}
    outgoing += [m for m in sent if field(m, "id") not in known]
    peer_id = next((field(m, "peer") for m in [*incoming, *outgoing]), None)
    name = next((field(m, "petname") for m in [*incoming, *outgoing] if field(m, "petname")), peer)
    merged = [(m, False) for m in incoming] + [(m, True) for m in outgoing]
    merged.sort(key=lambda pair: field(pair[0], "created", default=0.0))
    lines = [message_line(m, outgoing=out, name=name) for m, out in merged]
    data = {
        "peer": peer_id,
        "messages": [dict(m, direction="out" if out else "in") for m, out in merged],
    }
    header = f"conversation with {name} ({short_id(peer_id)})"
    return Answer(data, "\n".join([header, *lines]) if lines else f"{header}: no messages")
