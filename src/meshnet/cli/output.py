"""How the CLI and the shell show things: JSON documents, aligned tables, one-line errors.

Every command that talks to a node prints either one JSON document (``--json``, for
scripts) or text for people. The text forms are built here from plain JSON values as
the local API returns them, so the command line and the interactive shell print the
same tables. Field access is tolerant (a missing field shows as ``-``): the API may
add fields, and an older node may lack some.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ID_CHARS",
    "dump_json",
    "error_line",
    "field",
    "format_age",
    "format_loss",
    "format_rtt",
    "format_time",
    "short_id",
    "table",
]

ID_CHARS = 8
"""How many characters of a node id people see in tables (a unique prefix in practice)."""

_MISSING = "-"


def dump_json(value: Any) -> str:
    """``value`` as one JSON document on one line (what ``--json`` prints)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def field(record: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` present (not None) in ``record`` if it is a mapping.

    A dotted name walks into nested mappings and lists (``"link.srtt"``,
    ``"configured.0.endpoint"``).
    """
    if not isinstance(record, Mapping):
        return default
    for name in names:
        value: Any = record
        for part in name.split("."):
            if isinstance(value, Mapping):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
        if value is not None:
            return value
    return default


def short_id(node_id: Any, chars: int = ID_CHARS) -> str:
    """The first ``chars`` characters of a node id, or ``-`` when there is none."""
    if not isinstance(node_id, str) or not node_id:
        return _MISSING
    return node_id[:chars]


def format_rtt(seconds: Any) -> str:
    """A round-trip time in milliseconds, or ``-`` before the first sample."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return _MISSING
    millis = seconds * 1000.0
    return f"{millis:.1f} ms" if millis < 100 else f"{millis:.0f} ms"


def format_loss(ratio: Any) -> str:
    """A loss ratio (0.0 to 1.0) as a percentage."""
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or math.isnan(ratio):
        return _MISSING
    return f"{max(0.0, min(1.0, float(ratio))) * 100:.0f}%"


def format_age(seconds: Any) -> str:
    """A duration in the largest unit that keeps it short: ``42s``, ``3m12s``, ``2h05m``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return _MISSING
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def format_time(timestamp: Any) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS``, or ``-``."""
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return _MISSING
    try:
        moment = datetime.datetime.fromtimestamp(float(timestamp))
    except (OverflowError, OSError, ValueError):
        return _MISSING
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "") -> str:
    """Rows under ``headers`` in left-aligned columns separated by two spaces.

    Returns ``empty`` (a sentence such as ``"no peers"``) when there are no rows.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    if not cells:
        return empty
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(text))
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in cells:
        padded = [text.ljust(w) for text, w in zip(row, widths, strict=False)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return " ".join(text.split()) or _MISSING


def error_line(error: BaseException) -> str:
    """An exception as one readable line: its message without newlines or a traceback."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
