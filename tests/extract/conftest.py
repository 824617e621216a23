"""The actor tests' fixtures (a local media site), shared by the extraction tests."""

from tests.actors.conftest import media, media_dir

__all__ = ["media", "media_dir"]
