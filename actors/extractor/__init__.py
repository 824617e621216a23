"""The extractor actor (see :mod:`actors.extractor.actor`)."""

from actors.extractor.actor import ExtractorHandle, run, start

__all__ = ["ExtractorHandle", "run", "start"]
