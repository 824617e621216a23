"""Fixed ports for the demo, so links saved in one run still work in the next."""

from __future__ import annotations

import socket
from typing import Final

MEDIA_PORT: Final = 8471  # the demo tracks (saved playlists hold these links)
WEB_PORT: Final = 8470  # the page standing in for the Discord client


def pick_port(host: str, preferred: int) -> int:
    """``preferred`` if nobody listens there, else 0 (the OS picks a free port).

    SO_REUSEADDR as servers set it: a port whose last connections linger in TIME_WAIT after a
    restart counts as free; one with a listener does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, preferred))
        except OSError:
            return 0
    return preferred
