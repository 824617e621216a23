"""TLS for the emulator's voice gateway: a certificate authority made for the run.

Discord's voice servers speak TLS only and VOICE_SERVER_UPDATE's endpoint has no scheme, so a
client prepends ``wss://``.  The emulator does the same: :class:`LocalCA` (``trustme``) issues
a certificate for ``127.0.0.1`` and ``localhost``, and writes the CA certificate to a PEM file
that a client names as its trust root (the bot: ``[discord] ca_file``).  Nothing turns
verification off; a client that does not trust the file fails the handshake, as it would
against a server with a certificate it does not know.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost")


class LocalCA:
    """One CA and one server certificate, in memory; ``write_ca`` puts the CA on disk."""

    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="musicbot emulator")
        self._cert = self._ca.issue_cert(*HOSTS)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A context that trusts this CA only (for clients in tests)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self._ca.configure_trust(ctx)
        return ctx

    def write_ca(self, path: Path) -> Path:
        """Write the CA certificate (PEM) to ``path`` and return it."""
        self._ca.cert_pem.write_to_path(str(path))
        return path
