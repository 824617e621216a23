"""The bot's voice connection: voice gateway v8, UDP/RTP with AEAD, DAVE end-to-end encryption.

Public API: :class:`VoiceConnection` (owned by a guild actor; also the player's ``FrameSink``),
its settings, events and close-code policy.
"""

from musicbot.voice.closecodes import CloseAction, StopReason, VoiceCloseCode, classify
from musicbot.voice.connection import UpdateVoiceState, VoiceConnection, VoiceSettings
from musicbot.voice.events import (
    Connected,
    Disconnected,
    Reconnecting,
    VoiceEvent,
    VoiceState,
    VoiceStats,
)

__all__ = [
    "CloseAction",
    "Connected",
    "Disconnected",
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
]
