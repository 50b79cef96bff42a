"""Mentions: the user node with its ``mentioned_media``/``mentioned_comment`` expansions, and the
comment node (BUC budget; reference §2b, §2c).

A mention webhook names a media or comment id; the worker reads it back through the expansion.
A media or comment that is deleted, private or expired answers 100/33 for its id.
"""

from __future__ import annotations

from typing import Final

from listener.simulator import errors
from listener.simulator.config import SimAccount
from listener.simulator.endpoints import fields
from listener.simulator.endpoints.call import Call, Json
from listener.simulator.fieldexpansion import FieldSpec


def user_node(call: Call) -> Json:
    """``GET /{ig-user-id}?fields=…``, mention expansions included."""
    account = call.world.account(call.acting_for)
    assert account is not None  # routed here only with an account id
    specs = fields.requested(call.query, default="id")
    fields.check(specs, USER_FIELDS, "IGUser")
    return fields.render(_USER, call, account, specs, account.ig_user_id)


def _mentioned_media(call: Call, _account: SimAccount, spec: FieldSpec) -> Json:
    media_id, specs = _expansion(spec, "media_id")
    fields.check_media(specs, fields.FULL_MEDIA_FIELDS)
    if call.world.post(media_id) is None:
        raise errors.unknown_object(media_id)  # deleted, private or expired: 100/33
    return fields.media(call.world, media_id, specs)


def _mentioned_comment(call: Call, _account: SimAccount, spec: FieldSpec) -> Json:
    comment_id, specs = _expansion(spec, "comment_id")
    fields.check_comment(specs)
    comment = call.world.comment(comment_id)
    if comment is None:
        raise errors.unknown_object(comment_id)  # deleted, or its media is gone: 100/33
    if not call.world.config.mentioned_comment_media:
        specs = tuple(s for s in specs if s.name != "media")  # the captured shape
    return fields.comment(call.world, comment, specs)


def _expansion(spec: FieldSpec, modifier: str) -> tuple[str, tuple[FieldSpec, ...]]:
    """The id an expansion names with ``.media_id(…)``/``.comment_id(…)``, and its sub-fields."""
    object_id = spec.modifier(modifier)
    if object_id is None:
        raise errors.missing_parameter(modifier)
    return object_id, spec.children or fields.ID_ONLY


_USER: Final[dict[str, fields.Getter[Call, SimAccount]]] = {
    "id": fields.plain(lambda account: account.ig_user_id),
    "username": fields.plain(lambda account: account.username),
    "mentioned_media": _mentioned_media,
    "mentioned_comment": _mentioned_comment,
}
USER_FIELDS: Final = frozenset(_USER)
