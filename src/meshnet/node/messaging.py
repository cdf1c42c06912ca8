"""How the node hands session events to its messaging service.

Messaging runs on end-to-end streams of service ``MESSAGING_SERVICE``. The session
layer reports those streams' events like any other; ``to_messaging`` takes the ones
that belong to messaging (they never reach the application) and tells messaging of
sessions that ended (those events go on to the application as well).
"""

from __future__ import annotations

from meshnet.services.messaging import MessagingService
from meshnet.session.events import (
    SessionClosed,
    SessionEvent,
    SessionHandshakeFailed,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
    StreamReset,
    StreamWritable,
)

__all__ = ["to_messaging"]


def to_messaging(messaging: MessagingService, event: SessionEvent, now: float) -> bool:
    """Give ``event`` to ``messaging`` if it is messaging's; True when it was consumed."""
    if isinstance(event, StreamOpened):
        return messaging.stream_opened(event.stream, event.peer, event.service)
    if isinstance(event, SessionClosed | SessionHandshakeFailed):
        messaging.session_ended(event.peer, now)
        return False
    if not isinstance(event, StreamDataReceived | StreamFinished | StreamReset | StreamWritable):
        return False
    if not messaging.owns(event.stream):
        return False
    if isinstance(event, StreamDataReceived):
        messaging.stream_data(event.stream, event.data, now)
    elif isinstance(event, StreamWritable):
        messaging.stream_writable(event.stream, now)
    elif isinstance(event, StreamFinished):
        messaging.stream_finished(event.stream, now)
    else:
        messaging.stream_reset(event.stream, now)
    return True
