"""Playlist names: validation and the mapping to file names that cannot escape their folder.

A display name is normalized (Unicode NFC, surrounding whitespace stripped, inner runs of
whitespace collapsed to one space) and then must be 1-64 characters of letters (any script, so
Vietnamese "Nhạc Trịnh" is fine), combining marks, digits, spaces and ``- _ . , ' ! & ( ) + # @``.
It may not start with a dot, and may not be a Windows device name (CON, NUL, COM1 ...).

The file name is ``<slug>-<hash>.json``, a function of the casefolded name only: ``slug`` is an
ASCII transliteration for humans
(lowercase letters, digits and ``-``, at most 40 characters, never empty) and ``hash`` is the
first 16 hex digits of SHA-256 over the *casefolded* name.  So the same name in any case maps to
the same file (a case-insensitive duplicate is detected by the file existing), distinct names
differ in their hash, and no file name can contain a separator, start with a dot, or be a
reserved device name.  Storing the display name inside the file lets the repository detect the
astronomically unlikely hash collision.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

from musicbot.storage.errors import InvalidName

MAX_NAME_LENGTH: Final = 64
MAX_SLUG_LENGTH: Final = 40
HASH_HEX_DIGITS: Final = 16
ALLOWED_PUNCTUATION: Final = frozenset("-_.,'!&()+#@ ")
# Windows device names are reserved with any extension ("CON.txt" too).
RESERVED: Final = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
    | {"com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"}
)
# Letters NFKD does not decompose into ASCII.
_TRANSLITERATE: Final = str.maketrans({"đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "ø": "o"})
FILE_NAME_RE: Final = re.compile(
    rf"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-[0-9a-f]{{{HASH_HEX_DIGITS}}}\.json$"
)


def normalize(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).split())


def _allowed(ch: str) -> bool:
    if ch in ALLOWED_PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    return category[0] in "LMN"


def validate(name: str) -> str:
    """The normalized display name, or :class:`InvalidName` saying what is wrong."""
    clean = normalize(name)
    if not clean:
        raise InvalidName(name, "empty", MAX_NAME_LENGTH)
    if len(clean) > MAX_NAME_LENGTH:
        raise InvalidName(name, "too_long", MAX_NAME_LENGTH)
    if not all(_allowed(ch) for ch in clean):
        raise InvalidName(name, "bad_chars", MAX_NAME_LENGTH)
    if clean.startswith("."):
        raise InvalidName(name, "leading_dot", MAX_NAME_LENGTH)
    stem = clean.split(".", 1)[0].strip().casefold()
    if stem in RESERVED:
        raise InvalidName(name, "reserved", MAX_NAME_LENGTH)
    return clean


def key(name: str) -> str:
    """The case-insensitive identity of a (valid) name."""
    return unicodedata.normalize("NFC", normalize(name).casefold())


def slug(name: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
        .encode("ascii", "ignore")
        .decode("ascii")
        .lower()
    )
    text = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    text = text[:MAX_SLUG_LENGTH].rstrip("-")
    return text or "playlist"


def file_name(name: str) -> str:
    """``<slug>-<hash>.json`` for a valid name (validates it first)."""
    clean = validate(name)
    ident = key(clean)
    # Both parts come from the casefolded key, so every case variant maps to the same file.
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS]
    return f"{slug(ident)}-{digest}.json"
