"""State and route handlers of the emulator's REST server (see :mod:`musicbot.emulator.rest`).

Handlers take ``params`` (path parameters), ``query`` and the JSON ``body`` and return
``(status, json)``.  The server wakes waiting tests after every request.
"""

from __future__ import annotations

import copy
import datetime
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from musicbot.emulator.rest_commands import check_commands, names, store_option
from musicbot.emulator.rest_errors import form_error, query_bool

Json = Any
Result = tuple[int, Json]

FLAG_EPHEMERAL: Final = 1 << 6
FLAG_LOADING: Final = 1 << 7  # a deferred response shows "Bot is thinking…"
CALLBACK_PONG: Final = 1
CALLBACK_MESSAGE: Final = 4
CALLBACK_DEFERRED: Final = 5
CALLBACK_DEFERRED_UPDATE: Final = 6  # a component's message: acknowledged, edited later
CALLBACK_UPDATE: Final = 7  # a component's message: edited now
CALLBACK_AUTOCOMPLETE: Final = 8
INTERACTION_COMPONENT: Final = 3
UNKNOWN_MESSAGE: Final = {"message": "Unknown Message", "code": 10008}
UNKNOWN_WEBHOOK: Final = {"message": "Unknown Webhook", "code": 10015}
EDITABLE: Final = ("content", "embeds", "components", "flags", "attachments", "poll")
LOCALIZATIONS: Final = ("name_localizations", "description_localizations")


@attrs.define
class InteractionRecord:
    id: int
    token: str
    channel_id: int
    type: int
    callbacks: list[Json] = attrs.field(factory=list)
    original: dict[str, Any] | None = None
    message_id: str | None = None  # a component interaction: the message it sits on
    deferred: bool = False
    followups: list[dict[str, Any]] = attrs.field(factory=list)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _strip_localizations(obj: Json) -> Json:
    if isinstance(obj, list):
        return [_strip_localizations(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _strip_localizations(v) for k, v in obj.items() if k not in LOCALIZATIONS}
    return obj


def _number_components(components: Any) -> Any:
    """Discord gives every component of a stored message a numeric ``id`` (1, 2, … in
    depth-first order) unless the sender chose one."""
    if not isinstance(components, list):
        return components
    counter = itertools.count(1)
    out = copy.deepcopy(components)

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, dict):
                n = next(counter)
                item.setdefault("id", n)
                if isinstance(item.get("components"), list):
                    walk(item["components"])

    walk(out)
    return out


def _normalize_embeds(embeds: Any) -> Any:
    """As Discord stores embeds: ``type`` "rich" and every field's ``inline`` filled in."""
    if not isinstance(embeds, list):
        return embeds
    out = copy.deepcopy(embeds)
    for embed in out:
        if isinstance(embed, dict):
            embed.setdefault("type", "rich")
            for field in embed.get("fields") or ():
                if isinstance(field, dict):
                    field["inline"] = bool(field.get("inline", False))
    return out


