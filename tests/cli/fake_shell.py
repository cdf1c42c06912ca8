"""``python tests/cli/fake_shell.py HISTORY``: the real interactive shell on a fake node.

The pty tests drive this with pexpect to check the terminal side (prompt, history,
Tab completion, the chat and routes views) without a daemon. The fake peer answers
each message sent to it with ``re: <text>`` and marks it delivered, then read; a
route to a new node appears at the third look at the routes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.fakes import BOB, FakeNode

from meshnet.cli.shell import Shell, run_interactive


class RepliesNode(FakeNode):
    def send_message(self, to: str, text: str, *, expires_in: float | None = None) -> Any:
        answer = super().send_message(to, text, expires_in=expires_in)
        self.receive(f"re: {text}", sender=BOB)
        return answer

    def routes(self) -> Any:
        self.route_calls = getattr(self, "route_calls", 0) + 1
        if self.route_calls == 3:  # a route appears while routes --watch is open
            path = [BOB, "d" * 52]
            self.route_answer["routes"].append({"destination": "d" * 52, "path": path})
        return super().routes()

    def outbox(self, *, peer: str | None = None, limit: int = 100) -> Any:
        for message in self.outbox_messages:  # the fake peer is quick: delivered, then read
            message["state"] = "read" if message["state"] == "delivered" else "delivered"
        return super().outbox(peer=peer, limit=limit)


def main() -> int:
    node = RepliesNode()
    node.receive("hello from bob")
    shell = Shell(node, interactive=True)
    return run_interactive(shell, history=Path(sys.argv[1]), greeting="fake shell ready")


if __name__ == "__main__":
    raise SystemExit(main())
