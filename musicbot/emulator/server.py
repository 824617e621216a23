"""Composition of the local Discord: world + gateway + REST (+ an optional voice backend).

``async with open_emulator() as emu:`` starts everything on 127.0.0.1 with ports chosen by the
OS and stops it on exit.  ``emu.bot_config()`` is a bot :class:`~musicbot.config.Config`
pointed at it (``api_base``, ``gateway_url``, token).  Test controls live on ``emu.gateway``
(op 7, op 9, closes, ACK pausing, waits; faults also as ``emu.gateway_faults``) and
``emu.rest`` (REST faults as ``emu.rest_faults``); users act through ``emu.world``
(add guilds and members, move members in voice) and ``emu.command`` / ``emu.component``
(inject interactions as INTERACTION_CREATE).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import trio

from musicbot import config as config_mod
from musicbot.config import Config, Secret
from musicbot.emulator.gateway import GatewayServer
from musicbot.emulator.rest import EmulatorRest
from musicbot.emulator.rest_faults import RestFaults
from musicbot.emulator.world import InteractionRecord, VoiceBackend, World

if TYPE_CHECKING:
    from musicbot.emulator.faults import VoiceFaults


@runtime_checkable
class ServedVoiceBackend(Protocol):
    """A voice backend that runs a server (the emulator's voice gateway + UDP)."""

    def create_session(
        self, *, guild_id: int, channel_id: int, user_id: int, session_id: str
    ) -> tuple[str, str]: ...

    def end_session(self, *, guild_id: int, user_id: int) -> None: ...

    async def serve(self, *, task_status: trio.TaskStatus[Any] = ...) -> None: ...


@attrs.define(eq=False)
class Emulator:
    world: World
    gateway: GatewayServer
    rest: EmulatorRest | None
    voice: VoiceBackend
    # Voice faults on demand (musicbot/emulator/faults.py) when the voice server is ours.
    faults: VoiceFaults | None = None

    @property
    def ca_file(self) -> str:
        """The PEM file of the CA the voice gateway's TLS certificate comes from ("": none)."""
        return str(getattr(self.voice, "ca_file", ""))

    @property
    def gateway_faults(self) -> GatewayServer:
        """Gateway faults on demand: ``send_reconnect`` (op 7), ``invalidate_session`` (op 9),
        ``invalidate_next_resume`` (RESUME answered with op 9), ``close``, ``drop``,
        ``pause_acks``."""
        return self.gateway

    @property
    def rest_faults(self) -> RestFaults:
        """REST faults on demand (forced statuses, 429s of every scope, slow answers)."""
        if self.rest is None:
            raise LookupError("this emulator runs without its REST server")
        return self.rest.faults

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    @property
    def api_base(self) -> str:
        if self.rest is None:
            raise LookupError("this emulator runs without its REST server")
        return self.rest.base_url

    def bot_config(self, extra: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
        """A bot Config pointed at this emulator (more sections/keys via ``extra``)."""
        data: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (extra or {}).items()}
        discord = data.setdefault("discord", {})
        discord.setdefault("gateway_url", self.gateway_url)
        if self.rest is not None:
            discord.setdefault("api_base", self.api_base)
        discord.setdefault("token", self.world.token)
        if self.ca_file:
            discord.setdefault("ca_file", self.ca_file)
        return config_mod.build(data, environ={})

    def configure(self, cfg: Config) -> Config:
        """``cfg`` (e.g. from config.toml) with its [discord] endpoints and token pointed here."""
        discord = attrs.evolve(
            cfg.discord,
            gateway_url=self.gateway_url,
            api_base=self.api_base if self.rest is not None else cfg.discord.api_base,
            token=Secret(self.world.token),
            ca_file=self.ca_file or cfg.discord.ca_file,
        )
        return attrs.evolve(cfg, discord=discord)

    def inject(self, record: InteractionRecord) -> InteractionRecord:
        """Make the REST side expect the interaction, then dispatch INTERACTION_CREATE."""
        if self.rest is not None:
            message = record.payload.get("message")
            self.rest.register_interaction(
                record.id,
                record.token,
                channel_id=record.channel_id,
                type=record.type,
                message_id=int(message["id"]) if isinstance(message, dict) else None,
            )
        self.world.emit(record.guild_id, "INTERACTION_CREATE", record.payload)
        return record

    def command(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        options: Sequence[Mapping[str, Any]] | Mapping[str, Any] = (),
        *,
        channel_id: int | None = None,
        locale: str | None = None,
        autocomplete: str | None = None,
    ) -> InteractionRecord:
        """A user runs ``/name`` (type 2; type 4 with ``autocomplete=option``)."""
        return self.inject(
            self.world.command_interaction(
                guild_id,
                user_id,
                name,
                options,
                channel_id=channel_id,
                locale=locale,
                autocomplete=autocomplete,
            )
        )

    def component(
        self,
        guild_id: int,
        user_id: int,
        custom_id: str,
        *,
        component_type: int = 2,
        values: Sequence[str] = (),
        message_id: int | None = None,
        channel_id: int | None = None,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user presses a button or picks from a select menu (type 3).

        The interaction carries the message the component sits on, as the REST side stores
        it: the one with ``message_id``, else the newest holding ``custom_id`` (see
        :meth:`EmulatorRest.component_message`); callback 7 then edits it."""
        message = None
        if self.rest is not None:
            channel = channel_id or self.world.guilds[guild_id].text_channel.id
            message = self.rest.component_message(channel, custom_id, message_id)
        return self.inject(
            self.world.component_interaction(
                guild_id,
                user_id,
                custom_id,
                component_type=component_type,
                values=values,
                message_id=message_id,
                channel_id=channel_id,
                locale=locale,
                message=message,
            )
        )


@asynccontextmanager
async def open_emulator(
    *,
    world: World | None = None,
    heartbeat_interval: float = 41.25,
    shards: int = 1,
    rest: bool = True,
    rest_options: Mapping[str, Any] | None = None,
    voice_backend: VoiceBackend | None = None,
    voice: bool = False,
    split_frames: bool = False,
    require_user_agent: bool = True,
    faults_seed: int = 0,
) -> AsyncIterator[Emulator]:
    """Start the emulator; yields an :class:`Emulator`; everything stops on exit.

    ``shards`` is what ``GET /gateway/bot`` recommends.  ``rest_options`` go to
    :class:`EmulatorRest` (e.g. ``validator``, ``session_start_limit``).  A ``voice_backend``
    with an async ``serve(task_status=...)`` method is started too; ``voice=True`` without one
    starts the emulator's own voice server (:class:`musicbot.emulator.voice.VoiceServer`, which
    needs the dev dependency ``dave-py`` for its listeners).  ``require_user_agent=False`` lets
    a gateway client without a ``User-Agent`` in (Discord-compatible servers refuse it).
    """
    world = world or World()
    if voice_backend is None and voice:
        from musicbot.emulator.voice import VoiceServer

        voice_backend = VoiceServer()
    if voice_backend is not None:
        world.voice_backend = voice_backend
    gateway = GatewayServer(
        world,
        heartbeat_interval=heartbeat_interval,
        split_frames=split_frames,
        require_user_agent=require_user_agent,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.serve)
        rest_server: EmulatorRest | None = None
        if rest:
            rest_server = EmulatorRest(
                world.application_id,
                lambda: gateway.url,
                token=world.token,
                shards=shards,
                bot_user=world.bot_user.user_payload(),
                on_commands=world.register_commands,
                **dict(rest_options or {}),
            )
            await nursery.start(rest_server.serve)
        if isinstance(world.voice_backend, ServedVoiceBackend):
            await nursery.start(world.voice_backend.serve)
        emu = Emulator(world=world, gateway=gateway, rest=rest_server, voice=world.voice_backend)
        from musicbot.emulator.voice import VoiceServer

        if isinstance(world.voice_backend, VoiceServer):
            from musicbot.emulator.faults import VoiceFaults

            emu.faults = VoiceFaults(world, world.voice_backend, seed=faults_seed)
        yield emu
        nursery.cancel_scope.cancel()
