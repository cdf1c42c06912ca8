"""The shell's live views: ``chat <peer>`` and ``routes --watch``.

Both follow the node as it changes. A ``Follower`` thread wakes on every event of the
node's event stream (and, should the stream fail, every few seconds anyway), asks the
API for the current state and hands what changed to the view:

* ``chat``: the conversation so far (inbox and outbox), then each new message and each
  receipt (delivered, read) as a line above a ``<peer>>`` prompt; a typed line is
  sent; ``/exit`` or Ctrl-D goes back to ``meshnet>``. Messages shown are marked read,
  which sends the read receipt.
* ``routes --watch``: the links and routes table, redrawn in place; any key stops it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from meshnet.cli.output import error_line, field
from meshnet.cli.remote import MessagingApi, NodeApi, messaging
from meshnet.cli.render import items, message_line, message_text, render_routes
from meshnet.cli.shell import Shell
from meshnet.errors import MeshnetError

__all__ = ["Conversation", "Follower", "chat", "watch_routes"]

POLL_INTERVAL = 2.0
"""Seconds between refreshes when no event arrives (and when the stream is down)."""

_RECEIPTS = {
    "delivered": "delivered",
    "read": "read",
    "expired": "EXPIRED",
    "cancelled": "cancelled",
}


class Follower:
    """Calls ``refresh`` now, on each node event and at least every ``interval`` seconds."""

    def __init__(
        self,
        api: NodeApi,
        refresh: Callable[[], None],
        *,
        kinds: list[str] | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self._api = api
        self._refresh = refresh
        self._kinds = kinds
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, name="meshnet-follow", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="meshnet-events", daemon=True)

    def __enter__(self) -> Follower:
        self._loop.start()
        self._listener.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._wake.set()
        self._loop.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._refresh()
            self._wake.wait(self._interval)
            self._wake.clear()

    def _listen(self) -> None:
        # The event stream blocks in a read; the thread is a daemon and ends with the
        # process or at the next event after the view closed.
        try:
            for _event in self._api.events(self._kinds):
                if self._stop.is_set():
                    return
                self._wake.set()
        except (MeshnetError, OSError, TimeoutError, ValueError):
            return  # polling goes on


class Conversation:
    """The messages between this node and one peer, and what changed since last asked."""

    def __init__(self, api: MessagingApi, peer: str, *, name: str | None = None) -> None:
        self._api = api
        self.peer = peer
        self.peer_id: str | None = None
        """The full id, once the node told us (first message in either direction)."""
        self._name = name or peer
        self._seen: set[Any] = set()
        self._states: dict[Any, str] = {}
        self._texts: dict[Any, str] = {}

    def sent(self, answer: Any, text: str) -> None:
        """Record a message we just sent (its receipts will be reported)."""
        message_id = field(answer, "id", "message_id")
        self._states[message_id] = str(field(answer, "state", "status", default="pending"))
        self._texts[message_id] = text
        peer = field(answer, "peer", "to")
        if isinstance(peer, str):
            self.peer_id = peer

    def changes(self) -> list[str]:
        """Lines for messages not shown yet and receipts that arrived, oldest first."""
        lines: list[tuple[float, str]] = []
        for message in items(self._api.inbox(peer=self.peer, limit=50), "messages"):
            message_id = field(message, "id")
            if message_id in self._seen:
                continue
            self._seen.add(message_id)
            self.peer_id = field(message, "peer", "sender") or self.peer_id
            created = field(message, "created", default=0.0)
            lines.append((created, message_line(message, name=self._name)))
            if field(message, "read_at") is None and message_id is not None:
                self._api.mark_read(str(message_id))
        for message in items(self._api.outbox(peer=self.peer, limit=50), "messages"):
            lines.extend(self._outgoing(message))
        lines.sort(key=lambda pair: pair[0] if isinstance(pair[0], int | float) else 0.0)
        return [line for _, line in lines]

    def _outgoing(self, message: Any) -> list[tuple[float, str]]:
        message_id = field(message, "id")
        state = str(field(message, "state", "status", default="pending"))
        created = field(message, "created", default=0.0)
        if message_id not in self._states:
            self._states[message_id] = state
            return [(created, message_line(message, outgoing=True))]
        if self._states[message_id] == state:
            return []
        self._states[message_id] = state
        text = self._texts.get(message_id) or message_text(message)
        return [(created, f"  {_RECEIPTS.get(state, state)}: {text}")]


def chat(shell: Shell, peer: str) -> None:
    """A live conversation with ``peer`` at the terminal, until ``/exit`` or Ctrl-D."""
    from prompt_toolkit import PromptSession  # noqa: PLC0415 (terminal only)
    from prompt_toolkit.patch_stdout import patch_stdout  # noqa: PLC0415

    api = messaging(shell.api)
    names = shell.peer_names()
    conversation = Conversation(api, peer, name=_petname(names, peer))
    lock = threading.Lock()

    def show() -> None:
        with lock:
            try:
                lines = conversation.changes()
            except (MeshnetError, OSError, TimeoutError) as exc:
                lines = [f"error: {error_line(exc)}"]
        for line in lines:
            print(line, flush=True)

    shell.write(f"chat with {peer}: type a line and Enter to send it; /exit or Ctrl-D leaves")
    session: PromptSession[str] = PromptSession()
    with patch_stdout(raw=True), Follower(shell.api, show):
        while True:
            try:
                text = session.prompt(f"{peer}> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if text.strip() in ("/exit", "/quit", "/back"):
                break
            if not text.strip():
                continue
            try:
                answer = api.send_message(peer, text)
            except (MeshnetError, OSError, TimeoutError) as exc:
                print(f"error: {error_line(exc)}", flush=True)
                continue
            with lock:
                conversation.sent(answer, text)
            print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] you: {text}  (stored)", flush=True)
    shell.write(f"left the chat with {peer} (still the current peer)")


def _petname(names: dict[str, str], peer: str) -> str:
    for node_id, name in names.items():
        if peer in (node_id, name) or node_id.startswith(peer):
            return name
    return peer


def watch_routes(shell: Shell) -> None:
    """The links and routes, redrawn as they change, until a key is pressed."""
    from prompt_toolkit.application import Application  # noqa: PLC0415 (terminal only)
    from prompt_toolkit.key_binding import KeyBindings  # noqa: PLC0415
    from prompt_toolkit.layout import FormattedTextControl, Layout, Window  # noqa: PLC0415

    view = ["loading routes..."]
    bindings = KeyBindings()

    @bindings.add("<any>")
    def _stop(event: Any) -> None:
        event.app.exit()

    app: Application[None] = Application(
        layout=Layout(Window(FormattedTextControl(lambda: view[0]))),
        key_bindings=bindings,
        full_screen=False,
    )

    def refresh() -> None:
        try:
            text = render_routes(shell.api.routes(), names=shell.peer_names())
        except (MeshnetError, OSError, TimeoutError) as exc:
            text = f"error: {error_line(exc)}"
        stamp = time.strftime("%H:%M:%S")
        view[0] = f"{text}\n\nroutes at {stamp}; live (press any key to stop)"
        app.invalidate()

    with Follower(shell.api, refresh, interval=1.0):
        app.run()
    shell.write(view[0].rsplit("\n\n", 1)[0])
