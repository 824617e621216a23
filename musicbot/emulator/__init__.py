"""A local Discord: gateway, REST, voice and world state, for tests and ``make run``.

Start it with :func:`musicbot.emulator.server.open_emulator`.  Submodules are imported on
demand (this package imports nothing) so each server can be used alone.
"""
