"""What the commands that talk to a running node share: options, the client, exit codes.

Every such command takes ``--home`` (the node's state directory: its config names the
API socket, ``api.sock`` inside it by default), ``--socket`` (the socket itself) and
``--json``. ``node_command`` wraps a command's
body: it opens the client, prints the answer (one JSON document with ``--json``, else
the text view) and turns every failure into one line on stderr and an exit status:

====  ==================================================================
0     done
1     the node could not do it (an API error of the node, a network error)
2     a user mistake: a bad argument, an unknown peer name (API 4xx)
3     no node is running (no API socket at the expected place)
====  ==================================================================
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshnet.api.client import ApiConnectionError, ApiError, DaemonNotRunning, MeshClient
from meshnet.cli.commands.daemon import add_home_argument
from meshnet.cli.output import dump_json, error_line
from meshnet.cli.remote import NodeApi
from meshnet.errors import LocalError, MeshnetError
from meshnet.runtime.config import load_config
from meshnet.runtime.home import resolve_home

__all__ = [
    "EXIT_FAILURE",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_USAGE",
    "Answer",
    "add_node_options",
    "node_command",
    "open_client",
    "state_dir",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3


@dataclass(frozen=True, slots=True)
class Answer:
    """What a command prints: ``data`` for ``--json``, ``text`` for people."""

    data: Any
    text: str
    status: int = EXIT_OK


def add_node_options(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    """``--home``, ``--socket`` and (unless ``json=False``) ``--json``."""
    add_home_argument(parser)
    parser.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="the node's API socket (default: [api] socket of the config in --home)",
    )
    if json:
        parser.add_argument("--json", action="store_true", help="print one JSON document")


def state_dir(args: argparse.Namespace) -> Path:
    """The state directory ``--home`` / ``MESHNET_HOME`` / the platform default names."""
    home: Path | None = getattr(args, "home", None)
    return resolve_home(home).root


def open_client(args: argparse.Namespace) -> NodeApi:
    """A client for the node these options name (nothing is sent yet)."""
    path: Path | None = getattr(args, "socket", None)
    if path is None:
        home = resolve_home(getattr(args, "home", None))
        config = load_config(home.config, missing_ok=True)
        path = home.resolve(config.api.socket)
    return MeshClient(path)


def node_command(
    body: Callable[[NodeApi, argparse.Namespace], Answer],
) -> Callable[[argparse.Namespace], int]:
    """A handler that runs ``body`` against the node and prints its ``Answer``."""

    @functools.wraps(body)
    def handler(args: argparse.Namespace) -> int:
        try:
            answer = body(open_client(args), args)
        except DaemonNotRunning as exc:
            return _fail(error_line(exc), EXIT_NOT_RUNNING)
        except ApiError as exc:
            status = EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILURE
            return _fail(error_line(exc), status)
        except ApiConnectionError as exc:  # reached no node: not the user's mistake
            return _fail(error_line(exc), EXIT_FAILURE)
        except LocalError as exc:
            return _fail(error_line(exc), EXIT_USAGE)
        except (MeshnetError, OSError, TimeoutError) as exc:
            return _fail(error_line(exc), EXIT_FAILURE)
        if getattr(args, "json", False):
            print(dump_json(answer.data))
        elif answer.text:
            print(answer.text)
        return answer.status

    return handler


def _fail(message: str, status: int) -> int:
    word = "error" if status == EXIT_USAGE else "failed"
    print(f"meshnet: {word}: {message}", file=sys.stderr)
    return status
