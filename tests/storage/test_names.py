from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.storage import InvalidName, names


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../x", "bad_chars"),
        ("..", "leading_dot"),
        (".hidden", "leading_dot"),
        ("a/b", "bad_chars"),
        ("a\\b", "bad_chars"),
        ("CON", "reserved"),
        ("nul", "reserved"),
        ("Com1", "reserved"),
        ("LPT9.txt", "reserved"),
        ("x" * 300, "too_long"),
        ("x" * 65, "too_long"),
        ("", "empty"),
        ("   \t ", "empty"),
        ("tab\x00null", "bad_chars"),
        ("bell\x07", "bad_chars"),
        ("zero\u200bwidth", "bad_chars"),
        ("new\nline", None),  # whitespace is collapsed, not refused
        ('quo"te', "bad_chars"),
        ("C:name", "bad_chars"),
    ],
)
def test_bad_names_are_refused(name: str, problem: str | None) -> None:
    if problem is None:
        assert names.validate(name) == "new line"
        return
    with pytest.raises(InvalidName) as info:
        names.file_name(name)
    assert info.value.problem == problem
    assert info.value.user_message("en")
    assert info.value.user_message("vi") != info.value.user_message("en")


@pytest.mark.parametrize(
    "name",
    ["Chill", "Nhạc Trịnh Công Sơn", "Đêm nhạc 2024", "Lo-fi (study) #1", "x" * 64, "CONcert"],
)
def test_good_names(name: str) -> None:
    assert names.validate(name) == name
    assert names.FILE_NAME_RE.match(names.file_name(name))


def test_vietnamese_slug_and_case_insensitive_identity() -> None:
    assert names.file_name("Đêm Nhạc").startswith("dem-nhac-")
    assert names.file_name("Chill") == names.file_name("chill") == names.file_name(" CHILL ")
    assert names.file_name("Chill") != names.file_name("Chill 2")
    # Composed and decomposed Vietnamese are the same name.
    assert names.file_name("Nh\u1ea1c") == names.file_name("Nha\u0323c")
    # Names whose slugs agree still get different files.
    assert names.file_name("Nhạc") != names.file_name("Nhác")
    assert names.file_name("日本") != names.file_name("中文")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_any_name_is_refused_or_stays_inside_the_folder(name: str) -> None:
    folder = Path("/data/guilds/1/playlists")
    try:
        file_name = names.file_name(name)
    except InvalidName:
        return
    assert names.FILE_NAME_RE.match(file_name), file_name
    path = folder / file_name
    assert os.path.normpath(path).startswith(str(folder) + os.sep)
    assert path.parent == folder
    assert not file_name.startswith(".")
    assert file_name.split(".", 1)[0].split("-", 1)[0] not in names.RESERVED
    assert len(file_name) <= names.MAX_SLUG_LENGTH + names.HASH_HEX_DIGITS + 6


@given(st.text(min_size=1, max_size=64))
def test_case_variants_share_one_file(name: str) -> None:
    try:
        lower = names.file_name(name.lower())
        upper = names.file_name(name.upper())
    except InvalidName:
        return
    if names.key(name.lower()) == names.key(name.upper()):
        assert lower == upper


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=70), min_size=1, max_size=4))
def test_real_files_for_arbitrary_names_stay_in_the_folder(names_: list[str]) -> None:
    import tempfile

    from musicbot.storage import files
    from musicbot.storage.models import PLAYLIST_CODEC, Playlist

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "users" / "1" / "playlists"
        written: dict[str, str] = {}
        for name in names_:
            try:
                target = folder / names.file_name(name)
            except InvalidName:
                continue
            p = Playlist(name=names.validate(name), owner_id=1, created_at=0, updated_at=0)
            files.write_document(target, p, PLAYLIST_CODEC)
            written[names.key(name)] = p.name
        found = {p for p in root.rglob("*") if p.is_file()}
        assert all(p.parent == folder for p in found)
        for k, display in written.items():
            loaded = files.read_document(folder / names.file_name(display), PLAYLIST_CODEC)
            assert loaded is not None and names.key(loaded.name) == k
