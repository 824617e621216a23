"""The cache's data structures, pure and synchronous (time is passed in).

Theory.  ``Store`` is an LRU map (``OrderedDict``: a hit moves the key to the end, eviction
pops from the front) in which every entry also has its own deadline.  An entry past its deadline
counts as a miss and is removed when it is next looked at or by the periodic :meth:`Store.sweep`,
whichever comes first.  Values are extraction results or remembered failures (negative
entries).  The size never exceeds ``max_entries``: :meth:`Store.put` evicts before it returns.

``Popularity`` is a bounded "Space-Saving" counter (Metwally et al.): it tracks at most
``capacity`` items; a new item arriving when full replaces the item with the smallest count and
inherits that count plus one, so frequent items stay and the memory stays fixed whatever the
workload.  It feeds ``/play`` autocomplete with titles users asked for recently or often.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from typing import Final, Generic, TypeVar

import attrs

V = TypeVar("V")
POPULARITY_CAPACITY: Final = 512  # distinct titles remembered for suggestions


@attrs.frozen(kw_only=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int
    negative_hits: int = 0


@attrs.define
class _Entry(Generic[V]):
    value: V
    deadline: float
    negative: bool


@attrs.define
class Store(Generic[V]):
    """LRU map with a deadline per entry."""

    max_entries: int
    _entries: OrderedDict[str, _Entry[V]] = attrs.field(factory=OrderedDict)
    hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str, now: float) -> tuple[V, bool] | None:
        """(value, is_negative) for a live entry, else None (and the entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.deadline <= now:
            del self._entries[key]
            self.expirations += 1
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        if entry.negative:
            self.negative_hits += 1
        else:
            self.hits += 1
        return entry.value, entry.negative

    def put(self, key: str, value: V, now: float, ttl: float, *, negative: bool = False) -> None:
        deadline = now + ttl
        if deadline <= now:  # ttl <= 0, or too small to move a large clock value
            self._entries.pop(key, None)
            return
        self._entries[key] = _Entry(value, deadline, negative)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1

    def invalidate(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    def sweep(self, now: float) -> int:
        """Drop every expired entry; returns how many."""
        dead = [k for k, e in self._entries.items() if e.deadline <= now]
        for k in dead:
            del self._entries[k]
        self.expirations += len(dead)
        return len(dead)

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            expirations=self.expirations,
            size=len(self._entries),
            negative_hits=self.negative_hits,
        )


@attrs.frozen(kw_only=True)
class Suggestion:
    title: str
    url: str
    count: int


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Sơn Tùng" and "son tung" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.replace("đ", "d")


@attrs.define
class _Item:
    title: str
    folded: str
    count: int
    last: float


@attrs.define
class Popularity:
    """Space-Saving top-K counter keyed by URL."""

    capacity: int = POPULARITY_CAPACITY
    _items: dict[str, _Item] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self._items)

    def note(self, title: str, url: str, now: float) -> None:
        item = self._items.get(url)
        if item is not None:
            item.count += 1
            item.last = now
            item.title, item.folded = title, fold(title)
            return
        count = 1
        if len(self._items) >= self.capacity:
            victim = min(self._items, key=lambda k: (self._items[k].count, self._items[k].last))
            count = self._items.pop(victim).count + 1
        self._items[url] = _Item(title, fold(title), count, now)

    def suggest(self, prefix: str, limit: int) -> tuple[Suggestion, ...]:
        """Titles containing ``prefix`` (word starts first), most asked-for and recent first."""
        p = fold(prefix).strip()
        scored: list[tuple[int, int, float, str]] = []
        for url, item in self._items.items():
            if p and p not in item.folded:
                continue
            starts = item.folded.startswith(p) or f" {p}" in item.folded
            scored.append((0 if starts else 1, -item.count, -item.last, url))
        scored.sort()
        out = []
        for _rank, _neg_count, _neg_last, url in scored[: max(0, limit)]:
            item = self._items[url]
            out.append(Suggestion(title=item.title, url=url, count=item.count))
        return tuple(out)
