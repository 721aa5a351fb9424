"""Record a decision: GO / NO-GO / CONDITIONAL GO / HOLD / ROLLBACK / CONTINUE with a reason, and who decided.

A ``go_no_go`` step shows the runbook's weighted scorecard; its scores, total
and result go into the decision payload. Who decided is chosen apart from
who types (the log's actor): the role the firing banner names ("decides:
CTO") is offered first and chosen unless changed, "me" leaves the typist, and
"someone else" takes a name. For a firing it answers, the dialog says which
step preceded it ("auth_errors fired 1m40s after 'Production deploy' started").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input, RadioButton, RadioSet, Select, Static

from checks.status import Verdict
from cutover_tui.labels import DECISION_LABELS, VERDICT_LABELS
from cutover_tui.screens.dialog import DialogScreen, buttons, error_line, hint
from cutover_tui.state import DECISIONS
from cutover_tui.widgets.scorecard_form import ScorecardForm
from runbooks.model import Scorecard, Step

#: The keys that choose a decision (``1``–``6``).
CHOICE_KEYS = frozenset(str(n) for n in range(1, len(DECISIONS) + 1))

#: What each scorecard result recommends, to warn when the decision disagrees.
SCORECARD_DECISIONS = {"GO": "go", "CONDITIONAL": "conditional_go", "NO-GO": "no_go"}
#: The decider choices that are not a role of the runbook.
TYPIST = "__typist__"
SOMEONE_ELSE = "__other__"


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """The decision, its reason and, for a go/no-go step, the scorecard payload."""

    decision: str
    reason: str
    scorecard: dict[str, Any] | None
    decided_by: str | None = None  # a role id or a person's name; None: the one who typed it


class DecisionScreen(DialogScreen[DecisionRequest]):
    """Choose a decision (keys 1–6 or arrows), give a reason, say who decided, score the go/no-go when there is one."""

    DEFAULT_CSS = """
    DecisionScreen .-hidden { display: none; }
    DecisionScreen #decision-verdict-reasons { padding-left: 2; color: $text-muted; }
    DecisionScreen #decision-answers-row { height: auto; }
    DecisionScreen #decision-answers-label { width: auto; }
    DecisionScreen #decision-answers { width: 1fr; }
    DecisionScreen #decided-by { margin-bottom: 1; }
    """

    BINDINGS = [Binding(str(n), f"choose({n - 1})", DECISION_LABELS[d], show=False) for n, d in enumerate(DECISIONS, 1)]

    def __init__(
        self,
        *,
        step: Step | None,
        scorecard: Scorecard | None,
        verdict: Verdict,
        verdict_reasons: list[str],
        deciders: Sequence[tuple[str, str]] = (),
        expected: str | None = None,
        answers: Sequence[str] = (),
    ) -> None:
        super().__init__(f"Decision — {step.title}" if step else "Decision")
        self.step = step
        self.scorecard = scorecard
        self.verdict = verdict
        self.verdict_reasons = verdict_reasons
        self.deciders = list(deciders)
        self.expected = expected
        self.answers = list(answers)
        self._typing_reason = False  # a reason was begun on the choice list (``on_key``)

    def compose_dialog(self) -> ComposeResult:
        yield Static(self._verdict_text(), id="decision-verdict")
        # the reasons in a text of their own, indented by padding: a reason that wraps keeps the indent
        yield Static(self._reasons_text(), id="decision-verdict-reasons", markup=False)
        if self.answers:  # beside their label: an answer that wraps starts again under the first
            with Horizontal(id="decision-answers-row"):
                yield Static(Text("Answers: ", style="bold"), id="decision-answers-label")
                yield Static("\n".join(self.answers), id="decision-answers", markup=False)
        if self.scorecard is not None:
            yield ScorecardForm(self.scorecard, id="scorecard")
        with RadioSet(id="decision-choice", compact=True):
            for number, decision in enumerate(DECISIONS, 1):
                yield RadioButton(f"{number}  {DECISION_LABELS[decision]}", id=f"decision-{decision}")
        yield Static(id="decision-warning", classes="dialog-warning")
        yield Input(placeholder="reason (required, logged)", id="reason", compact=True, select_on_focus=False)
        options = [(f"Decided by: {title} ({role})" + ("  ← the banner asks" if role == self.expected else ""), role)
                   for role, title in self.deciders]  # fmt: skip
        options += [("Decided by: me (who types)", TYPIST), ("Decided by: someone else (type the name)", SOMEONE_ELSE)]
        default = self.expected if any(role == self.expected for role, _ in self.deciders) else TYPIST
        yield Select(options, allow_blank=False, value=default, id="decided-by", compact=True)
        yield Input(placeholder="who decided (name)", id="decider-name", compact=True, classes="-hidden")
        yield error_line()
        yield hint("1–6 choose, then type the reason · Enter records · Escape cancels")
        yield buttons("Record decision", disabled=True)

    def _verdict_text(self) -> Text:
        return Text.assemble(("Verdict now: ", "bold"), VERDICT_LABELS[self.verdict])

    def _reasons_text(self) -> str:
        return "\n".join(self.verdict_reasons)

    def show_verdict(self, verdict: Verdict, reasons: Sequence[str]) -> None:
        """Follow the verdict while the dialog is open: a change is said at once, and the override warning with it."""
        if (verdict, list(reasons)) == (self.verdict, self.verdict_reasons):
            return
        self.verdict, self.verdict_reasons = verdict, list(reasons)
        self.query_one("#decision-verdict", Static).update(self._verdict_text())
        self.query_one("#decision-verdict-reasons", Static).update(self._reasons_text())
        self._refresh()

    def on_mount(self) -> None:
        first = self.query(Input).first() if self.scorecard is not None else self.query_one(RadioSet)
        first.focus()
        self._refresh()

    @property
    def chosen(self) -> str | None:
        """The selected decision, or None."""
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.id.removeprefix("decision-") if pressed is not None and pressed.id else None

    def action_choose(self, index: int) -> None:
        self.query_one(f"#decision-{DECISIONS[index]}", RadioButton).value = True

    def on_key(self, event: events.Key) -> None:
        """Words typed on the choice list are the reason's: it takes the focus and the characters.

        The list ignores letters, and its space and Enter would press its
        highlighted decision, not record the one chosen. ``1``–``6`` stay the
        choices until a reason is begun there; keys that arrive before the
        focus has moved (a fast typist, a paste) follow the first, space and
        Enter (which records) included. Keys handed to the list before the
        focus moved can reach here after it (the reason takes the characters
        it is typed itself): they are the reason's too, in their order.
        """
        character = event.character
        if self._typing_reason and isinstance(self.focused, Input) and self.focused.id == "reason":
            if character is not None and character.isprintable():
                event.stop()
                event.prevent_default()
                self.focused.insert_text_at_cursor(character)
            return
        if not isinstance(self.focused, RadioSet):
            return
        if self._typing_reason and event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if character is None or not character.isprintable():
            return
        if not self._typing_reason and (character.isspace() or character in CHOICE_KEYS):
            return
        event.stop()
        event.prevent_default()
        self._typing_reason = True
        reason = self.query_one("#reason", Input)
        reason.focus()
        reason.insert_text_at_cursor(character)

    @property
    def decided_by(self) -> str | None:
        """The chosen decider: a role id, a typed name, or None (the typist)."""
        choice = self.query_one("#decided-by", Select).value
        if choice == SOMEONE_ELSE:
            return self.query_one("#decider-name", Input).value.strip() or None
        return None if choice == TYPIST else str(choice)

    def _missing(self) -> list[str]:
        """What the decision still needs before it can be recorded."""
        missing = []
        if self.scorecard is not None and not self.query_one(ScorecardForm).complete:
            missing.append("a score (0–100) for every scorecard category")
        if self.chosen is None:
            missing.append("a decision (1–6)")
        if not self.query_one("#reason", Input).value.strip():
            missing.append("a reason")
        if self.query_one("#decided-by", Select).value == SOMEONE_ELSE and self.decided_by is None:
            missing.append("the name of who decided")
        return missing

    def _ready(self) -> bool:
        return not self._missing()

    @on(RadioSet.Changed)
    @on(Input.Changed)
    @on(ScorecardForm.Changed)
    @on(Select.Changed)
    def _refresh(self) -> None:
        other = self.query_one("#decided-by", Select).value == SOMEONE_ELSE
        self.query_one("#decider-name", Input).set_class(not other, "-hidden")
        ready = self._ready()
        self.query_one("#confirm", Button).disabled = not ready
        self.query_one("#decision-warning", Static).update(self._warning())
        if ready:
            self.refuse("")

    def _warning(self) -> str:
        chosen = self.chosen
        warnings = []
        if chosen in ("go", "conditional_go", "continue") and self.verdict is not Verdict.CONTINUE:
            warnings.append(f"The verdict is {VERDICT_LABELS[self.verdict]}: {DECISION_LABELS[chosen]} overrides it.")
        if self.scorecard is not None and chosen in ("go", "conditional_go", "no_go"):
            form = self.query_one(ScorecardForm)
            recommended = SCORECARD_DECISIONS[form.value["result"]]
            if form.complete and recommended != chosen:
                warnings.append(f"The scorecard says {form.value['result']}.")
        return " ".join(warnings)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        missing = self._missing()
        if missing:
            self.refuse("Still needed: " + ", ".join(missing) + ".")
            self.focus_next()
            return
        scorecard = self.query_one(ScorecardForm).value if self.scorecard is not None else None
        chosen = self.chosen
        assert chosen is not None
        reason = self.query_one("#reason", Input).value.strip()
        self.dismiss(DecisionRequest(chosen, reason, scorecard, self.decided_by))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
