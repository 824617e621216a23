"""The guild queue: a pure model (no I/O, no clock), owned by one guild actor.

Theory.  The queue is a list of entries whose *head is the current track* whenever something is
current; everything after the head is "upcoming".  Users number upcoming entries from 1 (what
/queue shows), and every method that takes a position uses that numbering, so position ``n`` is
list index ``n`` while a track is current and ``n - 1`` when nothing is.  Nothing can be placed
before the current track and the current track never moves, so "what is playing" changes only
through :meth:`Queue.advance`, :meth:`Queue.skip`, :meth:`Queue.skip_to`, :meth:`Queue.previous`
and ``clear``.

Ends and repeat modes (``advance`` = the track ended by itself, ``skip`` = a user asked):

* ``OFF``: the current track leaves the queue (into the history).  Advancing past the last
  track leaves nothing current: the queue has finished and is empty.
* ``QUEUE``: the current track goes to the back of the queue (and into the history): the queue
  is a cycle and nothing is ever lost; a queue of one repeats that track.
* ``TRACK``: a natural end keeps the same track current (it plays again); an explicit skip moves
  on exactly as ``OFF`` does.
* From an idle queue (nothing current) ``advance``/``skip`` make the head current: that is how
  playback starts.  ``skip_to(n)`` makes upcoming ``n`` current; the entries it jumps over are
  dropped (``OFF``/``TRACK``) or rotated to the back (``QUEUE``).  ``previous`` brings back the
  most recent history entry as current (moved to the head if it is still queued, re-inserted
  otherwise); the old current becomes upcoming 1.

The history holds the last ``HISTORY_LIMIT`` entries that stopped being current (oldest
first); a track repeating under ``TRACK`` is recorded once, when it finally moves on.

``snapshot()`` is plain data (JSON-safe dicts and lists via cattrs) that identifies entries by
content, not by playback position; ``Queue.restore`` rebuilds an equal queue.  The guild actor
saves it through its supervisor so a restarted guild keeps its queue.
"""

from __future__ import annotations

import enum
import itertools
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs
import cattrs

from musicbot.errors import MusicBotError
from musicbot.models.track import Track

HISTORY_LIMIT: Final = 50
DEFAULT_MAX_LENGTH: Final = 500  # mirrors LimitsConfig.max_queue_length's default
SNAPSHOT_VERSION: Final = 1

_CONVERTER: Final = cattrs.Converter()


class RepeatMode(enum.Enum):
    """What happens when a track ends: nothing, the same track again, or the queue loops."""

    OFF = "off"
    TRACK = "track"
    QUEUE = "queue"


@attrs.define(auto_exc=True, eq=False)
class QueueFull(MusicBotError):
    """Adding ``adding`` entries to a queue of ``size`` would pass ``limit``."""

    limit: int
    size: int
    adding: int = 1

    def __str__(self) -> str:
        return f"queue full: {self.size} + {self.adding} entries > limit {self.limit}"


@attrs.define(auto_exc=True, eq=False)
class QueuePositionError(MusicBotError):
    """``position`` is not an upcoming position (1..``upcoming``)."""

    position: int
    upcoming: int

    def __str__(self) -> str:
        return f"position {self.position} is not between 1 and {self.upcoming}"


@attrs.frozen(kw_only=True)
class QueuePage:
    """One page of upcoming entries as ``(position, track)``; ``page`` is 1-based, clamped."""

    items: tuple[tuple[int, Track], ...]
    page: int
    pages: int
    total: int


@attrs.frozen(kw_only=True)
class QueueSnapshot:
    tracks: list[Track]
    has_current: bool
    repeat: RepeatMode
    history: list[Track]
    next_entry: int
    version: int = SNAPSHOT_VERSION


