"""Command sync against the emulator: PUT once, then not again."""

from __future__ import annotations

import copy

import trio

from musicbot.commands import command_payloads, same_commands, sync_commands
from tests.rest.helpers import APPLICATION_ID, client_for, running_emulator


def _puts(emu: object) -> list[str]:
    return [r.path for r in emu.requests if r.method == "PUT"]  # type: ignore[attr-defined]


async def test_global_sync_puts_once_then_never(autojump_clock: trio.testing.MockClock) -> None:
    definitions = command_payloads()
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            first = await sync_commands(rest, APPLICATION_ID, definitions)
            second = await sync_commands(rest, APPLICATION_ID, definitions)
    assert first == [None] and second == []
    assert emu.put_count() == 1
    assert _puts(emu) == [f"/applications/{APPLICATION_ID}/commands"]
    stored = emu.commands()
    assert len(stored) == len(definitions)
    # Discord's echo differs textually (ids, versions, dropped false flags) but not semantically.
    assert "id" in stored[0] and stored[0] != definitions[0]
    assert same_commands(stored, definitions)


async def test_guild_sync_and_changes(autojump_clock: trio.testing.MockClock) -> None:
    definitions = command_payloads()
    changed = copy.deepcopy(definitions)
    changed[0]["description_localizations"]["vi"] = "Mô tả mới"
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            assert await sync_commands(rest, APPLICATION_ID, definitions, [11, 22]) == [11, 22]
            assert await sync_commands(rest, APPLICATION_ID, definitions, [11, 22]) == []
            # A change only visible with with_localizations=true is still seen.
            assert await sync_commands(rest, APPLICATION_ID, changed, [11]) == [11]
            assert await sync_commands(rest, APPLICATION_ID, changed[1:], [22]) == [22]
    assert (emu.put_count(11), emu.put_count(22), emu.put_count()) == (2, 2, 0)
    assert len(emu.commands(22)) == len(definitions) - 1


def test_same_commands_sees_real_differences() -> None:
    a = command_payloads()
    b = copy.deepcopy(a)
    assert same_commands(a, list(reversed(b)))
    b[1]["options"][0]["required"] = False
    assert not same_commands(a, b)
    c = copy.deepcopy(a)
    c[2]["options"][0].pop("autocomplete")
    assert not same_commands(a, c)
