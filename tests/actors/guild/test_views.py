from __future__ import annotations

import pytest

from actors.guild import views
from musicbot import i18n
from musicbot.models.track import Track


def _track(i: int, duration: float | None = 200.0) -> Track:
    return Track(title=f"Bài hát {i}", webpage_url=f"https://example.com/{i}", duration=duration)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("1:30", 90.0), ("1:02:03", 3723.0), (" 0:05 ", 5.0), ("2.5", 2.5)],
)
def test_parse_position_accepts_times(text: str, seconds: float) -> None:
    assert views.parse_position(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1:60", "1:2:3:4", "-5", "1:-2", "1::2", "1:61:00"])
def test_parse_position_refuses_non_times(text: str) -> None:
    assert views.parse_position(text) is None


def test_durations_and_progress() -> None:
    assert views.format_duration(3723) == "1:02:03"
    assert views.format_duration(65) == "1:05"
    assert views.format_duration(None, "vi") == "không rõ thời lượng"
    assert views.format_duration(None) == "unknown length"
    bar = views.progress_bar(50, 100, width=10)
    assert bar.index("🔘") == 5


def test_now_playing_buttons_follow_pause_state_and_language() -> None:
    msg = views.now_playing(
        _track(1), position=30, paused=True, repeat="queue", up_next=_track(2), locale="vi"
    )
    buttons = msg["components"][0]["components"]
    assert buttons[0]["custom_id"] == "np:resume" and buttons[0]["label"] == "Phát tiếp"
    embed = msg["embeds"][0]
    assert "Đang phát" in embed["title"] and "cả hàng chờ" in embed["footer"]["text"]
    msg_en = views.now_playing(
        _track(1), position=0, paused=False, repeat="off", up_next=None, locale="en-US"
    )
    assert msg_en["components"][0]["components"][0]["custom_id"] == "np:pause"


def test_queue_pages_clamp_and_disable_buttons() -> None:
    upcoming = [_track(i) for i in range(1, 26)]
    first = views.queue_page(None, upcoming, page=1, repeat="off", locale=None)
    prev_btn, next_btn = first["components"][0]["components"]
    assert prev_btn["disabled"] and not next_btn["disabled"]
    assert "`10.`" in first["embeds"][0]["description"]
    last = views.queue_page(None, upcoming, page=99, repeat="off", locale=None)
    assert "3/3" in last["embeds"][0]["title"]
    assert "`25.`" in last["embeds"][0]["description"]
    assert last["components"][0]["components"][1]["disabled"]


def test_every_text_exists_in_both_languages() -> None:
    def plain(catalog: dict[str, str]) -> set[str]:
        return {k for k in catalog if not k.endswith(i18n.SINGULAR)}

    assert plain(i18n.EN) == plain(i18n.VI)
    for key in plain(i18n.EN):
        assert i18n.VI[key].strip(), key


def test_a_count_of_one_reads_singular() -> None:
    assert i18n.t("cmd.cleared", None, count=1) == "Cleared 1 upcoming track."
    assert i18n.t("cmd.cleared", None, count=3) == "Cleared 3 upcoming tracks."
    assert i18n.t("cmd.cleared", "vi", count=1) == "Đã xoá 1 bài sắp phát."


def test_parse_position_refuses_what_is_not_a_time() -> None:
    assert views.parse_position("90") == 90.0
    assert views.parse_position("1:30") == 90.0
    assert views.parse_position("1:02:03") == 3723.0
    assert views.parse_position("83.5") == 83.5
    for bad in ("nan", "-nan", "1:nan", "inf", "-inf", "-5", "1e9", "1_0", "1:60", "", "::"):
        assert views.parse_position(bad) is None, bad


def test_only_a_live_stream_is_labelled_live() -> None:
    """Issue #13 item 8: a length nobody could read is "unknown length", never "(live)"."""
    unknown = _track(1, duration=None)
    live = Track(title="Radio", webpage_url="https://example.com/r", is_live=True)
    assert views.track_length(unknown) == "unknown length"
    assert views.track_length(unknown, "vi") == "không rõ thời lượng"
    assert views.track_length(live) == "live"
    assert views.track_length(live, "vi") == "trực tiếp"
    assert views.track_length(_track(2, duration=65.0)) == "1:05"
    for track, label in ((unknown, "unknown length"), (live, "live")):
        msg = views.now_playing(
            track, position=3, paused=False, repeat="off", up_next=None, locale=None
        )
        desc = msg["embeds"][0]["description"]
        assert label in desc and ("live" in desc) is (label == "live")
        menu = views.search_picker("q", [track], "tok", locale=None)
        option = menu["components"][0]["components"][0]["options"][0]
        assert option["description"].startswith(label)
