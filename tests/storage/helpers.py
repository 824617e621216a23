from __future__ import annotations

from pathlib import Path

from musicbot.storage import StoredTrack


def track(n: int, *, duration: float | None = 60.0) -> StoredTrack:
    return StoredTrack(
        title=f"Bài hát số {n}",
        webpage_url=f"https://www.youtube.com/watch?v=vid{n:08d}",
        duration=duration,
        uploader="Sơn Tùng M-TP",
        thumbnail=f"https://i.ytimg.com/vi/vid{n:08d}/hq.jpg",
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to prove nothing changed)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name or p.name.endswith(".bak-link")]
