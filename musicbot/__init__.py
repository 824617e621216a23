"""A Discord music bot built as a Trio actor system."""

__version__ = "0.1.0"