@attrs.define(kw_only=True)
class Queue:
    max_length: int = DEFAULT_MAX_LENGTH
    repeat: RepeatMode = RepeatMode.OFF
    _tracks: list[Track] = attrs.field(factory=list, alias="tracks")
    _has_current: bool = attrs.field(default=False, alias="has_current")
    _history: list[Track] = attrs.field(factory=list, alias="history")
    _next_entry: int = attrs.field(default=1, alias="next_entry")

    # -- reading ------------------------------------------------------------------------

    @property
    def current(self) -> Track | None:
        return self._tracks[0] if self._has_current else None

    @property
    def current_index(self) -> int | None:
        """The current entry's list index: always the head (0), or None."""
        return 0 if self._has_current else None

    @property
    def upcoming(self) -> list[Track]:
        return self._tracks[self._offset :]

    @property
    def history(self) -> list[Track]:
        """Entries that stopped being current, oldest first (at most ``HISTORY_LIMIT``)."""
        return list(self._history)

    @property
    def free_slots(self) -> int:
        return max(0, self.max_length - len(self._tracks))

    def __len__(self) -> int:
        """Every entry, the current one included."""
        return len(self._tracks)

    def __iter__(self) -> Iterator[Track]:
        """Every entry in play order, the current one first."""
        return iter(list(self._tracks))

    def at(self, position: int) -> Track:
        """Upcoming entry ``position`` (1-based)."""
        return self._tracks[self._index(position)]

    def page(self, number: int, size: int = 10) -> QueuePage:
        """Page ``number`` (1-based, clamped) of the upcoming tracks, ``size`` per page. Raises
        ``ValueError`` when ``size`` < 1."""
        if size < 1:
            raise ValueError("page size must be positive")
        upcoming = self.upcoming
        pages = max(1, -(-len(upcoming) // size))
        number = min(max(1, number), pages)
        first = (number - 1) * size
        items = tuple(
            (first + i + 1, track) for i, track in enumerate(upcoming[first : first + size])
        )
        return QueuePage(items=items, page=number, pages=pages, total=len(upcoming))

    # -- adding -------------------------------------------------------------------------

    def add(self, track: Track) -> int:
        """Append; returns the entry's upcoming position."""
        return self.insert(len(self.upcoming) + 1, track)

    def add_next(self, track: Track) -> int:
        """Insert ``track`` as the next upcoming entry (position 1); raises ``QueueFull`` when the
        queue is full."""
        return self.insert(1, track)

    def extend(self, tracks: Iterable[Track]) -> int:
        """Append all or nothing (``QueueFull``); returns how many were added."""
        batch = list(tracks)
        self._check_room(len(batch))
        for track in batch:
            self._tracks.append(self._entry(track))
        return len(batch)

    def insert(self, position: int, track: Track) -> int:
        """Insert so the entry becomes upcoming ``position`` (clamped to 1..len+1)."""
        self._check_room(1)
        position = min(max(1, position), len(self.upcoming) + 1)
        self._tracks.insert(self._offset + position - 1, self._entry(track))
        return position

    # -- rearranging --------------------------------------------------------------------

    def remove(self, position: int) -> Track:
        """Remove and return the upcoming entry at 1-based ``position``; raises
        ``QueuePositionError`` when there is none."""
        return self._tracks.pop(self._index(position))

    def remove_range(self, first: int, last: int) -> list[Track]:
        """Remove upcoming ``first``..``last`` inclusive."""
        if first > last:
            raise QueuePositionError(first, len(self.upcoming))
        start, stop = self._index(first), self._index(last) + 1
        removed = self._tracks[start:stop]
        del self._tracks[start:stop]
        return removed

    def move(self, source: int, target: int) -> Track:
        """Move upcoming ``source`` so that it becomes upcoming ``target``."""
        track = self._tracks.pop(self._index(source))
        target = min(max(1, target), len(self.upcoming) + 1)
        self._tracks.insert(self._offset + target - 1, track)
        return track

    def shuffle(self, rng: random.Random) -> None:
        """Shuffle the upcoming entries; the current one stays current."""
        upcoming = self.upcoming
        rng.shuffle(upcoming)
        self._tracks[self._offset :] = upcoming

    def clear(self, *, keep_current: bool = True) -> int:
        """Drop the upcoming entries (and the current one too unless ``keep_current``)."""
        keep = self._offset if keep_current else 0
        dropped = len(self._tracks) - keep
        del self._tracks[keep:]
        if not keep:
            self._has_current = False
        return dropped

    def replace(self, entry_id: str, track: Track) -> bool:
        """Swap the entry ``entry_id`` for ``track`` in place (e.g. once its stream URL is
        resolved), keeping the entry id and position.  Returns whether the entry was found."""
        for i, old in enumerate(self._tracks):
            if old.entry_id == entry_id:
                self._tracks[i] = attrs.evolve(track, entry_id=entry_id)
                return True
        return False

    def replace_current(self, track: Track) -> bool:
        """:meth:`replace` for the current entry; False when nothing is current."""
        current = self.current
        return current is not None and self.replace(current.entry_id, track)

    def set_repeat(self, mode: RepeatMode) -> None:
        """Set the repeat mode."""
        self.repeat = mode

    # -- moving on ----------------------------------------------------------------------

    def after_current(self) -> Track | None:
        """What :meth:`advance` would make current, without changing anything."""
        if not self._has_current:
            return None
        if self.repeat is RepeatMode.TRACK:
            return self.current
        if len(self._tracks) > 1:
            return self._tracks[1]
        return self.current if self.repeat is RepeatMode.QUEUE else None

    def advance(self) -> Track | None:
        """The current track ended by itself; returns the new current track (None: done)."""
        if self._has_current and self.repeat is RepeatMode.TRACK:
            return self.current
        return self._move_on()

    def skip(self) -> Track | None:
        """The user skipped; ``TRACK`` repeat does not hold the track."""
        return self._move_on()

    def skip_to(self, position: int) -> Track:
        """Make upcoming ``position`` current (see the module docstring for what is skipped)."""
        index = self._index(position)
        if self._has_current:
            self._retire(self._tracks[0])
        jumped = self._tracks[:index]
        del self._tracks[:index]
        if self.repeat is RepeatMode.QUEUE:
            self._tracks.extend(jumped)
        self._has_current = True
        return self._tracks[0]

    def previous(self) -> Track | None:
        """Bring back the last history entry as current; None (no change) without history."""
        if not self._history:
            return None
        track = self._history[-1]
        queued = [i for i, t in enumerate(self._tracks) if t.entry_id == track.entry_id]
        if not queued:
            self._check_room(1)
            self._tracks.insert(0, track)
        else:
            self._tracks.insert(0, self._tracks.pop(queued[0]))
        self._history.pop()
        self._has_current = True
        return track

    # -- snapshot -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data (survives ``json.dumps``/``loads``); see :meth:`restore`."""
        snap = QueueSnapshot(
            tracks=list(self._tracks),
            has_current=self._has_current,
            repeat=self.repeat,
            history=list(self._history),
            next_entry=self._next_entry,
        )
        data: dict[str, Any] = _CONVERTER.unstructure(snap)
        return data

    @classmethod
    def restore(cls, data: Mapping[str, Any], *, max_length: int = DEFAULT_MAX_LENGTH) -> Queue:
        """Rebuild a queue from :meth:`snapshot` data.  A snapshot longer than ``max_length``
        (the limit was lowered) is kept whole; new entries are refused until it shrinks."""
        snap = _CONVERTER.structure(dict(data), QueueSnapshot)
        if snap.version != SNAPSHOT_VERSION:
            raise ValueError(f"unknown queue snapshot version {snap.version}")
        return cls(
            max_length=max_length,
            repeat=snap.repeat,
            tracks=list(snap.tracks),
            has_current=snap.has_current and bool(snap.tracks),
            history=list(snap.history[-HISTORY_LIMIT:]),
            next_entry=snap.next_entry,
        )

    # -- internals ----------------------------------------------------------------------

    @property
    def _offset(self) -> int:
        return 1 if self._has_current else 0

    def _index(self, position: int) -> int:
        if not 1 <= position <= len(self._tracks) - self._offset:
            raise QueuePositionError(position, len(self._tracks) - self._offset)
        return self._offset + position - 1

    def _check_room(self, adding: int) -> None:
        if len(self._tracks) + adding > self.max_length:
            raise QueueFull(self.max_length, len(self._tracks), adding)

    def _entry(self, track: Track) -> Track:
        """Give the track a queue-unique ``entry_id`` (keeping a fresh caller-chosen one)."""
        taken = {t.entry_id for t in itertools.chain(self._tracks, self._history)}
        if track.entry_id and track.entry_id not in taken:
            return track
        while (entry_id := f"q{self._next_entry}") in taken:
            self._next_entry += 1
        self._next_entry += 1
        return attrs.evolve(track, entry_id=entry_id)

    def _retire(self, track: Track) -> None:
        self._history.append(track)
        del self._history[:-HISTORY_LIMIT]

    def _move_on(self) -> Track | None:
        if not self._tracks:
            self._has_current = False
            return None
        if not self._has_current:
            self._has_current = True
            return self._tracks[0]
        finished = self._tracks.pop(0)
        self._retire(finished)
        if self.repeat is RepeatMode.QUEUE:
            self._tracks.append(finished)
        self._has_current = bool(self._tracks)
        return self.current
