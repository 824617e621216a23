"""The demo of ``make run`` without a token: a web page standing in for the Discord client, a
comfortable console, and the demo's tracks and ports.  Composition lives in
:mod:`musicbot.embedded`."""
