"""A local Discord: gateway, REST, voice and world state, for tests and ``make run``.

Start it with :func:`musicbot.emulator.server.open_emulator`; shape its guilds, members and
channels through :class:`~musicbot.emulator.world.World`; inject faults through
:class:`~musicbot.emulator.faults.VoiceFaults`, :class:`~musicbot.emulator.rest_faults.RestFaults`,
the gateway's methods and :mod:`musicbot.emulator.chaos`.

The public surface is ``__all__``.  Its names load on first use (PEP 562 ``__getattr__``;
:mod:`musicbot.lazy`), so importing one server (``musicbot.emulator.world`` alone, say) does
not start up the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from musicbot import lazy

if TYPE_CHECKING:
    from musicbot.emulator.chaos import Step, inject, plan
    from musicbot.emulator.faults import VoiceFaults
    from musicbot.emulator.gateway import GatewayServer
    from musicbot.emulator.media import MediaServer, Tone, open_media_server
    from musicbot.emulator.rest import EmulatorRest
    from musicbot.emulator.rest_faults import RestFaults
    from musicbot.emulator.server import Emulator, open_emulator
    from musicbot.emulator.voice import VoiceServer
    from musicbot.emulator.world import World, demo_world

_WHERE: dict[str, str] = {
    "Emulator": "server",
    "open_emulator": "server",
    "World": "world",
    "demo_world": "world",
    "GatewayServer": "gateway",
    "EmulatorRest": "rest",
    "RestFaults": "rest_faults",
    "VoiceServer": "voice",
    "VoiceFaults": "faults",
    "MediaServer": "media",
    "Tone": "media",
    "open_media_server": "media",
    "Step": "chaos",
    "plan": "chaos",
    "inject": "chaos",
}

__all__ = [
    "Emulator",
    "EmulatorRest",
    "GatewayServer",
    "MediaServer",
    "RestFaults",
    "Step",
    "Tone",
    "VoiceFaults",
    "VoiceServer",
    "World",
    "demo_world",
    "inject",
    "open_emulator",
    "open_media_server",
    "plan",
]


__getattr__, __dir__ = lazy.exports(__name__, _WHERE, globals(), __all__)