class Store:
    def __init__(
        self,
        application_id: int,
        gateway_url: Callable[[], str],
        *,
        bot_user: Mapping[str, Any] | None = None,
        on_commands: Callable[[int | None, list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.application_id = application_id
        self._gateway_url = gateway_url
        self._bot_user = dict(bot_user) if bot_user is not None else None
        self._on_commands = on_commands
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.shards = 1
        self.session_start_limit = {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        }
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.put_counts: dict[int | None, int] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}

    def bot_user(self) -> dict[str, Any]:
        """The application's bot user: the one READY names (the emulator passes it in)."""
        if self._bot_user is not None:
            return copy.deepcopy(self._bot_user)
        return {
            "id": str(self.application_id),
            "username": "musicbot",
            "global_name": "Music Bot",
            "avatar": None,
            "discriminator": "0000",
            "public_flags": 0,
            "flags": 0,
            "bot": True,
            "primary_guild": None,
        }

    def snowflake(self) -> str:
        return str(next(self._ids))

    def register_interaction(
        self,
        interaction_id: int,
        token: str,
        channel_id: int,
        type: int,
        message_id: str | None = None,
    ) -> None:
        rec = InteractionRecord(interaction_id, token, channel_id, type, message_id=message_id)
        self.interactions[interaction_id] = rec
        self._by_token[token] = rec

    # ---------------------------------------------------------------- gateway / application

    def gateway_bot(self, **_: Any) -> Result:
        return 200, {
            "url": self._gateway_url(),
            "shards": self.shards,
            "session_start_limit": dict(self.session_start_limit),
        }

    def current_user(self, **_: Any) -> Result:
        """``GET /users/@me``: the bot user, as READY's ``user`` (plus the PII fields)."""
        user = self.bot_user()
        user.update(mfa_enabled=False, locale="en-US", verified=True, email=None)
        user.setdefault("public_flags", 0)
        user.setdefault("flags", 0)
        user.setdefault("primary_guild", None)
        return 200, user

    def application(self, **_: Any) -> Result:
        return 200, {
            "id": str(self.application_id),
            "name": "Emulated Music Bot",
            "icon": None,
            "description": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "flags": 0,
            "flags_new": "0",
            "verify_key": "0" * 64,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "owner": self.bot_user(),
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "team": None,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
            "bot": self.bot_user(),
        }

    # ---------------------------------------------------------------- commands

    def get_commands(
        self, *, params: Mapping[str, str], query: Mapping[str, str], **_: Any
    ) -> Result:
        guild_id = int(params["guild_id"]) if "guild_id" in params else None
        stored = copy.deepcopy(self.commands.get(guild_id, []))
        if not query_bool(query, "with_localizations"):
            stored = _strip_localizations(stored)
        return 200, stored

    def put_commands(self, *, params: Mapping[str, str], body: Json, **_: Any) -> Result:
        guild_id = int(params["guild_id"]) if "guild_id" in params else None
        problems = check_commands(body)
        if problems:
            return 400, form_error(problems)
        old = names(self.commands.get(guild_id, []))
        stored = []
        for cmd in body or []:
            kind = cmd.get("type") or 1
            prev = old.get((kind, cmd["name"]))
            out: dict[str, Any] = {
                "id": prev["id"] if prev else self.snowflake(),
                "application_id": str(self.application_id),
                "version": self.snowflake(),
                "default_member_permissions": None,
                "type": kind,
                "name": cmd["name"],
                "name_localizations": cmd.get("name_localizations"),
                "description": cmd.get("description") or "",
                "description_localizations": cmd.get("description_localizations"),
                "dm_permission": True,
                "contexts": cmd.get("contexts"),
                "integration_types": cmd.get("integration_types") or [0],
                "nsfw": bool(cmd.get("nsfw", False)),
            }
            if cmd.get("default_member_permissions") is not None:
                out["default_member_permissions"] = str(cmd["default_member_permissions"])
            if cmd.get("options"):
                out["options"] = [store_option(o) for o in cmd["options"]]
            if guild_id is not None:
                out["guild_id"] = str(guild_id)
                del out["dm_permission"]
            stored.append(out)
        self.commands[guild_id] = stored
        self.put_counts[guild_id] = self.put_counts.get(guild_id, 0) + 1
        if self._on_commands is not None:
            self._on_commands(guild_id, copy.deepcopy(stored))
        return 200, copy.deepcopy(stored)

    # ---------------------------------------------------------------- messages

    def _new_message(
        self, channel_id: int, data: Mapping[str, Any], **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": str(channel_id),
            "type": 0,
            "author": self.bot_user(),
            "content": "",
            "embeds": [],
            "components": [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "flags": 0,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
        }
        message.update({k: data[k] for k in EDITABLE if k in data and data[k] is not None})
        message["components"] = _number_components(message["components"])
        message["embeds"] = _normalize_embeds(message["embeds"])
        message.update(extra)
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def _find(self, channel_id: int, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel_id, []) if m["id"] == message_id), None)

    @staticmethod
    def _edit(message: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        message.update({k: data[k] for k in EDITABLE if k in data and data[k] is not None})
        message["components"] = _number_components(message.get("components") or [])
        message["embeds"] = _normalize_embeds(message.get("embeds") or [])
        message["flags"] = int(message.get("flags") or 0) & ~FLAG_LOADING
        message["edited_timestamp"] = _now_iso()
        return message

    def _remove(self, message: dict[str, Any]) -> None:
        channel = self.messages.get(int(message["channel_id"]), [])
        if message in channel:
            channel.remove(message)

    def create_message(self, *, params: Mapping[str, str], body: Json, **_: Any) -> Result:
        return 200, copy.deepcopy(self._new_message(int(params["channel_id"]), body or {}))

    def edit_message(self, *, params: Mapping[str, str], body: Json, **_: Any) -> Result:
        message = self._find(int(params["channel_id"]), params["message_id"])
        if message is None:
            return 404, UNKNOWN_MESSAGE
        return 200, copy.deepcopy(self._edit(message, body or {}))

    def delete_message(self, *, params: Mapping[str, str], **_: Any) -> Result:
        message = self._find(int(params["channel_id"]), params["message_id"])
        if message is None:
            return 404, UNKNOWN_MESSAGE
        self._remove(message)
        return 204, None

    # ---------------------------------------------------------------- interactions

    def callback(
        self, *, params: Mapping[str, str], query: Mapping[str, str], body: Json, **_: Any
    ) -> Result:
        """``POST /interactions/{id}/{token}/callback``.

        Types 4 (message) and 5 (defer: a "thinking…" message) create the original response;
        6 (deferred update) and 7 (update) act on the message a component sits on, 7 editing
        it at once.  With ``?with_response=true`` the answer is Discord's interaction callback
        response (``interaction`` plus, for 4 and 7, the ``resource`` message), else 204.
        """
        iid, token = int(params["interaction_id"]), params["interaction_token"]
        with_response = query_bool(query, "with_response")
        rec = self.interactions.get(iid)
        if rec is None:
            self.register_interaction(iid, token, 0, 2)
            rec = self.interactions[iid]
        elif rec.token != token:
            return 401, {"message": "Invalid Webhook Token", "code": 50027}
        if rec.callbacks:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        kind = body.get("type")
        data = body.get("data") or {}
        target: dict[str, Any] | None = None
        if kind in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE):
            if rec.type != INTERACTION_COMPONENT or rec.message_id is None:
                reason = "This callback type is only valid for component interactions."
                return 400, form_error([(("type",), "INTERACTION_CALLBACK_TYPE_INVALID", reason)])
            target = self._find(rec.channel_id, rec.message_id)
            if target is None:
                return 404, UNKNOWN_MESSAGE
        rec.callbacks.append(body)
        message = None
        if kind == CALLBACK_MESSAGE:
            message = self._new_message(rec.channel_id, data, interaction_id=str(iid))
        elif kind == CALLBACK_DEFERRED:
            flags = (int(data.get("flags") or 0) & FLAG_EPHEMERAL) | FLAG_LOADING
            message = self._new_message(rec.channel_id, {"flags": flags}, interaction_id=str(iid))
            rec.deferred = True
        elif target is not None:
            message = self._edit(target, data) if kind == CALLBACK_UPDATE else target
        rec.original = message
        if not with_response:
            return 204, None
        flags = int(message["flags"]) if message else 0
        interaction: dict[str, Any] = {"id": str(iid), "type": rec.type}
        if message is not None:
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=bool(flags & FLAG_LOADING),
                response_message_ephemeral=bool(flags & FLAG_EPHEMERAL),
            )
        if rec.channel_id:
            interaction["channel_id"] = str(rec.channel_id)
        response: dict[str, Any] = {"interaction": interaction}
        if kind in (CALLBACK_MESSAGE, CALLBACK_UPDATE) and message is not None:
            # Discord describes a resource only for a created or updated message; a deferred
            # one is known by interaction.response_message_id.
            response["resource"] = {"type": kind, "message": copy.deepcopy(message)}
        return 200, response

    def _webhook(self, params: Mapping[str, str]) -> InteractionRecord | None:
        if params["webhook_id"] != str(self.application_id):
            return None
        return self._by_token.get(params["webhook_token"])

    def _webhook_message(
        self, rec: InteractionRecord, params: Mapping[str, str]
    ) -> dict[str, Any] | None:
        message_id = params.get("message_id")
        if message_id is None:
            return rec.original
        if rec.original is not None and rec.original["id"] == message_id:
            return rec.original
        return next((m for m in rec.followups if m["id"] == message_id), None)

    def get_webhook_message(self, *, params: Mapping[str, str], **_: Any) -> Result:
        rec = self._webhook(params)
        if rec is None:
            return 404, UNKNOWN_WEBHOOK
        message = self._webhook_message(rec, params)
        return (200, copy.deepcopy(message)) if message else (404, UNKNOWN_MESSAGE)

    def edit_webhook_message(self, *, params: Mapping[str, str], body: Json, **_: Any) -> Result:
        rec = self._webhook(params)
        if rec is None:
            return 404, UNKNOWN_WEBHOOK
        message = self._webhook_message(rec, params)
        if message is None:
            return 404, UNKNOWN_MESSAGE
        return 200, copy.deepcopy(self._edit(message, body or {}))

    def delete_webhook_message(self, *, params: Mapping[str, str], **_: Any) -> Result:
        rec = self._webhook(params)
        if rec is None:
            return 404, UNKNOWN_WEBHOOK
        message = self._webhook_message(rec, params)
        if message is None:
            return 404, UNKNOWN_MESSAGE
        self._remove(message)
        if message is rec.original:
            rec.original = None
        else:
            rec.followups.remove(message)
        return 204, None

    def followup(
        self, *, params: Mapping[str, str], query: Mapping[str, str], body: Json, **_: Any
    ) -> Result:
        query_bool(query, "wait", True)  # always true for follow-ups, but must be a boolean
        rec = self._webhook(params)
        if rec is None:
            return 404, UNKNOWN_WEBHOOK
        original = rec.original
        if rec.deferred and original is not None and int(original["flags"]) & FLAG_LOADING:
            # After a type-5 defer the first follow-up edits the "thinking…" message.
            return 200, copy.deepcopy(self._edit(original, body or {}))
        message = self._new_message(rec.channel_id, body or {}, webhook_id=str(self.application_id))
        rec.followups.append(message)
        return 200, copy.deepcopy(message)
