"""Autoplay's choice of the next track (pure): the history window of 50, and no repeats."""

from __future__ import annotations

from actors.guild import autoplay
from actors.guild.autoplay import WINDOW, pick, recent, track_key
from musicbot.i18n import t
from musicbot.models.queue import HISTORY_LIMIT, Queue
from musicbot.models.track import Track


def tr(n: int | str) -> Track:
    return Track(title=f"T{n}", webpage_url=f"https://example.org/t/{n}")


def test_the_first_candidate_not_heard_recently_is_chosen() -> None:
    played = [tr(1), tr(2)]
    assert pick([tr(1), tr(2), tr(3), tr(4)], played) == tr(3)
    assert pick([tr(1), tr(2)], played) is None
    assert pick([], played) is None


def test_a_candidate_offered_twice_is_one_track() -> None:
    # The provider's own duplicates, and the same page with stray spaces, count once.
    same = Track(title="again", webpage_url=" https://example.org/t/3 ")
    assert pick([tr(3), same], [tr(3)]) is None


def test_youtube_videos_are_compared_by_video_whatever_the_link() -> None:
    watch = Track(title="a", webpage_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=4")
    short = Track(title="b", webpage_url="https://youtu.be/dQw4w9WgXcQ")
    other = Track(title="c", webpage_url="https://music.youtube.com/watch?v=aqz-KE-bpKQ")
    assert track_key(watch.webpage_url) == track_key(short.webpage_url) == "youtube:dQw4w9WgXcQ"
    assert pick([short, other], [watch]) == other


def test_the_window_is_the_last_50_played_plus_what_is_queued() -> None:
    assert WINDOW == 50 == HISTORY_LIMIT  # the queue keeps exactly what the window needs
    history = [tr(i) for i in range(60)]  # t0 … t59, t59 the most recent
    queued = [tr("now"), tr("next")]
    avoid = recent(history, queued)
    assert avoid == [*history[10:], *queued]
    # Played 51 tracks ago: may come back; played 50 ago: not yet.
    assert pick([tr(9)], avoid) == tr(9)
    assert pick([tr(10), tr("now"), tr("next"), tr(59)], avoid) is None


def test_a_real_queue_never_yields_a_track_of_the_last_50() -> None:
    queue = Queue()
    for i in range(55):
        queue.add(tr(i))
    queue.advance()  # t0 current
    for _ in range(54):
        queue.advance()  # t0 … t53 played, t54 current
    assert queue.current is not None and queue.current.title == "T54"
    assert len(queue.history) == 50
    avoid = recent(queue.history, queue)
    offered = [tr(i) for i in range(55)]
    # t0 … t3 left the window (t4 … t53 are the last 50 played; t54 plays now).
    assert pick(offered, avoid) == tr(0)
    assert pick(offered[4:], avoid) is None


def test_every_text_exists_in_both_languages() -> None:
    assert t("autoplay.none", "en", title="X") == "Autoplay found nothing related to **X**."
    assert t("autoplay.none", "vi", title="X") == (
        "Tự phát không tìm thấy bài nào liên quan đến **X**."
    )
    assert t("autoplay.mark", "en") == "autoplay" and t("autoplay.mark", "vi") == "tự phát"
    assert autoplay.FAMILY.handlers.keys() == {"autoplay"}


def test_a_mirrored_track_is_not_offered_again_by_its_mirror() -> None:
    spotify = Track(
        title="Song",
        webpage_url="https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
        mirror_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    )
    mirror = Track(title="Song (video)", webpage_url="https://youtu.be/dQw4w9WgXcQ")
    assert pick([mirror, tr(5)], [spotify]) == tr(5)
