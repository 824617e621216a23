"""The emulator answers as Discord does where a client library (discord.py, the bot) looks:
identity routes, channel and interaction shapes, boolean query strings, ``with_response``,
per-field 400s, component messages.  Every REST answer is checked against Discord's OpenAPI
description (``response_errors`` must stay empty)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
import trio
import trio_websocket

from musicbot.emulator.rest_errors import flatten
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.world import World
from tests.rest.helpers import SPEC_PATH, spec_response_validator, spec_validator

TIMEOUT = 15
UA = [("User-Agent", "DiscordBot (https://example.invalid, 1.0)")]


@asynccontextmanager
async def validated(
    world: World | None = None,
) -> AsyncIterator[tuple[Emulator, httpx.AsyncClient]]:
    options = {"validator": spec_validator(), "response_validator": spec_response_validator()}
    async with open_emulator(world=world, heartbeat_interval=1.0, rest_options=options) as emu:
        assert emu.rest is not None
        headers = {"Authorization": f"Bot {emu.world.token}"}
        async with httpx.AsyncClient(base_url=emu.api_base + "/", headers=headers) as http:
            yield emu, http
        assert emu.rest.response_errors == [], emu.rest.response_errors


def _schema(name: str) -> jsonschema.Draft202012Validator:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    schema = dict(spec["components"]["schemas"][name])
    schema["components"] = spec["components"]
    return jsonschema.Draft202012Validator(schema)  # "#/components/…" resolves in `schema`


async def _ready_and_guilds(emu: Emulator, count: int) -> list[dict[str, Any]]:
    """IDENTIFY over a raw socket; READY's d, then ``count`` GUILD_CREATE d's."""
    out: list[dict[str, Any]] = []
    url = emu.gateway_url + "/?v=10&encoding=json"
    async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
        json.loads(await ws.get_message())  # HELLO
        identify = {"token": emu.world.token, "intents": 1 << 0, "properties": {}}
        await ws.send_message(json.dumps({"op": 2, "d": identify}))
        while len(out) < count + 1:
            payload = json.loads(await ws.get_message())
            if payload["op"] == 0:
                out.append(payload["d"])
    return out


async def test_identity_is_readys_user(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            guild = emu.world.add_guild("G")
            ready, _ = await _ready_and_guilds(emu, 1)
            me = await http.get("users/@me")
            app = await http.get("oauth2/applications/@me")
            sent = await http.post(
                f"channels/{guild.text_channel.id}/messages", json={"content": "hi"}
            )
    user = ready["user"]
    assert me.status_code == 200 and app.status_code == 200
    assert (me.json()["id"], me.json()["username"]) == (user["id"], user["username"])
    assert me.json()["bot"] is True
    assert app.json()["id"] == ready["application"]["id"]
    assert app.json()["bot"]["id"] == user["id"]
    assert sent.json()["author"]["id"] == user["id"]


async def test_guild_create_channels_and_members_as_discord(
    autojump_clock: trio.testing.MockClock,
) -> None:
    channel_schema = _schema("GuildChannelResponse")
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, _http):
            emu.world.add_guild("G", text_channels=("a", "b"), voice_channels=("v1", "v2"))
            _, create = await _ready_and_guilds(emu, 1)
    channels = create["channels"]
    for channel in channels:
        problems = [e.message for e in channel_schema.iter_errors(channel)]
        assert problems == [], (channel, problems)
    voice = [c for c in channels if c["type"] == 2]
    assert [c["position"] for c in voice] == [0, 1]
    assert all(c["bitrate"] == 64_000 and c["user_limit"] == 0 for c in voice)
    assert all("bitrate" not in c for c in channels if c["type"] == 0)
    # Outside interactions a member object has no `permissions` (Discord's rule).
    assert all("permissions" not in m for m in create["members"])


async def test_interactions_carry_the_registered_ids_and_limits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    command = {"name": "play", "description": "Play", "type": 1}
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            guild = emu.world.add_guild("G")
            user = emu.world.add_member(guild.id, "u")
            app = emu.world.application_id
            put_global = await http.put(f"applications/{app}/commands", json=[command])
            global_use = emu.command(guild.id, user.user_id, "play", {"query": "x"})
            other = {"name": "skip", "description": "Skip"}
            put_guild = await http.put(
                f"applications/{app}/guilds/{guild.id}/commands", json=[other]
            )
            guild_use = emu.command(guild.id, user.user_id, "skip")
    assert global_use.payload["data"]["id"] == put_global.json()[0]["id"]
    assert "guild_id" not in global_use.payload["data"]
    assert guild_use.payload["data"]["id"] == put_guild.json()[0]["id"]
    assert guild_use.payload["data"]["guild_id"] == str(guild.id)
    assert global_use.payload["attachment_size_limit"] == 10 * 1024 * 1024
    assert global_use.payload["member"]["permissions"].isdigit()


async def test_member_permissions_can_be_left_out(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(TIMEOUT):
        async with validated(World(member_permissions=False)) as (emu, _http):
            guild = emu.world.add_guild("G")
            user = emu.world.add_member(guild.id, "u")
            record = emu.command(guild.id, user.user_id, "queue")
    assert "permissions" not in record.payload["member"]


@pytest.mark.parametrize(
    ("value", "localized"),
    [("True", True), ("true", True), ("1", True), ("False", False), ("false", False), ("0", False)],
)
async def test_boolean_query_strings(
    autojump_clock: trio.testing.MockClock, value: str, localized: bool
) -> None:
    command = {"name": "play", "description": "Play", "description_localizations": {"vi": "Phát"}}
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            path = f"applications/{emu.world.application_id}/commands"
            await http.put(path, json=[command])
            got = await http.get(path, params={"with_localizations": value})
    assert got.status_code == 200
    assert ("description_localizations" in got.json()[0]) is localized


async def test_a_bad_boolean_names_the_parameter(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            path = f"applications/{emu.world.application_id}/commands"
            bad = await http.get(path, params={"with_localizations": "yes"})
    assert bad.status_code == 400 and bad.json()["code"] == 50035
    assert flatten(bad.json()["errors"]) == [("with_localizations", "BOOLEAN_TYPE_CONVERT")]


async def test_with_response_answers_the_callback_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            guild = emu.world.add_guild("G")
            user = emu.world.add_member(guild.id, "u")
            a = emu.command(guild.id, user.user_id, "play")
            b = emu.command(guild.id, user.user_id, "play")
            c = emu.command(guild.id, user.user_id, "play")
            reply = await http.post(
                f"interactions/{a.id}/{a.token}/callback",
                params={"with_response": "1"},
                json={"type": 4, "data": {"content": "hello"}},
            )
            deferred = await http.post(
                f"interactions/{b.id}/{b.token}/callback",
                params={"with_response": "True"},
                json={"type": 5},
            )
            plain = await http.post(
                f"interactions/{c.id}/{c.token}/callback",
                params={"with_response": "0"},
                json={"type": 4, "data": {"content": "x"}},
            )
    body = reply.json()
    assert reply.status_code == 200
    assert body["interaction"] == {
        "id": str(a.id),
        "type": 2,
        "response_message_id": body["resource"]["message"]["id"],
        "response_message_loading": False,
        "response_message_ephemeral": False,
        "channel_id": str(a.channel_id),
    }
    assert body["resource"]["type"] == 4
    assert body["resource"]["message"]["content"] == "hello"
    assert deferred.status_code == 200 and "resource" not in deferred.json()
    assert deferred.json()["interaction"]["response_message_loading"] is True
    assert plain.status_code == 204 and plain.content == b""


async def test_unknown_command_fields_get_per_field_errors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    option = {"type": 3, "name": "query", "description": "q", "requried": True}
    bad_type = {"type": 12, "name": "n", "description": "d"}
    no_description = {"type": 3, "name": "x"}
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            path = f"applications/{emu.world.application_id}/commands"
            command = {"name": "play", "description": "Play"}
            typo = await http.put(path, json=[{**command, "options": [option, bad_type]}])
            schema = await http.put(path, json=[{**command, "options": [no_description]}])
            emu.rest.validation_errors.clear()  # type: ignore[union-attr]  # on purpose here
            stored = await http.get(path)
    assert typo.status_code == 400 and typo.json()["code"] == 50035
    assert sorted(flatten(typo.json()["errors"])) == [
        ("0.options.0.requried", "UNKNOWN_FIELD"),
        ("0.options.1.type", "BASE_TYPE_CHOICES"),
    ]
    assert schema.status_code == 400
    assert ("0.options.0.description", "BASE_TYPE_REQUIRED") in flatten(schema.json()["errors"])
    assert stored.json() == []  # nothing was registered


async def test_component_interactions_carry_their_message_and_update_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    button = {"type": 2, "style": 1, "label": "Skip", "custom_id": "skip"}
    components = [{"type": 1, "components": [button]}]
    with trio.fail_after(TIMEOUT):
        async with validated() as (emu, http):
            guild = emu.world.add_guild("G")
            user = emu.world.add_member(guild.id, "u")
            channel = guild.text_channel.id
            sent = await http.post(
                f"channels/{channel}/messages",
                json={"content": "Now playing", "components": components},
            )
            message_id = int(sent.json()["id"])
            press = emu.component(guild.id, user.user_id, "skip", message_id=message_id)
            updated = await http.post(
                f"interactions/{press.id}/{press.token}/callback",
                params={"with_response": "true"},
                json={"type": 7, "data": {"content": "Skipped", "components": []}},
            )
            again = emu.component(guild.id, user.user_id, "skip", message_id=message_id)
            wrong = emu.command(guild.id, user.user_id, "play")
            not_a_component = await http.post(
                f"interactions/{wrong.id}/{wrong.token}/callback", json={"type": 7, "data": {}}
            )
            stored = emu.rest.messages[channel]  # type: ignore[union-attr]
    carried = press.payload["message"]
    assert carried["id"] == str(message_id) and carried["content"] == "Now playing"
    assert carried["components"][0]["components"][0]["custom_id"] == "skip"
    assert updated.status_code == 200
    assert updated.json()["resource"]["type"] == 7
    assert updated.json()["resource"]["message"]["content"] == "Skipped"
    assert [(m["id"], m["content"]) for m in stored] == [(str(message_id), "Skipped")]
    assert again.payload["message"]["content"] == "Skipped"  # the edited message
    assert not_a_component.status_code == 400
