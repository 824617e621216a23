"""``make run`` without a token: the local Discord, the bot, a web page and a console, in one
process.

The emulator runs the demo world (:func:`musicbot.emulator.world.demo_world`: the same ids on
every run) with a libdave listener standing in for your Discord client in the voice channel:
everything the bot sends is decrypted end to end, streamed to the web page and written to an
Ogg Opus file.  A media server on a fixed port serves the demo's melodies (generated once,
cached in the data dir), so links saved in one run still play in the next, and the bot's data
dir is kept, so playlists, settings and the session (queue and position) come back.

This is composition (it starts the bot), so it lives beside ``musicbot.app``, not inside the
emulator package, which stays an independent peer of the bot.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import structlog
import trio

from musicbot.app import App, serve
from musicbot.config import Config, LogConfig, LyricsConfig, Secret
from musicbot.demo import tracks
from musicbot.demo.console import HELP, Console
from musicbot.demo.ports import MEDIA_PORT, WEB_PORT, pick_port
from musicbot.demo.web import DemoWeb, open_web_server
from musicbot.emulator.media import open_media_server
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.voice_call import Listener
from musicbot.emulator.world import demo_world

log = structlog.get_logger(__name__)

HOST: Final = "127.0.0.1"
RECORD_EVERY: Final = 5.0  # seconds between rewrites of the recording while audio arrives
RECORDING_NAME: Final = "emulator-recording.ogg"
LOG_NAME: Final = "musicbot.log"
HISTORY_NAME: Final = "console-history"
INTERRUPT_EVERY: Final = 0.05  # seconds between attempts to end a prompt that is starting


def demo_log_config(cfg: Config) -> LogConfig:
    """Logs of the demo go to a file in the data dir unless ``[log] file`` names one."""
    if cfg.log.file:
        return cfg.log
    data_dir = Path(cfg.storage.data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    return attrs.evolve(cfg.log, file=str(data_dir / LOG_NAME))


def show_only_warnings_on_terminal() -> None:
    """After :func:`musicbot.log.configure` with a file: the terminal shows warnings and up."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.WARNING)


def embedded_config(
    cfg: Config,
    emu: Emulator,
    search_template: str = "",
    related_template: str = "",
    lyrics_api_base: str = "",
) -> Config:
    """The operator's config, pointed at the emulator, allowed to fetch the local demo media;
    with ``search_template`` (the media server's local search) unless the operator chose a
    search provider of their own, so /search and autocomplete work offline, and likewise
    ``related_template`` (its related tracks) as the related provider, so /autoplay does, and
    ``lyrics_api_base`` (its LRCLIB stand-in) instead of LRCLIB itself, so /lyrics does."""
    lyrics = cfg.lyrics
    if lyrics_api_base and lyrics.api_base == LyricsConfig().api_base:
        lyrics = attrs.evolve(lyrics, api_base=lyrics_api_base)
    return attrs.evolve(
        cfg,
        lyrics=lyrics,
        discord=attrs.evolve(
            cfg.discord,
            api_base=emu.api_base,
            gateway_url=emu.gateway_url,
            token=Secret(emu.world.token),
            ca_file=emu.ca_file,  # the emulator's voice gateway speaks TLS with its own CA
            shard_count="auto",
            shard_ids="auto",
        ),
        extractor=attrs.evolve(
            cfg.extractor,
            allow_private_addresses=True,
            allowed_domains=(*cfg.extractor.allowed_domains, HOST),
            search_provider=search_template
            if search_template and cfg.extractor.search_provider == "ytsearch"
            else cfg.extractor.search_provider,
            related_provider=cfg.extractor.related_provider or related_template,
        ),
    )


# ---------------------------------------------------------------------- reading lines


async def _read_lines(console: Console, stdin_fd: int) -> None:
    """Without a terminal: lines from the input until /quit or its end."""
    stream = trio.lowlevel.FdStream(os.dup(stdin_fd))
    buffer = b""
    async with stream:
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                if not console.run_line(raw.decode("utf-8", "replace")):
                    return


def _completer(console: Console) -> Any:
    from prompt_toolkit.completion import Completer, Completion

    class SlashCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterable[Any]:
            line = document.text_before_cursor
            current = "" if line.endswith(" ") or not line else line.split()[-1]
            for word, hint in console.completions(line):
                yield Completion(word, start_position=-len(current), display_meta=hint[:60])

    return SlashCompleter()


async def _prompt_lines(console: Console, history: Path) -> None:
    """On a terminal: prompt_toolkit's prompt in a worker thread, one line at a time.

    Cancelling this task ends a prompt that is showing (as Ctrl-D would) and waits for the
    thread, so the terminal is left in its normal mode.
    """
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    session: Any = PromptSession(
        history=FileHistory(str(history)),
        completer=_completer(console),
        complete_while_typing=True,
    )

    def one_line() -> str | None:
        try:
            return str(session.prompt(f"{console.me}> "))
        except (KeyboardInterrupt, EOFError):
            return None

    def interrupt() -> bool:
        app = session.app
        loop = getattr(app, "loop", None)
        if not app.is_running or loop is None:
            return False
        loop.call_soon_threadsafe(
            lambda: app.exit(exception=EOFError()) if app.is_running else None
        )
        return True

    while True:
        done = trio.Event()
        result: list[str | None] = []

        async def run_prompt(done: trio.Event = done, result: list[str | None] = result) -> None:
            try:
                result.append(await trio.to_thread.run_sync(one_line))
            finally:
                done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_prompt)
            try:
                await done.wait()
            except trio.Cancelled:
                with trio.CancelScope(shield=True):
                    while not done.is_set():
                        interrupt()
                        with trio.move_on_after(INTERRUPT_EVERY):
                            await done.wait()
                raise
        line = result[0] if result else None
        if line is None or not console.run_line(line):
            return


