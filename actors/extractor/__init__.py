"""The extractor actor (see :mod:`actors.extractor.actor`)."""

from actors.extractor.actor import run, start
from actors.extractor.handle import ExtractorHandle

__all__ = ["ExtractorHandle", "run", "start"]
