"""Every slash command of the bot, in English with Vietnamese localizations.

The order of options matters to Discord: required options come first.  Names follow Discord's
rules (lower case, at most 32 letters, digits, ``-`` or ``_``); tests check them and validate the
JSON against Discord's OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from musicbot.audio.effects import (
    EQ_BANDS,
    EQ_MAX_DB,
    EQ_MIN_DB,
    PITCH_RANGE,
    SPEED_RANGE,
    band_label,
)
from musicbot.commands.model import (
    MANAGE_GUILD,
    Choice,
    Command,
    Option,
    OptionType,
    Text,
    integer,
    string,
)

MAX_QUERY: Final = 500  # characters of a search or URL


def _cmd(
    en: str,
    vi: str,
    desc_en: str,
    desc_vi: str,
    *options: Option,
    permissions: int | None = None,
) -> Command:
    return Command(
        name=Text(en=en, vi=vi),
        description=Text(en=desc_en, vi=desc_vi),
        options=options,
        default_member_permissions=permissions,
    )


def _query(*, autocomplete: bool) -> Option:
    return string(
        "query",
        "từ-khóa",
        "A link, or words to search for",
        "Đường dẫn, hoặc từ khóa để tìm",
        autocomplete=autocomplete,
        max_length=MAX_QUERY,
    )


def _index(
    en: str = "index",
    vi: str = "vị-trí",
    desc_en: str = "",
    desc_vi: str = "",
    *,
    required: bool = True,
) -> Option:
    return integer(
        en,
        vi,
        desc_en or "Position in the queue (1 is the next track)",
        desc_vi or "Vị trí trong hàng đợi (1 là bài kế tiếp)",
        min_value=1,
        required=required,
    )


REPEAT_OFF: Final = "off"
REPEAT_TRACK: Final = "track"
REPEAT_QUEUE: Final = "queue"
AUTOPLAY_ON: Final = "on"
AUTOPLAY_OFF: Final = "off"
SCOPE_GUILD: Final = "guild"
SCOPE_PERSONAL: Final = "personal"

_SCOPE = string(
    "scope",
    "phạm-vi",
    "The server's playlists or your own (default: server)",
    "Danh sách phát của máy chủ hay của riêng bạn (mặc định: máy chủ)",
    required=False,
    choices=(
        Choice(name=Text(en="Server", vi="Máy chủ"), value=SCOPE_GUILD),
        Choice(name=Text(en="Personal", vi="Cá nhân"), value=SCOPE_PERSONAL),
    ),
)


def _playlist_name(*, autocomplete: bool = True) -> Option:
    return string(
        "name",
        "tên",
        "Name of the playlist",
        "Tên danh sách phát",
        autocomplete=autocomplete,
        max_length=100,
    )


def _sub(en: str, vi: str, desc_en: str, desc_vi: str, *options: Option) -> Option:
    return Option(
        type=OptionType.SUB_COMMAND,
        name=Text(en=en, vi=vi),
        description=Text(en=desc_en, vi=desc_vi),
        options=(*options, _SCOPE),
    )


PLAYLIST: Final = _cmd(
    "playlist",
    "danh-sách-phát",
    "Saved playlists of the server or your own",
    "Danh sách phát đã lưu của máy chủ hoặc của bạn",
    _sub(
        "save",
        "lưu",
        "Save the current queue as a playlist",
        "Lưu hàng đợi hiện tại thành danh sách phát",
        _playlist_name(autocomplete=False),
    ),
    _sub(
        "load",
        "mở",
        "Add a saved playlist to the queue",
        "Thêm danh sách phát đã lưu vào hàng đợi",
        _playlist_name(),
        Option(
            type=OptionType.BOOLEAN,
            name=Text(en="replace", vi="thay-thế"),
            description=Text(
                en="Replace the queue instead of adding to it",
                vi="Thay thế hàng đợi thay vì thêm vào",
            ),
        ),
    ),
    _sub("list", "liệt-kê", "List saved playlists", "Liệt kê các danh sách phát đã lưu"),
    _sub(
        "show",
        "xem",
        "Show the tracks of a playlist",
        "Xem các bài trong danh sách phát",
        _playlist_name(),
    ),
    _sub(
        "add",
        "thêm",
        "Add a track to a playlist",
        "Thêm một bài vào danh sách phát",
        _playlist_name(),
        _query(autocomplete=True),
    ),
    _sub(
        "remove",
        "xóa-bài",
        "Remove a track from a playlist",
        "Xóa một bài khỏi danh sách phát",
        _playlist_name(),
        _index(desc_en="Position in the playlist", desc_vi="Vị trí trong danh sách phát"),
    ),
    _sub(
        "rename",
        "đổi-tên",
        "Rename a playlist",
        "Đổi tên danh sách phát",
        _playlist_name(),
        string("new_name", "tên-mới", "The new name", "Tên mới", max_length=100),
    ),
    _sub(
        "delete",
        "xóa",
        "Delete a playlist",
        "Xóa danh sách phát",
        _playlist_name(),
    ),
)

SETTINGS: Final = _cmd(
    "settings",
    "cài-đặt",
    "Show or change the bot's settings for this server",
    "Xem hoặc thay đổi cài đặt của bot cho máy chủ này",
    Option(
        type=OptionType.ROLE,
        name=Text(en="dj_role", vi="vai-trò-dj"),
        description=Text(
            en="Role allowed to control playback of others",
            vi="Vai trò được điều khiển nhạc của người khác",
        ),
    ),
    string(
        "language",
        "ngôn-ngữ",
        "Language of the bot's messages in this server",
        "Ngôn ngữ tin nhắn của bot trong máy chủ này",
        required=False,
        choices=(
            Choice(name=Text(en="English", vi="Tiếng Anh"), value="en"),
            Choice(name=Text(en="Vietnamese", vi="Tiếng Việt"), value="vi"),
        ),
    ),
    integer(
        "default_volume",
        "âm-lượng-mặc-định",
        "Volume of new sessions in percent (0-200)",
        "Âm lượng mặc định theo phần trăm (0-200)",
        required=False,
        min_value=0,
        max_value=200,
    ),
    integer(
        "vote_skip",
        "bỏ-phiếu-bỏ-qua",
        "Share of the listeners (percent) whose votes skip a track (default 50)",
        "Tỉ lệ người nghe (phần trăm) cần bỏ phiếu để bỏ qua một bài (mặc định 50)",
        required=False,
        min_value=1,
        max_value=100,
    ),
    Option(
        type=OptionType.BOOLEAN,
        name=Text(en="fair_queue", vi="hàng-đợi-công-bằng"),
        description=Text(
            en="Let requesters take turns in the queue",
            vi="Cho người yêu cầu lần lượt được phát trong hàng đợi",
        ),
    ),
    Option(
        type=OptionType.BOOLEAN,
        name=Text(en="reset", vi="đặt-lại"),
        description=Text(
            en="Put every setting back to its default",
            vi="Đưa mọi cài đặt về mặc định",
        ),
    ),
    permissions=MANAGE_GUILD,
)

_PRESET_NAMES: Final = (
    ("off", "Off", "Tắt"),
    ("bassboost", "Bass boost", "Tăng âm trầm"),
    ("nightcore", "Nightcore", "Nightcore"),
    ("vaporwave", "Vaporwave", "Vaporwave"),
    ("8d", "8D", "8D"),
    ("karaoke", "Karaoke (voice out)", "Karaoke (bớt giọng hát)"),
    ("speed", "Speed", "Tốc độ"),
    ("pitch", "Pitch", "Cao độ"),
)

FILTER: Final = _cmd(
    "filter",
    "bộ-lọc",
    "Show or change the sound filter (bass boost, nightcore, speed...)",
    "Xem hoặc đổi bộ lọc âm thanh (tăng âm trầm, nightcore, tốc độ...)",
    string(
        "preset",
        "kiểu",
        "The filter; leave everything out to see the current one",
        "Bộ lọc; bỏ trống hết để xem bộ lọc hiện tại",
        required=False,
        choices=tuple(Choice(name=Text(en=en, vi=vi), value=v) for v, en, vi in _PRESET_NAMES),
    ),
    integer(
        "speed",
        "tốc-độ",
        "Speed filter: percent of normal speed (50-200, default 125)",
        "Bộ lọc tốc độ: phần trăm tốc độ thường (50-200, mặc định 125)",
        required=False,
        min_value=SPEED_RANGE[0],
        max_value=SPEED_RANGE[1],
    ),
    integer(
        "semitones",
        "nửa-cung",
        "Pitch filter: semitones up or down (-12 to 12, default 3)",
        "Bộ lọc cao độ: số nửa cung lên hoặc xuống (-12 đến 12, mặc định 3)",
        required=False,
        min_value=PITCH_RANGE[0],
        max_value=PITCH_RANGE[1],
    ),
)

EQ: Final = _cmd(
    "eq",
    "cân-bằng",
    "Show or change the 15-band equalizer of this server",
    "Xem hoặc chỉnh bộ cân bằng 15 dải tần của máy chủ này",
    string(
        "band",
        "dải-tần",
        "The band to change",
        "Dải tần cần chỉnh",
        required=False,
        choices=tuple(
            Choice(
                name=Text(en=band_label(f), vi=band_label(f).replace(".", ",")),
                value=str(f),
            )
            for f in EQ_BANDS
        ),
    ),
    integer(
        "gain",
        "mức",
        "Gain of the band in dB (-12 to 12; 0 is flat)",
        "Mức tăng giảm của dải tần theo dB (-12 đến 12; 0 là phẳng)",
        required=False,
        min_value=EQ_MIN_DB,
        max_value=EQ_MAX_DB,
    ),
    Option(
        type=OptionType.BOOLEAN,
        name=Text(en="reset", vi="đặt-lại"),
        description=Text(en="Put every band back to 0 dB", vi="Đưa mọi dải tần về 0 dB"),
    ),
)

COMMANDS: Final[tuple[Command, ...]] = (
    _cmd("ping", "ping", "Check that the bot answers, with its latency",
         "Kiểm tra bot có phản hồi không, kèm độ trễ"),
    _cmd("play", "phát", "Play a song or playlist from a link or a search",
         "Phát bài hát hoặc danh sách phát từ đường dẫn hoặc tìm kiếm",
         _query(autocomplete=True)),
    _cmd("playnext", "phát-tiếp", "Play a track right after the current one",
         "Phát một bài ngay sau bài hiện tại", _query(autocomplete=True)),
    _cmd("search", "tìm", "Search and pick a track from the results",
         "Tìm kiếm và chọn một bài từ kết quả", _query(autocomplete=False)),
    _cmd("pause", "tạm-dừng", "Pause playback", "Tạm dừng phát nhạc"),
    _cmd("resume", "tiếp-tục", "Resume playback", "Tiếp tục phát nhạc"),
    _cmd("skip", "bỏ-qua", "Skip the current track", "Bỏ qua bài hiện tại"),
    _cmd("skipto", "chuyển-đến", "Skip to a track in the queue",
         "Chuyển đến một bài trong hàng đợi", _index()),
    _cmd("previous", "bài-trước", "Play the previous track again", "Phát lại bài trước đó"),
    _cmd("stop", "dừng", "Stop playback and clear the queue", "Dừng phát và xóa hàng đợi"),
    _cmd("join", "vào", "Join your voice channel", "Vào kênh thoại của bạn"),
    _cmd("leave", "rời", "Leave the voice channel", "Rời kênh thoại"),
    _cmd("queue", "hàng-đợi", "Show the queue", "Xem hàng đợi",
         integer("page", "trang", "Page number", "Số trang", required=False, min_value=1)),
    _cmd("nowplaying", "đang-phát", "Show the track playing now", "Xem bài đang phát"),
    _cmd("seek", "tua", "Jump to a time in the current track",
         "Tua đến một thời điểm trong bài hiện tại",
         string("position", "thời-điểm",
                "Time such as 1:23 or 83 (seconds); +30 or -10 to jump from here",
                "Thời điểm, ví dụ 1:23 hoặc 83 (giây); +30 hoặc -10 để tua từ chỗ này",
                max_length=12)),
    _cmd("volume", "âm-lượng", "Show or set the volume", "Xem hoặc chỉnh âm lượng",
         integer("percent", "phần-trăm", "Volume in percent (0-200); leave out to see it",
                 "Âm lượng theo phần trăm (0-200); bỏ trống để xem", required=False,
                 min_value=0, max_value=200)),
    _cmd("repeat", "lặp-lại", "Set the repeat mode", "Chọn chế độ lặp lại",
         string("mode", "chế-độ", "What to repeat", "Lặp lại những gì", choices=(
             Choice(name=Text(en="Off", vi="Tắt"), value=REPEAT_OFF),
             Choice(name=Text(en="Current track", vi="Bài hiện tại"), value=REPEAT_TRACK),
             Choice(name=Text(en="Whole queue", vi="Cả hàng đợi"), value=REPEAT_QUEUE),
         ))),
    _cmd("shuffle", "trộn", "Shuffle the queue", "Trộn ngẫu nhiên hàng đợi"),
    FILTER,
    EQ,
    _cmd("autoplay", "tự-phát",
         "Keep playing related tracks when the queue runs out",
         "Tự phát tiếp các bài liên quan khi hết hàng đợi",
         string("mode", "chế-độ", "On or off; leave out to see it",
                "Bật hoặc tắt; bỏ trống để xem", required=False, choices=(
             Choice(name=Text(en="On", vi="Bật"), value=AUTOPLAY_ON),
             Choice(name=Text(en="Off", vi="Tắt"), value=AUTOPLAY_OFF),
         ))),
    _cmd("remove", "xóa-bài", "Remove tracks from the queue", "Xóa bài khỏi hàng đợi",
         _index(required=False),
         Option(type=OptionType.USER, name=Text(en="user", vi="thành-viên"),
                description=Text(en="Remove every upcoming track this member queued",
                                 vi="Xóa mọi bài sắp phát do thành viên này thêm")),
         Option(type=OptionType.BOOLEAN, name=Text(en="duplicates", vi="bài-trùng"),
                description=Text(en="Remove tracks that are already earlier in the queue",
                                 vi="Xóa các bài đã có ở phía trước trong hàng đợi"))),
    _cmd("move", "di-chuyển", "Move a track to another position in the queue",
         "Di chuyển một bài đến vị trí khác trong hàng đợi",
         _index("from", "từ", "Current position of the track", "Vị trí hiện tại của bài"),
         _index("to", "đến", "New position of the track", "Vị trí mới của bài")),
    _cmd("clear", "xóa-hàng-đợi", "Remove every track from the queue",
         "Xóa mọi bài khỏi hàng đợi"),
    _cmd("lyrics", "lời-bài-hát", "Show the lyrics of the track playing now (from LRCLIB)",
         "Xem lời bài đang phát (từ LRCLIB)"),
    _cmd("history", "lịch-sử", "Show recently played tracks", "Xem các bài đã phát gần đây"),
    _cmd("247", "24-7", "Stay in the voice channel around the clock (toggle)",
         "Ở lại kênh thoại suốt ngày đêm (bật/tắt)"),
    PLAYLIST,
    SETTINGS,
    _cmd("metrics", "số-liệu", "Show the bot's runtime figures",
         "Xem các số liệu vận hành của bot", permissions=MANAGE_GUILD),
    _cmd("health", "tình-trạng", "Show whether the bot is healthy",
         "Xem bot có đang hoạt động tốt không"),
)  # fmt: skip

BY_NAME: Final[Mapping[str, Command]] = MappingProxyType({c.name.en: c for c in COMMANDS})


def command_payloads() -> list[dict[str, Any]]:
    """The body of ``PUT /applications/{id}/commands`` for every command."""
    return [c.to_json() for c in COMMANDS]
