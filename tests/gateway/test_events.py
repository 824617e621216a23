"""Parsing dispatch payloads (in Discord's real shape, as the emulator's world builds them)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.emulator.world import World
from musicbot.gateway import (
    ChannelDelete,
    GuildCreate,
    GuildDelete,
    InteractionCreate,
    VoiceServerUpdate,
    VoiceStateUpdate,
    parse_event,
)
from musicbot.gateway.events import EventDecodeError


def _world() -> tuple[World, int, int]:
    world = World()
    guild = world.add_guild("G", locale="vi")
    user = world.add_member(guild.id, "u", roles=[7, 8], permissions=1 << 40, locale="en-GB")
    return world, guild.id, user.user_id


def test_slash_command_with_nested_options() -> None:
    world, gid, uid = _world()
    rec = world.command_interaction(
        gid,
        uid,
        "playlist",
        [
            {
                "name": "add",
                "type": 1,
                "options": [{"name": "url", "type": 3, "value": "https://x"}],
            }
        ],
    )
    ev = parse_event("INTERACTION_CREATE", rec.payload)
    assert isinstance(ev, InteractionCreate)
    assert (ev.guild_id, ev.user_id, ev.type) == (gid, uid, 2)
    assert ev.member_roles == (7, 8) and ev.member_permissions == 1 << 40
    assert (ev.locale, ev.guild_locale) == ("en-GB", "vi")
    assert ev.data is not None and ev.data.name == "playlist"
    (sub,) = ev.data.options
    assert (sub.name, sub.type, sub.options[0].value) == ("add", 1, "https://x")


def test_autocomplete_and_components() -> None:
    world, gid, uid = _world()
    auto = parse_event(
        "INTERACTION_CREATE",
        world.command_interaction(
            gid, uid, "play", {"query": "lo", "n": 3}, autocomplete="query"
        ).payload,
    )
    assert isinstance(auto, InteractionCreate) and auto.type == 4 and auto.data is not None
    assert [(o.name, o.type, o.value, o.focused) for o in auto.data.options] == [
        ("query", 3, "lo", True),
        ("n", 4, 3, False),
    ]
    select = parse_event(
        "INTERACTION_CREATE",
        world.component_interaction(gid, uid, "pick", component_type=3, values=["a", "b"]).payload,
    )
    assert isinstance(select, InteractionCreate) and select.type == 3 and select.data
    assert (select.data.custom_id, select.data.component_type, select.data.values) == (
        "pick",
        3,
        ("a", "b"),
    )


def test_voice_and_guild_events() -> None:
    world, gid, uid = _world()
    seen: list[tuple[str, dict[str, object]]] = []
    world.subscribe(lambda g, t, d: seen.append((t, d)))
    guild = world.guilds[gid]
    world.move_member(gid, uid, guild.voice_channel.id)
    world.update_voice_state(gid, world.bot_user_id, guild.voice_channel.id, self_deaf=True)
    world.delete_channel(gid, guild.voice_channel.id)
    world.remove_guild(gid)
    events = [parse_event(t, d) for t, d in seen]
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "VoiceStateUpdate",
        "VoiceStateUpdate",
        "VoiceServerUpdate",
        "VoiceStateUpdate",  # deleting the channel disconnects the member...
        "VoiceStateUpdate",  # ...and the bot
        "ChannelDelete",
        "GuildDelete",
    ]
    first = events[0]
    assert isinstance(first, VoiceStateUpdate) and first.member_roles == (7, 8)
    server = events[2]
    assert isinstance(server, VoiceServerUpdate) and server.token not in repr(server)
    assert isinstance(events[3], VoiceStateUpdate) and events[3].channel_id is None
    assert isinstance(events[5], ChannelDelete) and events[5].type == 2
    assert events[6] == GuildDelete(id=gid, unavailable=False)


def test_unknown_fields_and_events_are_ignored() -> None:
    world, gid, _ = _world()
    payload = world.guild_create_payload(gid)
    payload["brand_new_field"] = {"nested": [1, 2]}
    ev = parse_event("GUILD_CREATE", payload)
    assert isinstance(ev, GuildCreate) and ev.member_count == 2
    assert parse_event("TYPING_START", {"anything": 1}) is None
    ev2 = parse_event("VOICE_SERVER_UPDATE", {"token": "t", "guild_id": "5", "endpoint": None})
    assert isinstance(ev2, VoiceServerUpdate) and ev2.endpoint is None


@pytest.mark.parametrize(
    ("name", "d"),
    [
        ("GUILD_CREATE", {"name": "no id"}),
        ("VOICE_STATE_UPDATE", {"guild_id": "1", "user_id": None, "session_id": "s"}),
        ("INTERACTION_CREATE", []),
        ("READY", {"session_id": "s"}),
        ("VOICE_STATE_UPDATE", {"guild_id": "1", "user_id": "2", "session_id": "s", "member": "x"}),
    ],
)
def test_malformed_known_events_raise_a_typed_error(name: str, d: object) -> None:
    with pytest.raises(EventDecodeError) as info:
        parse_event(name, d)
    assert info.value.event == name


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "guild_id",
                    "user_id",
                    "channel_id",
                    "session_id",
                    "member",
                    "user",
                    "data",
                    "options",
                    "name",
                    "type",
                    "value",
                    "roles",
                    "token",
                    "application",
                    "channels",
                    "voice_states",
                    "endpoint",
                    "values",
                    "guilds",
                    "resume_gateway_url",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


_EVENT_NAMES = {
    "Ready",
    "Resumed",
    "GuildCreate",
    "GuildDelete",
    "ChannelDelete",
    "VoiceStateUpdate",
    "VoiceServerUpdate",
    "InteractionCreate",
}


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(
        [
            "READY",
            "GUILD_CREATE",
            "VOICE_STATE_UPDATE",
            "VOICE_SERVER_UPDATE",
            "INTERACTION_CREATE",
            "CHANNEL_DELETE",
            "GUILD_DELETE",
            "RESUMED",
        ]
    ),
    _json,
)
def test_junk_only_ever_raises_event_decode_error(name: str, d: object) -> None:
    with contextlib.suppress(EventDecodeError):
        event = parse_event(name, d)
        assert event is None or type(event).__name__ in _EVENT_NAMES
