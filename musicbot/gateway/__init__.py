"""Discord gateway v10 client on trio-websocket: shards, typed events, close codes."""

from musicbot.gateway.close_codes import CloseAction, GatewayCloseCode, classify_close
from musicbot.gateway.errors import (
    GatewayDecodeError,
    GatewayFatalError,
    GatewayHandshakeError,
    GatewayInfoError,
    PayloadTooLargeError,
    SessionStartLimitError,
)
from musicbot.gateway.events import (
    Channel,
    ChannelDelete,
    CommandOption,
    GatewayDispatch,
    GatewayEvent,
    GuildCreate,
    GuildDelete,
    InteractionCreate,
    InteractionData,
    Ready,
    Resumed,
    VoiceServerUpdate,
    VoiceStateUpdate,
    parse_event,
)
from musicbot.gateway.handle import ShardHandle
from musicbot.gateway.manager import GatewayBotSource, ShardManager, shard_for_guild
from musicbot.gateway.state import GatewayMetrics, ShardOptions, ShardState

__all__ = [
    "Channel",
    "ChannelDelete",
    "CloseAction",
    "CommandOption",
    "GatewayBotSource",
    "GatewayCloseCode",
    "GatewayDecodeError",
    "GatewayDispatch",
    "GatewayEvent",
    "GatewayFatalError",
    "GatewayHandshakeError",
    "GatewayInfoError",
    "GatewayMetrics",
    "GuildCreate",
    "GuildDelete",
    "InteractionCreate",
    "InteractionData",
    "PayloadTooLargeError",
    "Ready",
    "Resumed",
    "SessionStartLimitError",
    "ShardHandle",
    "ShardManager",
    "ShardOptions",
    "ShardState",
    "VoiceServerUpdate",
    "VoiceStateUpdate",
    "classify_close",
    "parse_event",
    "shard_for_guild",
]
