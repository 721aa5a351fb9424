"""The selected step in full: checklist items, evidence, gate, watched conditions, notes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cutover_tui.evidence import evidence_answers, evidence_owed
from cutover_tui.labels import (
    STEP_MARKERS,
    check_marker,
    check_value_text,
    condition_marker_in,
    format_at,
    format_duration,
    format_wall_time,
)
from cutover_tui.state import SessionState, StepState
from runbooks.model import EvidenceItem, Runbook, Step


class ItemList(OptionList):
    """A step's checklist; ``space`` or ``x`` asks to tick or untick the highlighted item.

    The tick is not shown until the log has it: the list only posts
    ``ItemList.Toggled`` and redraws from the next state.
    """

    BINDINGS = [
        Binding("space,x", "toggle_item", "Tick item"),
        Binding("escape", "app.focus_steps", "Back to steps", show=False),
    ]

    DEFAULT_CSS = """
    ItemList, ItemList:focus { height: auto; max-height: 12; border: none; padding: 0; }
    ItemList:focus { background-tint: $foreground 5%; }
    """

    @dataclass
    class Toggled(Message):
        """The operator asked to set ``item`` of ``step`` to ``checked``."""

        step: str
        item: str
        checked: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.step_id: str | None = None
        self._checked: dict[str, bool] = {}

    def show(self, step: Step, checked: frozenset[str]) -> None:
        """List ``step``'s items, keeping the highlight when the step did not change."""
        wanted = {item.id: item.id in checked for item in step.items}
        if step.id != self.step_id or list(wanted) != list(self._checked):
            self.step_id = step.id
            self.set_options(Option(item_prompt(item.text, wanted[item.id]), id=item.id) for item in step.items)
            if step.items:
                self.highlighted = 0
        else:
            for item in step.items:
                if self._checked.get(item.id) != wanted[item.id]:
                    self.replace_option_prompt(item.id, item_prompt(item.text, wanted[item.id]))
        self._checked = wanted
        self.display = bool(step.items)

    def action_toggle_item(self) -> None:
        option = self.highlighted_option
        if option is None or option.id is None or self.step_id is None:
            return
        self.post_message(self.Toggled(self.step_id, option.id, not self._checked.get(option.id, False)))


def item_prompt(text: str, checked: bool) -> Text:
    """``[x] text`` or ``[ ] text``."""
    box = Text("[x] ", style="bold green") if checked else Text("[ ] ", style="bold")
    return box + Text(text, style="dim" if checked else "")


