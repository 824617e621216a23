"""Settings of a voice connection, and the TLS context for the voice gateway.

Discord's VOICE_SERVER_UPDATE endpoint has no scheme and its voice servers speak TLS only, so
the bot always connects to ``wss://{endpoint}`` with certificate verification on.  An operator
(or the emulator, whose voice gateway uses a CA made for the run) can name a PEM file of CAs
to trust instead of the system's (``[discord] ca_file``); verification is never turned off.
"""

from __future__ import annotations

import ssl

import attrs

from musicbot.config import Config


@attrs.frozen(kw_only=True)
class VoiceSettings:
    join_timeout: float = 10.0  # op 4 -> both events
    move_timeout: float = 10.0  # a 4014/4022 close (or a move) -> the gateway's new server
    handshake_timeout: float = 10.0  # socket open -> Ready/Resumed (+ IP discovery)
    max_attempts: int = 5  # failed joins/backoffs in a row before giving up
    max_resumes: int = 3  # resumes in a row without success before a full rejoin
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    self_mute: bool = False
    self_deaf: bool = True
    # TLS for wss:// voice endpoints: None trusts the system's CAs (trio-websocket's default).
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def from_config(cls, cfg: Config) -> VoiceSettings:
        """Settings from the operator's config: ``[voice] move_timeout`` and, for a local CA
        (the emulator), ``[discord] ca_file``.  Reads the CA file: build it once, not per frame."""
        return cls(
            move_timeout=cfg.voice.move_timeout,
            ssl_context=voice_ssl_context(cfg.discord.ca_file),
        )


def voice_ssl_context(ca_file: str) -> ssl.SSLContext | None:
    """The TLS context for the voice gateway: verification always on; ``ca_file`` (PEM)
    replaces the system's trust store when set (a local CA, e.g. the emulator's)."""
    if not ca_file:
        return None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
