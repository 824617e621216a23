"""The bot's voice connection: voice gateway v8, UDP/RTP with AEAD, DAVE end-to-end encryption.

Public API: :class:`VoiceConnection` (owned by a guild actor; also the player's ``FrameSink``),
its settings, events and close-code policy.  How an owner uses it::

    events_send, events = trio.open_memory_channel[VoiceEvent](16)
    conn = VoiceConnection(guild_id=g, user_id=bot_id, update_voice_state=op4, events=events_send)
    nursery.start_soon(conn.run)            # or: await nursery.start(conn.run)
    conn.join(channel_id)                   # sends op 4 via ``op4(g, channel_id, mute, deaf)``
    # feed the main gateway's events for this guild (the bot's own voice state only):
    conn.on_voice_state_update(session_id=..., channel_id=... or None)
    conn.on_voice_server_update(token=..., endpoint=... or None)
    conn.on_gateway_ready()                 # the shard began a new session (READY, not RESUMED)
    # events: Connected / Reconnecting / Moved / Disconnected(reason: StopReason); the channel
    # is lossless (the connection waits for room), so keep reading it while ``run`` runs
    # settings: VoiceSettings.from_config(cfg) ([voice] move_timeout, [discord] ca_file)
    await conn.send_frame(opus); await conn.set_speaking(False); await conn.send_silence()
    conn.leave()                            # op 4 with channel null, then Disconnected(LEFT)
    conn.close()                            # ends ``run`` (no op 4)

Frames sent while not connected, or before the DAVE group exists, are dropped and counted in
``conn.stats`` (never blocking the player).
"""

from musicbot.voice.closecodes import CloseAction, StopReason, VoiceCloseCode, classify
from musicbot.voice.connection import UpdateVoiceState, VoiceConnection
from musicbot.voice.events import (
    Connected,
    Disconnected,
    Moved,
    Reconnecting,
    VoiceEvent,
    VoiceState,
    VoiceStats,
)
from musicbot.voice.settings import VoiceSettings, voice_ssl_context

__all__ = [
    "CloseAction",
    "Connected",
    "Disconnected",
    "Moved",
    "Reconnecting",
    "StopReason",
    "UpdateVoiceState",
    "VoiceCloseCode",
    "VoiceConnection",
    "VoiceEvent",
    "VoiceSettings",
    "VoiceState",
    "VoiceStats",
    "classify",
    "voice_ssl_context",
]