class StepDetail(VerticalScroll):
    """Detail pane for the step selected in the timeline; escape goes back to the timeline."""

    BINDINGS = [Binding("escape", "app.focus_steps", "Back to steps", show=False)]

    DEFAULT_CSS = """
    StepDetail { height: auto; max-height: 10; }
    StepDetail > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield ItemList(id="detail-items")
        yield Static(id="detail-body")

    def show(
        self,
        step_id: str | None,
        state: SessionState,
        runbook: Runbook,
        now: datetime,
        zone: tzinfo | None,
        *,
        live: bool = True,
    ) -> None:
        """Show ``step_id`` (or nothing) as of ``state`` at ``now``; ``live`` False leaves out the hints of keys that write."""
        step_state = state.step(step_id)
        if step_state is None:
            self._set("#detail-title", Text("No step selected", style="dim"))
            self._set("#detail-body", Text(""))
            self.query_one(ItemList).display = False
            return
        spec = runbook.step(step_state.id)
        self._set("#detail-title", detail_title(spec, step_state, now, zone))
        self.query_one(ItemList).show(spec, step_state.items_checked)
        self._set("#detail-body", detail_body(spec, step_state, state, runbook, now, live=live))

    def _set(self, selector: str, text: Text) -> None:
        """Show ``text`` in the ``selector`` Static; the screen is laid out again only when its height changed.

        A new layout places every widget on the screen again (some 10 ms with a
        hundred condition cards); new text as tall as the old only repaints.
        """
        if self._shown.get(selector) == text:
            return
        self._shown[selector] = text
        static = self.query_one(selector, Static)
        width, height = static.content_size
        static.update(text, layout=False)
        if not width or static.get_content_height(static.container_size, self.app.size, width) != height:
            static.refresh(layout=True)


def evidence_lines(step: Step, answers: Mapping[str, Sequence[str]], asking: Iterable[EvidenceItem] = ()) -> Text:
    """Each named item with its answers, or ``owed`` / ``optional`` when it has none; answers for the step as a whole last.

    ``asking``: the items a field below asks for now; they are left out here (the field names them).
    """
    asked = {item.id for item in asking}
    text = Text()
    for item in step.evidence:
        if item.id in asked:
            continue
        given = answers.get(item.id, ())
        if given:
            text.append(f"  ✔ {item.text}: ", style="green")
            text.append("; ".join(given))
        elif item.required:
            text.append(f"  □ {item.text}: owed", style="bold yellow")
        else:
            text.append(f"  · {item.text}: optional, none yet", style="dim")
        text.append("\n")
    for answer in answers.get("", ()):
        text.append(f"  ✔ {answer}\n", style="green")
    text.rstrip()
    return text


def detail_title(spec: Step, step: StepState, now: datetime, zone: tzinfo | None) -> Text:
    """``✔ Deploy backend · go/no-go · owner sre · T-0 22:00 · done in 9m12s``."""
    marker = STEP_MARKERS[step.status]
    text = Text.assemble((f"{marker.symbol} {marker.word.upper()} ", marker.style), (spec.title, "bold"))
    parts = [spec.kind.value.replace("_", "-")]
    if spec.owner:
        parts.append(f"owner {spec.owner}")
    parts.append(f"{format_at(spec.at, rollback=step.rollback_plan)} {format_wall_time(step.planned_start, zone, now)}")
    if spec.duration:
        parts.append(f"planned {format_duration(spec.duration)}")
    if step.started_at is not None:
        end = step.ended_at or now
        parts.append(f"took {format_duration((end - step.started_at).total_seconds())}")
    text.append("  " + " · ".join(parts), style="dim")
    if step.reason:
        text.append(f"\nReason: {step.reason}", style="yellow")
    return text


def detail_body(
    spec: Step, step: StepState, state: SessionState, runbook: Runbook, now: datetime, *, live: bool = True
) -> Text:
    """Evidence, gate, watched conditions and notes, as labelled lines.

    ``live``: a session that can be written; a read-only view (follow, replay) shows no hints of keys that write.
    """
    text = Text()
    if spec.kind.value == "approval":
        text.append("Approval: ", style="bold")
        text.append(f"type “{spec.phrase}” to approve" + (" (c)" if live else "") + "\n", style="cyan")
    elif spec.kind.value == "go_no_go":
        text.append("Go/no-go: ", style="bold")
        text.append(
            ("decide with the scorecard (c or d)" if live else "decided with the scorecard") + "\n", style="cyan"
        )
    if spec.evidence_required or spec.evidence or step.evidence:
        owed = evidence_owed(spec, step)
        notes = []
        if spec.evidence and owed:
            notes.append(f"{len(owed)} of {len(spec.evidence)} owed")
        elif owed:
            notes.append("required")
        if live and owed:
            notes.append("e to add")
        text.append("Evidence" + (f" ({', '.join(notes)})" if notes else "") + ":", style="bold")
        lines = evidence_lines(spec, evidence_answers(spec, step))
        if lines:
            text.append("\n")
            text.append_text(lines)
        elif not step.evidence:
            text.append(" none yet", style="bold yellow" if owed else "dim")
        text.append("\n")
    if spec.gate:
        text.append("Gate: ", style="bold")
        for check_id, status in step.gate:
            marker = check_marker(status)
            view = state.checks.get(check_id)
            text.append(f"\n  {marker.symbol} {check_id} {marker.word}", style=marker.style)
            if view is not None and view.outcome is not None:
                shown = check_value_text(
                    runbook.checks.get(check_id), view.value, view.unit, lower_bound=view.lower_bound
                )
                detail = " ".join(part for part in (shown, view.detail) if part)
                if detail:
                    text.append(f"  {detail}", style="dim")
        text.append("\n")
    if spec.watch:
        text.append("Watching: ", style="bold")
        for condition_id in spec.watch:
            marker = condition_marker_in(state, runbook, condition_id)
            text.append(f"{marker.symbol} {condition_id} {marker.word}  ", style=marker.style)
        text.append("\n")
    if spec.depends_on:
        text.append("Depends on: ", style="bold")
        text.append(", ".join(spec.depends_on) + "\n", style="dim")
    if spec.notes:
        text.append("Notes: ", style="bold")
        text.append(spec.notes.strip())
    text.rstrip()
    return text
