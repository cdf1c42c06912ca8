"""The built-in commands of the ``meshnet>`` shell, as the seed writes them.

``connect peer123@192.168.1.12`` (port 4100 and TCP unless given), ``send "hello world"``
to the current peer, ``peers``, ``status``, ``routes`` (``--watch`` for a live view),
``chat <peer>`` (a live conversation), ``use <peer>``, ``inbox``, ``trace <peer>``,
``id`` and ``help``. Each is a ``ShellCommand`` like a plug-in's, run by ``Shell``.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshnet.cli.output import field, short_id
from meshnet.cli.remote import messaging, normalize_address
from meshnet.cli.render import (
    disconnected_text,
    items,
    render_identity,
    render_inbox,
    render_peers,
    render_ping,
    render_routes,
    render_status,
    render_trace,
)
from meshnet.cli.shell import Shell, ShellUsageError
from meshnet.cli.trace import end_to_end_rtt, trace_hops
from meshnet.plugins import ShellCommand, ShellContext

__all__ = ["BUILTINS"]


def _shell(context: ShellContext) -> Shell:
    assert isinstance(context, Shell)
    return context


def _no_args(name: str, args: Sequence[str]) -> None:
    if args:
        raise ShellUsageError(f"{name} takes no arguments")


def _peer_arg(shell: Shell, args: Sequence[str], *, what: str = "a peer") -> str:
    if len(args) > 1:
        raise ShellUsageError("give one peer: a petname, an id prefix or a full id")
    if args:
        return args[0]
    if shell.current_peer is None:
        raise ShellUsageError(f"name {what}, or pick one first with 'use PEER' or 'chat PEER'")
    return shell.current_peer


def _help(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    if len(args) > 1:
        raise ShellUsageError("one command at a time")
    shell.write(shell.help_text(args[0] if args else None))


def _id(context: ShellContext, args: Sequence[str]) -> None:
    _no_args("id", args)
    shell = _shell(context)
    shell.write(render_identity(shell.api.identity()))


def _peers(context: ShellContext, args: Sequence[str]) -> None:
    _no_args("peers", args)
    shell = _shell(context)
    shell.write(render_peers(shell.api.peers()))


def _status(context: ShellContext, args: Sequence[str]) -> None:
    _no_args("status", args)
    shell = _shell(context)
    shell.write(render_status(shell.api.status()))


def _routes(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    if args not in ([], ["--watch"]):
        raise ShellUsageError("the only option is --watch")
    if args and shell.interactive:
        from meshnet.cli.shell_views import watch_routes  # noqa: PLC0415 (terminal only)

        watch_routes(shell)
        return
    shell.write(render_routes(shell.api.routes(), names=shell.peer_names()))


def _connect(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    if len(args) != 1:
        raise ShellUsageError("give one address")
    address = normalize_address(args[0])
    answer = shell.api.connect(address)
    name, at, _ = address.rpartition("@")
    peer = field(answer, "peer", "node_id") or (name if at else None)
    if isinstance(peer, str):
        shell.current_peer = name if at else peer
    shell.write(
        f"connecting to {address}" + (f" (current peer: {shell.current_peer})" if at else "")
    )


def _disconnect(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    target = _peer_arg(shell, args, what="a peer or an endpoint")
    shell.write(disconnected_text(target, shell.api.disconnect(target)))


def _use(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    if len(args) != 1:
        raise ShellUsageError("give one peer")
    shell.current_peer = args[0]
    shell.write(f"current peer: {args[0]}")


def _send(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    words = list(args)
    peer = shell.current_peer
    if words[:1] == ["--to"]:
        if len(words) < 2:
            raise ShellUsageError("--to needs a peer")
        peer, words = words[1], words[2:]
    if not words:
        raise ShellUsageError("nothing to send")
    if peer is None:
        raise ShellUsageError("no current peer: use 'connect', 'use PEER' or 'chat PEER' first")
    answer = messaging(shell.api).send_message(peer, " ".join(words))
    message_id = field(answer, "id", "message_id")
    status = field(answer, "status", "state", default="stored")
    shell.write(f"sent to {peer}: {short_id(message_id)} ({status})")


def _inbox(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    words = list(args)
    unread = "--unread" in words
    words = [w for w in words if w != "--unread"]
    if len(words) > 1:
        raise ShellUsageError("at most one peer")
    messages = messaging(shell.api).inbox(peer=words[0] if words else None, unread=unread)
    shell.write(render_inbox(messages, names=shell.peer_names()))


def _chat(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    if len(args) != 1:
        raise ShellUsageError("give the peer to chat with")
    shell.current_peer = args[0]
    if shell.interactive:
        from meshnet.cli.shell_views import chat  # noqa: PLC0415 (terminal only)

        chat(shell, args[0])
        return
    history = items(messaging(shell.api).inbox(peer=args[0], limit=20), "messages")
    shell.write(f"chat with {args[0]} (current peer; 'send TEXT' writes to it)")
    if history:
        shell.write(render_inbox(history, names=shell.peer_names()))


def _ping(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    peer = _peer_arg(shell, args)
    shell.write(render_ping(shell.api.ping(peer), names=shell.peer_names()))


def _trace(context: ShellContext, args: Sequence[str]) -> None:
    shell = _shell(context)
    peer = _peer_arg(shell, args)
    names = shell.peer_names()
    hops = trace_hops(shell.api, peer)
    rtt = end_to_end_rtt(shell.api, hops[-1]["node_id"]) if hops else None
    shell.write(render_trace(hops, names=names, end_to_end=rtt))


BUILTINS: dict[str, ShellCommand] = {
    "help": ShellCommand(run=_help, usage="[COMMAND]", help="list the commands, or explain one"),
    "id": ShellCommand(run=_id, help="this node's identity"),
    "peers": ShellCommand(run=_peers, help="the neighbours: state, endpoint, RTT, loss"),
    "status": ShellCommand(run=_status, help="a summary of the node"),
    "routes": ShellCommand(
        run=_routes, usage="[--watch]", help="links and routes (--watch: live, a key stops it)"
    ),
    "connect": ShellCommand(
        run=_connect,
        usage="[PEER@]HOST[:PORT]",
        help="link to a node (port 4100, TCP by default); PEER becomes the current peer",
    ),
    "disconnect": ShellCommand(
        run=_disconnect, usage="[PEER|ENDPOINT]", help="drop the link to a peer"
    ),
    "use": ShellCommand(run=_use, usage="PEER", help="make PEER the current peer"),
    "send": ShellCommand(
        run=_send, usage="[--to PEER] TEXT...", help="send a message to the current peer"
    ),
    "inbox": ShellCommand(
        run=_inbox, usage="[PEER] [--unread]", help="received messages, oldest first"
    ),
    "chat": ShellCommand(
        run=_chat, usage="PEER", help="a live conversation with PEER (/exit or Ctrl-D leaves)"
    ),
    "ping": ShellCommand(run=_ping, usage="[PEER]", help="three end-to-end round trips to PEER"),
    "trace": ShellCommand(
        run=_trace, usage="[PEER]", help="the route to PEER, hop by hop, with RTT and loss"
    ),
}
