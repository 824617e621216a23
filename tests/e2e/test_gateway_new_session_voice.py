"""A voice-server change whose VOICE_SERVER_UPDATE is lost with the gateway session (glue #1).

Discord closes the old voice socket (4014 here, the server moved) and then sends the new server
on the main gateway; if that gateway session is invalidated (op 9 ``d=false``) before the event
reaches the bot, the event is gone for good: the new session starts with READY, not a replay.
The shard's READY is routed to every guild of the shard, whose call (waiting for the gateway)
joins again at once on the new session (op 4 → new VOICE_STATE/VOICE_SERVER_UPDATE), so the
music comes back where it was.  Without that, the call waits out ``move_timeout``, gives up and
leaves: the queue is lost and "Left the voice channel" is said.
"""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.faults import CLOSE_FIRST
from tests.e2e.flow import bot_in_voice, config, wait_message
from tests.e2e.harness import stack
from tests.e2e.test_voice_moves import MAX_LOST, QUEUED_FRAMES, audio, said_left, start_the_queue


async def test_a_lost_voice_server_update_comes_back_on_the_new_gateway_session(
    tmp_path: Path,
) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = await start_the_queue(s)
            gw = s.emu.gateway_faults  # type: ignore[union-attr]
            identifies = len(gw.identifies)

            async def lose_the_session() -> None:
                # The old voice socket is closed; the session the update would go to is gone.
                await gw.invalidate_session(resumable=False)

            await s.emu.faults.change_voice_server(  # type: ignore[union-attr]
                s.guild.id, order=CLOSE_FIRST, delay=0.0, between=lose_the_session
            )
            await gw.wait_for_identifies(identifies + 1)  # a new session, READY
            assert "`1.` [c880]" in await me.ask("queue")  # intact
            await wait_message(s, "The queue has finished.")
            heard = audio(s.listener)
            assert QUEUED_FRAMES - MAX_LOST <= len(heard) <= QUEUED_FRAMES + 5, len(heard)
            assert said_left(s) == []
            assert bot_in_voice(s)
