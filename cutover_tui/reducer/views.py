"""Lazy mappings and sequences a ``SessionState`` hands out: each view derived when first looked at."""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from typing import TYPE_CHECKING, Any, TypeVar

from cutover_tui.state import (
    CheckView,
)
from cutover_tui.store import TickRecord

if TYPE_CHECKING:
    from cutover_tui.reducer.derivation import _Core, _Derivation, _Headline


#: ``SessionLog.seek_ticks``: ``read(until, windows, checks=...)`` -> the ticks a state at ``until`` reads.
TickReader = Callable[..., Iterable[TickRecord]]


V = TypeVar("V")


class Views(Mapping[str, V]):
    """A state's views by id, each derived the first time it is looked at, then kept.

    A mapping like the dict it stands for (equal to one with equal items).
    ``values()``, ``items()``, equality and ``repr`` derive every view, after
    ``read`` has read, in one go, what they need.
    """

    __slots__ = ("_ids", "_derive", "_read", "_made")

    def __init__(
        self, ids: Mapping[str, Any], derive: Callable[[str], V], read: Callable[[Iterable[str]], None]
    ) -> None:
        self._ids = ids
        self._derive = derive
        self._read = read
        self._made: dict[str, V] = {}

    def __getitem__(self, key: str) -> V:
        made = self._made.get(key)
        if made is None:
            if key not in self._ids:
                raise KeyError(key)
            made = self._made[key] = self._derive(key)
        return made

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def read(self, keys: Iterable[str]) -> None:
        """Read at once what the views of ``keys`` need (a pane about to show them): one query, not one each.

        A view already made (a banner's) is read for too: its sparkline's ticks are read when it is drawn.
        """
        self._read(key for key in keys if key in self._ids)

    def _every(self) -> None:
        if len(self._made) < len(self._ids):
            self._read(key for key in self._ids if key not in self._made)

    def values(self) -> ValuesView[V]:
        self._every()
        return ValuesView(self)

    def items(self) -> ItemsView[str, V]:
        self._every()
        return ItemsView(self)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class _History(Sequence[float | None]):
    """A condition's sparkline points (``ConditionView.history``), sampled when first read; equal to the tuple of them.

    A view whose sparkline is not drawn (a banner's, a card off screen) never
    reads its check's window.
    """

    __slots__ = ("_derive", "_check", "_points")

    def __init__(self, derive: _Derivation, check_id: str) -> None:
        self._derive = derive
        self._check = check_id
        self._points: tuple[float | None, ...] | None = None

    def points(self) -> tuple[float | None, ...]:
        if self._points is None:
            self._points = self._derive.sparkline(self._check)
        return self._points

    def __getitem__(self, index: Any) -> Any:
        return self.points()[index]

    def __len__(self) -> int:
        return len(self.points())

    def __iter__(self) -> Iterator[float | None]:
        return iter(self.points())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _History):
            other = other.points()
        if isinstance(other, tuple):
            return self.points() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.points())

    def __repr__(self) -> str:
        return repr(self.points())


class _Derived(Sequence[V]):
    """A tuple whose items are derived when first read (``SessionState.at_risk``: the header reads the first); equal to the tuple of them."""

    __slots__ = ("_derive", "_made")

    def __init__(self, count: int, derive: Callable[[int], V]) -> None:
        self._derive = derive
        self._made: list[Any] = [_UNSET] * count

    def _item(self, index: int) -> V:
        made = self._made[index]
        if made is _UNSET:
            made = self._made[index] = self._derive(index)
        return made

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self._item(n) for n in range(*index.indices(len(self._made))))
        if index < 0:
            index += len(self._made)
        if not 0 <= index < len(self._made):
            raise IndexError(index)
        return self._item(index)

    def __len__(self) -> int:
        return len(self._made)

    def __iter__(self) -> Iterator[V]:
        return (self._item(n) for n in range(len(self._made)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Derived):
            other = tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


_UNSET: Any = object()


class _CheckStatuses(Mapping[str, str]):
    """Each check's status, derived when the verdict reads it (it reads the current step's gate)."""

    __slots__ = ("_checks",)

    def __init__(self, checks: Views[CheckView]) -> None:
        self._checks = checks

    def __getitem__(self, key: str) -> str:
        return self._checks[key].status

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)


class _Headlines(Mapping[str, "_Headline"]):
    """What the banners and countdowns read of a condition: its view without the sparkline and the reason."""

    __slots__ = ("_derive",)

    def __init__(self, derive: _Derivation) -> None:
        self._derive = derive

    def __getitem__(self, key: str) -> _Headline:
        return self._derive.headline(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._derive.index.condition_ids)

    def __len__(self) -> int:
        return len(self._derive.index.condition_ids)


class _Standings(Mapping[str, "_Core"]):
    """Each condition's state, whether in force and since when firing (``SessionState.standings``): the verdict's cores, no tick read."""

    __slots__ = ("_derive",)

    def __init__(self, derive: _Derivation) -> None:
        self._derive = derive

    def __getitem__(self, key: str) -> _Core:
        return self._derive.core(self._derive.index.conditions[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._derive.index.condition_ids)

    def __len__(self) -> int:
        return len(self._derive.index.condition_ids)
