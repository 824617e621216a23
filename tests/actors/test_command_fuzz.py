"""Every command of the command tree, with arbitrary option values, through the router.

A real router, guild supervisor and guild actor (with a queue restored from a session) receive
INTERACTION_CREATE dispatches whose options are drawn by hypothesis: right and wrong types,
out-of-range and huge numbers, nan and inf, unknown choices, missing and unknown options, huge
strings, a number as the command name.  Whatever arrives: every interaction gets an answer
(a deferral is followed by its edit), no actor crashes, and a refused command leaves the queue
exactly as it was.  The REST client is a fake that records what would reach Discord.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicbot.commands.definitions import BY_NAME, COMMANDS
from musicbot.commands.model import Option, OptionType
from musicbot.commands.validate import Refusal, validate
from musicbot.gateway.events import CommandOption
from tests.actors.bench import GUILD, open_bench

# ------------------------------------------------------------------ strategies

JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308]),
    st.text(max_size=20),
    st.sampled_from(["nan", "-nan", "1:nan", "inf", "forever", "loud", "abc", "", "²", "1:99"]),
    st.text(min_size=6000, max_size=6100, alphabet="ab"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _value_for(option: Option) -> st.SearchStrategy[Any]:
    """Mostly plausible values of the right type, with edges; sometimes junk."""
    plausible: st.SearchStrategy[Any]
    match option.type:
        case OptionType.STRING:
            choices = [c.value for c in option.choices]
            plausible = st.one_of(
                st.sampled_from(choices) if choices else st.text(max_size=30),
                st.text(max_size=(option.max_length or 100) + 5),
            )
        case OptionType.INTEGER:
            low = option.min_value if option.min_value is not None else -5
            high = option.max_value if option.max_value is not None else 120
            plausible = st.integers(min_value=low - 3, max_value=high + 3)
        case OptionType.BOOLEAN:
            plausible = st.booleans()
        case _:
            plausible = st.one_of(
                st.integers(min_value=-1, max_value=2**64 + 1).map(str), st.integers()
            )
    return st.one_of(plausible, plausible, JUNK)


def _type_for(option: Option) -> st.SearchStrategy[int]:
    return st.one_of(st.just(int(option.type)), st.integers(min_value=-1, max_value=12))


@st.composite
def _options(draw: st.DrawFn, defined: Sequence[Option], depth: int = 0) -> tuple[Any, ...]:
    subs = [o for o in defined if o.type in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)]
    if subs and depth < 3:
        sub = draw(st.sampled_from(subs))
        inner = draw(_options(sub.options, depth + 1))
        return (CommandOption(name=sub.name.en, type=int(sub.type), options=inner),)
    chosen = draw(st.lists(st.sampled_from(list(defined)), max_size=4)) if defined else []
    out: list[Any] = [
        CommandOption(name=o.name.en, type=draw(_type_for(o)), value=draw(_value_for(o)))
        for o in chosen
    ]
    if draw(st.integers(0, 9)) == 0:  # an option no command defines
        out.append(CommandOption(name=draw(st.text(max_size=40)), type=3, value=draw(JUNK)))
    return tuple(out)


@st.composite
def interactions(draw: st.DrawFn) -> tuple[Any, tuple[Any, ...]]:
    """(command name, options): every command of the tree, and now and then a bad name."""
    command = draw(st.sampled_from(COMMANDS))
    name: Any = command.name.en
    if draw(st.integers(0, 19)) == 0:
        name = draw(st.one_of(st.integers(), st.text(max_size=40), st.none()))
    return name, draw(_options(command.options))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(interactions(), min_size=1, max_size=4))
async def test_arbitrary_options_are_answered_and_never_cost_the_queue(
    batch: list[tuple[Any, tuple[Any, ...]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(Path(tmp), nursery)
            handle = bench.guilds.lookup(GUILD)
            for name, options in batch:
                before = await bench.queue_text()
                ident = await bench.send(name, options)
                refused = isinstance(validate(BY_NAME, name, options), Refusal)
                if refused:
                    assert await bench.queue_text() == before, (name, options)
                    # The refusal is a clear, ephemeral sentence, not an error.
                    body = bench.rest.calls[ident][0][1]
                    assert body["type"] == 4 and body["data"]["flags"] == 1 << 6
                    assert "went wrong" not in body["data"]["content"]
                assert bench.guilds.restarts == 0, (name, options)
                assert bench.guilds.lookup(GUILD) is handle
            nursery.cancel_scope.cancel()


PREFIXES = (
    "np:pause",
    "np:resume",
    "np:skip",
    "np:stop",
    "np:repeat",
    "np:shuffle",
    "queue:page:",
    "search:",
    "playlist:page:g:",
    "playlist:page:p:1:",
    "playlist:delete:g:",
    "playlist:keep:p:",
    "",
)


@st.composite
def components(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """A component custom id: a known prefix with an arbitrary tail, and select values."""
    tail = draw(st.one_of(st.text(max_size=30), st.sampled_from(["2", "²", "-1", "9" * 40, ""])))
    custom_id = (draw(st.sampled_from(PREFIXES)) + tail)[:100] or "x"
    values = tuple(draw(st.lists(st.one_of(st.text(max_size=8), st.just("0")), max_size=3)))
    return custom_id, values


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(components(), min_size=1, max_size=4))
async def test_arbitrary_buttons_and_menus_are_answered_without_a_crash(
    batch: list[tuple[str, tuple[str, ...]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(Path(tmp), nursery)
            handle = bench.guilds.lookup(GUILD)
            for custom_id, values in batch:
                await bench.send(None, custom_id=custom_id, values=values)
                assert bench.guilds.restarts == 0, (custom_id, values)
                assert bench.guilds.lookup(GUILD) is handle
            nursery.cancel_scope.cancel()


async def test_the_crashes_of_issue_12_are_refused_with_a_clear_answer() -> None:
    """The reported inputs: /seek nan, /repeat forever, /volume "loud", /move x null, and a
    number as the command name; the answers say what was wrong and the queue is unchanged."""
    cases: list[tuple[Any, tuple[Any, ...], str]] = [
        ("seek", (CommandOption(name="position", type=3, value="nan"),), "I don't understand"),
        ("seek", (CommandOption(name="position", type=3, value="1:nan"),), "I don't understand"),
        ("seek", (CommandOption(name="position", type=3, value="inf"),), "I don't understand"),
        ("repeat", (CommandOption(name="mode", type=3, value="forever"),), "must be one of"),
        ("volume", (CommandOption(name="percent", type=4, value="loud"),), "percent"),
        (
            "move",
            (
                CommandOption(name="from", type=4, value="x"),
                CommandOption(name="to", type=4, value=None),
            ),
            "from",
        ),
        ("settings", (CommandOption(name="dj_role", type=8, value="abc"),), "dj_role"),
        ("volume", (CommandOption(name="percent", type=4, value=900),), "between 0 and 200"),
        (12, (), "I don't know that command."),
    ]
    with tempfile.TemporaryDirectory() as tmp, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(Path(tmp), nursery)
            before = await bench.queue_text()
            for name, options, expected in cases:
                ident = await bench.send(name, options)
                content = bench.rest.calls[ident][0][1]["data"]["content"]
                assert expected in content, (name, content)
            assert await bench.queue_text() == before
            assert bench.guilds.restarts == 0
            nursery.cancel_scope.cancel()


async def test_seek_past_the_end_and_move_past_the_end_say_what_happened() -> None:
    with tempfile.TemporaryDirectory() as tmp, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(Path(tmp), nursery)
            ident = await bench.send(
                "seek", (CommandOption(name="position", type=3, value="5:00"),)
            )
            content = bench.rest.calls[ident][0][1]["data"]["content"]
            assert content == "5:00 is past the end of this track (it is 2:00 long)."
            ident = await bench.send(
                "move",
                (
                    CommandOption(name="from", type=4, value=1),
                    CommandOption(name="to", type=4, value=99),
                ),
            )
            content = bench.rest.calls[ident][0][1]["data"]["content"]
            assert content == "Moved **e660** to position 3."  # 3 upcoming: it went last
            assert "`3.` [e660]" in await bench.queue_text()
            nursery.cancel_scope.cancel()
