"""The footer's key hints, fitted to the terminal's width so none falls off the edge.

Textual's ``Footer`` lays every key out with its word and lets the rest run
past the right edge: at 80 columns "? Help" was not on screen. ``KeyFooter``
shows every key that applies; when they do not fit with their words, the
least needed keys lose their word first (the key itself stays), and ``?``
(help, which names every key) keeps its word to the last.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions in the order their words are kept, most needed last; an action not listed (a backend's key) loses its word first.
KEEP_WORDS: tuple[str, ...] = (
    "add_note",
    "why",
    "skip_step",
    "fail_step",
    "add_evidence",
    "start_step",
    "set_t0",
    "complete_step",
    "acknowledge",
    "decide",
    "rollback",
    "help",
)


def fit_words(keys: Sequence[str], words: Sequence[str], actions: Sequence[str], width: int) -> list[str]:
    """The words to show beside ``keys`` so that the footer fits ``width`` cells; a dropped word is ``""``.

    Each key takes its display, a space and its word, then a space (the compact footer's gap).
    """
    shown = list(words)

    def total() -> int:
        return sum(
            cell_len(key) + (1 + cell_len(word) if word else 0) + 1 for key, word in zip(keys, shown, strict=True)
        )

    def rank(index: int) -> tuple[int, int]:
        action = actions[index]
        return (KEEP_WORDS.index(action) if action in KEEP_WORDS else -1, -index)

    for index in sorted(range(len(shown)), key=rank):
        if total() <= width:
            break
        if actions[index] != "help":
            shown[index] = ""
    return shown


class KeyFooter(Footer):
    """A compact footer whose key hints always fit: words give way before keys do (``fit_words``)."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._fitted: tuple[tuple[str, str, str], ...] | None = None
        """Each key shown: its key, action and word (what composing again would change)."""

    def _shown_bindings(self) -> list[tuple[Binding, bool, str]]:
        """The shown bindings that apply now, one per action, in the footer's order."""
        seen: set[str] = set()
        found = []
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                found.append((binding, enabled, tooltip))
        return found

    def _words(self, bindings: list[tuple[Binding, bool, str]]) -> list[str]:
        width = self.size.width or self.app.size.width
        keys = [self.app.get_key_display(binding) for binding, _, _ in bindings]
        return fit_words(keys, [b.description for b, _, _ in bindings], [b.action for b, _, _ in bindings], width)

    def _fit(self, bindings: list[tuple[Binding, bool, str]]) -> tuple[tuple[str, str, str], ...]:
        words = self._words(bindings)
        return tuple((b.key, b.action, word) for (b, _, _), word in zip(bindings, words, strict=True))

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        bindings = self._shown_bindings()
        self._fitted = self._fit(bindings)
        for (binding, enabled, tooltip), (_, _, word) in zip(bindings, self._fitted, strict=True):
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                word,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip or binding.description,
                classes="-compact",  # as ``compact`` would set it once mounted, restyling every key a second time
            ).data_bind(compact=Footer.compact)

    def on_resize(self) -> None:
        """A new width may fit more words, or fewer: ``recompose`` composes again only when the fit changes."""
        if self._bindings_ready and self.is_attached:
            self.call_after_refresh(self.recompose)

    async def recompose(self) -> None:
        """Compose the keys again only when the keys or their words changed; the same keys with the same words (focus
        moved between panes, back from a dialog) are updated in place.

        Textual's footer composes its keys again on every change of focus, and lays the screen out again for it: a
        dozen new widgets for each Tab. Checked here, where every compose is carried out, and not when the change is
        heard: a compose asked for earlier and carried out late (on a loaded machine) is checked too.
        """
        if self._bindings_ready and self.is_attached:
            bindings = self._shown_bindings()
            keys = list(self.query(FooterKey))
            if keys and len(keys) == len(bindings) and self._fitted == self._fit(bindings):
                for shown, (binding, enabled, tooltip) in zip(keys, bindings, strict=True):
                    shown.disabled = not enabled
                    shown.tooltip = tooltip or binding.description
                return
        await super().recompose()

    @property
    def hints(self) -> list[tuple[str, str]]:
        """The keys shown and their words ("" where a word gave way), for tests and screen readers."""
        return [(key.key_display, key.description) for key in self.query(FooterKey)]
