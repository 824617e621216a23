"""Sphinx configuration for the musicbot documentation (``make docs``; offline, warnings fatal)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "musicbot"
author = "the musicbot developers"
copyright = "2026, the musicbot developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.graphviz",
    "docstring_check",
    "reexports",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "_templates", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# Broken cross-references are errors: every :class:/:func:/:mod: reference to our own code must
# resolve.  References into third-party packages cannot (the build is offline, so there is no
# intersphinx); they are listed here by package rather than one by one.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(trio|trio_websocket|attrs|httpx|structlog|yt_dlp|davey|dave|nacl|cryptography"
        r"|hypercorn|prometheus_client|collections|typing|enum|pathlib|random|ssl|socket|asyncio"
        r"|concurrent|contextlib|types|datetime|json|subprocess|zlib|sqlite3|psycopg|psycopg_pool"
        r"|zstandard|_io|io|os|builtins|ipaddress|cattrs|abc|tomllib|functools|re|logging)(\..*)?",
    ),
    # Names Python's own typing renders without a module.
    (
        r"py:.*",
        r"(Any|Final|Self|Callable|Awaitable|Iterator|AsyncIterator|Mapping|Sequence"
        r"|Iterable|Literal|TypeAlias|NoReturn|Never|Protocol|Union|Optional|TypeVar|P|T|K|V"
        r"|MsgT|ReplyT|Msg|R|E|Path|Enum|IntEnum|Event|Nursery|TaskStatus)",
    ),
    (r"py:(class|obj)", r".*\.(T|T_co|K|V|MsgT|ReplyT|Msg|R|E|M)"),
    # Private helpers (a leading underscore) are not documented; a type hint may still name one.
    (r"py:class", r"(.*\.)?_[A-Za-z]\w*"),
    # The C accelerator's types (a private module; its Python twins in musicbot.voice.rtp are).
    (r"py:class", r"musicbot\.voice\._rtpfast\.\w+"),
]

autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autosummary_generate = True
autosummary_imported_members = False
templates_path = ["_templates"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autoclass_content = "both"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

suppress_warnings: list[str] = []

graphviz_output_format = "svg"

html_theme = "alabaster"
html_title = "musicbot"
html_static_path: list[str] = []