async def _printer(console: Console) -> None:
    rest = console.emu.rest
    assert rest is not None
    while True:
        console.render_new()
        await rest.wait_for_change()


async def _recorder(console: Console) -> None:
    last = 0
    while True:
        await trio.sleep(RECORD_EVERY)
        if len(console.listener.frames) != last:
            last = len(console.listener.frames)
            await trio.to_thread.run_sync(console.save_recording)


async def _until_stopped(app: App, cancel: trio.CancelScope) -> None:
    """A stop asked from elsewhere (SIGINT, SIGTERM) ends the console too."""
    await app.stop_requested.wait()
    cancel.cancel()


async def run_embedded_console(
    cfg: Config,
    *,
    on_app: Callable[[App], None] = lambda _app: None,
    on_web: Callable[[DemoWeb], None] = lambda _web: None,
    stdin_fd: int | None = None,
    out: TextIO | None = None,
    web_port: int = WEB_PORT,
    media_port: int = MEDIA_PORT,
    interactive: bool | None = None,
    manage_heap: bool = False,
) -> None:
    """Run the demo until /quit, end of input, Ctrl-C or a stop signal; then stop the bot
    gracefully (it saves its session) and save what the listener heard.  ``manage_heap``: as
    for :func:`musicbot.app.serve` (the command line's choice)."""
    data_dir = Path(await trio.Path(cfg.storage.data_dir).expanduser())
    await trio.Path(data_dir).mkdir(parents=True, exist_ok=True)
    fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    terminal = os.isatty(fd) and out is None if interactive is None else interactive
    media_dir = tracks.cache_dir(data_dir)
    tones = await tracks.generate(media_dir)
    voice = VoiceServer()
    world, guild, dj = demo_world()
    text, lounge = guild.text_channel.id, guild.voice_channel.id
    async with (
        open_media_server(media_dir, tones, port=pick_port(HOST, media_port)) as media,
        open_emulator(world=world, voice_backend=voice) as emu,
    ):
        listener = voice.add_listener(guild_id=guild.id, channel_id=lounge, user_id=dj.user_id)
        web = DemoWeb(
            emu=emu,
            guild_id=guild.id,
            text_channel=text,
            voice_channel=lounge,
            listener=listener,
            demo_links=media.demo_links(),
        )
        async with open_web_server(web, port=pick_port(HOST, web_port)):
            on_web(web)
            await _run(
                cfg, emu, web, listener, media.demo_links(),
                (media.search_template, media.related_template, media.lyrics_api_base),
                data_dir, on_app, fd, out,
                terminal, manage_heap,
            )  # fmt: skip


async def _run(
    cfg: Config,
    emu: Emulator,
    web: DemoWeb,
    listener: Listener,
    links: list[tuple[str, str]],
    templates: tuple[str, str, str],  # the media server's search, related tracks and lyrics
    data_dir: Path,
    on_app: Callable[[App], None],
    fd: int,
    out: TextIO | None,
    terminal: bool,
    manage_heap: bool,
) -> None:
    from prompt_toolkit.patch_stdout import patch_stdout

    terminal_logs = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    with contextlib.ExitStack() as stack:
        if terminal:
            stack.enter_context(patch_stdout(raw=True))
            for handler in terminal_logs:
                stack.callback(handler.setStream, handler.stream)
                handler.setStream(sys.stderr)  # printed above the prompt
        console = Console(
            emu=emu,
            guild_id=web.guild_id,
            text_channel=web.text_channel,
            listener=listener,
            out=out or sys.stdout,
            recording=data_dir / RECORDING_NAME,
        )
        async with trio.open_nursery() as nursery:
            config = embedded_config(cfg, emu, *templates)
            app: App = await nursery.start(
                functools.partial(serve, config, manage_heap=manage_heap)
            )
            on_app(app)
            await app.ready.wait()
            console.say("musicbot is running against the local Discord emulator (no token set).")
            console.say(f"Open the demo page: {web.url}  (Discord in your browser; hear it too)")
            console.say("You are in the voice channel 'Lounge' of 'Demo server'. Demo tracks:")
            for title, link in links:
                console.say(f"  {title}: {link}")
            console.say(f"What you would hear is written to {console.recording}")
            if cfg.log.file or terminal or out is None:
                console.say(f"Logs: {demo_log_config(cfg).file} (warnings are shown here too)")
            console.say(HELP)
            async with trio.open_nursery() as ui:
                ui.start_soon(_printer, console)
                ui.start_soon(_recorder, console)
                ui.start_soon(_until_stopped, app, ui.cancel_scope)
                if terminal:
                    await _prompt_lines(console, data_dir / HISTORY_NAME)
                else:
                    await _read_lines(console, fd)
                ui.cancel_scope.cancel()
            console.say("Stopping (the session is saved; the next start resumes it)…")
            app.request_stop()  # serve() ends after its graceful stop
        saved = await trio.to_thread.run_sync(console.save_recording)
        if saved:
            console.say(f"Saved {saved} received frames to {console.recording}")
