"""The message endpoints' handlers: send, inbox, outbox, mark read, cancel.

Free functions of ``(ApiHandlers, Request)``, like the methods of ``ApiHandlers``, so
the route table names them the same way. A message body is given as ``text`` (UTF-8)
or ``body_base64``, and shown both ways (``text`` is null when the body is not UTF-8).
Message ids are 32 lowercase hex digits. ``send`` answers 201 only once the node has
committed the message to its store (the driver's ``send_message`` returns after the
commit).
"""

from __future__ import annotations

import base64
import typing

from meshnet.api.errors import ApiError
from meshnet.api.handlers import ApiHandlers, Request
from meshnet.api.names import PeerNames
from meshnet.api.schema import (
    MessageChanged,
    ReceivedMessagesView,
    ReceivedMessageView,
    SentMessagesView,
    SentMessageView,
)
from meshnet.crypto.identity import NodeId
from meshnet.errors import LocalError, StateError
from meshnet.ids import MessageId
from meshnet.services.messaging import IncomingMessage, OutgoingMessage
from meshnet.services.messaging.messages import MAX_BODY as MESSAGE_MAX_BODY

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MESSAGE_ID_SIZE",
    "MESSAGE_MAX_BODY",
    "cancel_message",
    "inbox",
    "mark_read",
    "outbox",
    "send_message",
]

MESSAGE_ID_SIZE = 16
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_JUST_SENT = 16
"""How many of the newest messages to the recipient ``send`` looks through for its own."""


def _limit(request: Request) -> int:
    return int(typing.cast("int", request.values.get("limit", DEFAULT_LIMIT)))


def _peer(request: Request, names: PeerNames) -> NodeId | None:
    name = request.values.get("peer")
    return names.resolve(name) if isinstance(name, str) else None


def send_message(api: ApiHandlers, request: Request) -> SentMessageView:
    values = request.values
    text, encoded = values.get("text"), values.get("body_base64")
    if (text is None) == (encoded is None):
        raise ApiError(400, "bad_value", "give exactly one of 'text' and 'body_base64'")
    if isinstance(text, str):
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "bad_value", "'text' is not valid Unicode") from None
    else:
        try:
            body = base64.b64decode(str(encoded), validate=True)
        except ValueError as exc:  # binascii.Error, or characters outside ASCII
            raise ApiError(400, "bad_value", f"'body_base64' is not base64: {exc}") from None
    if len(body) > MESSAGE_MAX_BODY:
        raise ApiError(413, "too_large", f"a message body is at most {MESSAGE_MAX_BODY} bytes")
    names = api.names()
    peer = names.resolve(request.text("to"))
    expires_in = values.get("expires_in")
    try:
        message_id = api.control.send_message(
            peer,
            body,
            expires_in=float(expires_in) if isinstance(expires_in, int | float) else None,
        )
    except LocalError as exc:
        raise _message_refusal(exc) from None
    for sent in reversed(api.control.outbox(peer=peer, limit=_JUST_SENT)):
        if sent.id == message_id:
            return _sent_view(sent, names)
    raise ApiError(409, "bad_state", "the message was stored but is no longer listed")


def inbox(api: ApiHandlers, request: Request) -> ReceivedMessagesView:
    values = request.values
    names = api.names()
    peer = _peer(request, names)
    unread = values.get("unread") is True
    limit = _limit(request)
    found = api.control.inbox(peer=peer, limit=limit, unread=unread)
    return ReceivedMessagesView(messages=tuple(_received_view(m, names) for m in found))


def outbox(api: ApiHandlers, request: Request) -> SentMessagesView:
    names = api.names()
    peer = _peer(request, names)
    limit = _limit(request)
    found = api.control.outbox(peer=peer, limit=limit)
    return SentMessagesView(messages=tuple(_sent_view(m, names) for m in found))


def mark_read(api: ApiHandlers, request: Request) -> MessageChanged:
    message_id = _message_id(request.text("id"))
    try:
        api.control.mark_read(message_id)
    except LocalError as exc:
        raise _message_refusal(exc, unknown="no received message has this id") from None
    return MessageChanged(id=message_id, state="read")


def cancel_message(api: ApiHandlers, request: Request) -> MessageChanged:
    message_id = _message_id(request.text("id"))
    try:
        api.control.cancel_message(message_id)
    except LocalError as exc:
        raise _message_refusal(exc, unknown="no sent message has this id") from None
    return MessageChanged(id=message_id, state="cancelled")


def _message_id(text: str) -> MessageId:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != MESSAGE_ID_SIZE:
        raise ApiError(
            400,
            "bad_message_id",
            f"{text[:40]!r} is not a message id ({2 * MESSAGE_ID_SIZE} hex digits)",
        )
    return MessageId(raw)


def _message_refusal(exc: LocalError, *, unknown: str | None = None) -> ApiError:
    """The 4xx for what the messaging verbs raise (their documented errors).

    A plain ``LocalError`` is the caller's mistake (the message names it): 404 when the
    verb names a message (``unknown``), else 400. ``StateError``: 409. Anything else
    (the message store failing) goes up to the server.
    """
    if type(exc) is LocalError:
        if unknown is not None:
            return ApiError(404, "unknown_message", str(exc) or unknown)
        return ApiError(400, "refused", str(exc))
    if isinstance(exc, StateError):
        return ApiError(409, "bad_state", str(exc))
    if isinstance(exc, ApiError):
        return exc
    raise exc


def _body_fields(body: bytes) -> tuple[str | None, str]:
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return text, base64.b64encode(body).decode("ascii")


def _sent_view(message: OutgoingMessage, names: PeerNames) -> SentMessageView:
    text, encoded = _body_fields(message.body)
    return SentMessageView(
        id=message.id,
        peer=message.peer,
        petname=names.petname_of(message.peer),
        seq=message.seq,
        created=message.created,
        expires=message.expires,
        state=message.state,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
        settled_at=message.settled_at,
        text=text,
        body_base64=encoded,
        size=len(message.body),
    )


def _received_view(message: IncomingMessage, names: PeerNames) -> ReceivedMessageView:
    text, encoded = _body_fields(message.body)
    return ReceivedMessageView(
        id=message.id,
        peer=message.peer,
        petname=names.petname_of(message.peer),
        seq=message.seq,
        created=message.created,
        received_at=message.received_at,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
        read=message.read_at is not None,
        text=text,
        body_base64=encoded,
        size=len(message.body),
    )
