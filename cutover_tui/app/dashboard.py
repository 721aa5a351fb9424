"""``CutoverApp``: the dashboard's layout, the states it draws, the keys that apply now, and the actions.

The flows behind the actions (dialogs, then appends) are ``DialogFlows``
(``cutover_tui.app.dialogs``); the keys come from one table
(``cutover_tui.app.actions``).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.worker import WorkerState

from cutover_tui import flows
from cutover_tui.app.actions import ACTIONS, COMMANDS, OTHER_KEYS, READ_ONLY_NOTICE, SCRUBBER_BINDINGS, WRITE_ACTIONS
from cutover_tui.app.breakpoints import breakpoint_classes
from cutover_tui.app.dialogs import DialogFlows
from cutover_tui.backend import Scrubber, SessionBackend
from cutover_tui.collector import SurvivorFreezer
from cutover_tui.labels import VERDICT_LABELS, display_zone, format_wall_clock
from cutover_tui.state import SessionState, StepState
from cutover_tui.widgets.alerts_panel import AlertsPanel
from cutover_tui.widgets.conditions_list import ConditionsList
from cutover_tui.widgets.dashboard_header import DashboardHeader
from cutover_tui.widgets.decision_log import DecisionLog
from cutover_tui.widgets.key_footer import KeyFooter
from cutover_tui.widgets.replay_bar import ReplayBar
from cutover_tui.widgets.step_detail import ItemList, StepDetail
from cutover_tui.widgets.steps_table import StepsTable
from cutover_tui.widgets.stop_banner import Banner, StopBanner, build_banner

W = TypeVar("W", bound=Widget)

#: The smallest terminal the dashboard draws in; below it the screen says so (and keeps the verdict and the banner).
MIN_WIDTH, MIN_HEIGHT = 80, 24
#: In a browser, the view sends a frame at least this often, an empty one when nothing changed.
VIEW_BEAT_SECONDS = 1.0


class StateChanged(Message):
    """A backend produced a new state. A burst collapses: only the newest is rendered."""

    def __init__(self, state: SessionState) -> None:
        super().__init__()
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)


class CutoverApp(DialogFlows):
    """The incident commander's dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "cutover-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [action.binding for action in ACTIONS]

    banner: reactive[Banner | None] = reactive(None, init=False)
    """The HALT/ROLLBACK banner every screen shows (``StopBanner`` watches it); None when no decision is awaited."""

    def __init__(self, backend: SessionBackend, *, clock_tick: float = 1.0) -> None:
        super().__init__()
        self.backend = backend
        self.runbook = backend.runbook
        self.clock_tick = clock_tick
        self.zone = display_zone(self.runbook.timezone)
        self.scrubber: Scrubber | None = backend if isinstance(backend, Scrubber) else None
        """The backend, when the operator scrubs it (replay): the replay bar moves it."""
        self.session: SessionState = backend.state()
        """The latest state rendered."""
        self.bells_rung = 0
        """How many times the bell rang for a new banner (tests read it: the terminal bell is silent headless)."""
        self._followed_step: str | None = None
        self._widgets: dict[type[Widget], Widget] = {}
        self._dashboard: Screen | None = None  # the screen the dashboard is on (dialogs go on top of it)
        self._rendered: SessionState | None = None  # the state the dashboard's widgets show
        self._tick: asyncio.TimerHandle | None = None  # the clock's next tick
        self._collector = SurvivorFreezer()  # the cyclic collector's full passes walk only what is new
        self._keys_applying: tuple[bool | None, ...] = ()
        self._ending = False
        self._terminal = Size(0, 0)  # the terminal's size, as the last resize gave it
        self._signals_installed: list[int] = []
        self.ended_by_signal: str | None = None
        """The signal (``SIGTERM``, ``SIGHUP``) that ended the session, if one did."""

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        self.screen.update_classes(breakpoint_classes(self))  # before its widgets are styled, not after
        yield StopBanner()
        yield DashboardHeader(id="header")
        with Horizontal(id="main"):
            with Vertical(id="steps-pane"):
                yield StepsTable(id="steps")
                yield StepDetail(id="detail")
            with Vertical(id="conditions-pane"):
                yield ConditionsList(id="conditions")
        with Horizontal(id="bottom"):
            with VerticalScroll(id="alerts-pane", can_focus=False):
                yield AlertsPanel(id="alerts")
            yield DecisionLog(id="log")
        if self.scrubber is not None:
            yield ReplayBar(self.scrubber)
        yield Static(id="too-small", markup=False)
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.query_one("#steps-pane").border_title = "Steps"
        self.query_one("#conditions-pane").border_title = "Stop conditions"
        self.watch(self.query_one(ConditionsList), "worst_first", self._conditions_order_shown)
        self.query_one("#alerts-pane").border_title = "Alerts"
        self.query_one("#log").border_title = "Log: decisions, notes, changes"
        self._dashboard = self.screen
        self._fit_to_terminal()
        self._render_state(self.session, previous=None)
        self.query_one(StepsTable).focus()
        self.watch(self.screen, "focused", self._focus_moved)
        self._install_ending_signals()
        await self.backend.start(self._on_state)
        self.call_after_refresh(self._after_first_frame)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_to_terminal(event.size)

    def _conditions_order_shown(self, worst_first: bool) -> None:
        """The pane's title says when the cards are not in the runbook's order."""
        self.query_one("#conditions-pane").border_title = (
            "Stop conditions, worst first" if worst_first else "Stop conditions"
        )

    def _fit_to_terminal(self, size: Size | None = None) -> None:
        """Below ``MIN_WIDTH`` × ``MIN_HEIGHT`` the dashboard says what it needs instead of drawing empty panes."""
        if self._dashboard is None:
            return
        self._terminal = size or self.size
        width, height = self._terminal
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self._dashboard.set_class(small, "-too-small")
        if small:
            self._show_too_small()

    def _show_too_small(self) -> None:
        try:
            notice = self.query_one("#too-small", Static)
        except NoMatches:
            return
        width, height = self._terminal
        # With the clock, as the header has it: this notice changes each second too, as a live screen does.
        notice.update(
            f"VERDICT: {VERDICT_LABELS[self.session.verdict]} at {format_wall_clock(self.backend.now(), self.zone)}\n\n"
            f"This terminal is {width}×{height}; the dashboard needs at least {MIN_WIDTH}×{MIN_HEIGHT}. "
            "Enlarge the window (or make the font smaller) to see the steps and the stop conditions. "
            "Keys still work: ? help, q quit."
        )

    async def _after_first_frame(self) -> None:
        """Once the first frame is on screen: what the screen did not wait for (a live backend's polling, the dialogs)."""
        gc.enable()  # off since the command began (``cli.DASHBOARD_COMMANDS``); its first pass takes start-up's garbage
        first_frame = getattr(self.backend, "first_frame", None)
        if first_frame is not None and self.is_running:
            await first_frame()
        # Imported now, not at start-up nor at the first key: keys typed into a loading dialog would reach the dashboard.
        for dialog in ("approval", "complete_step", "decision", "evidence", "help", "prompts", "set_t0"):
            importlib.import_module(f"cutover_tui.screens.{dialog}")
        # What start-up made (modules, widgets, the runbook) lives as long as the app, and so does most of what
        # survives a full collection: kept out of the next passes (``cutover_tui.collector``), a full
        # collection (which stops every thread) takes a fraction as long.
        self._collector.install()
        if self.is_web:  # in a browser (``serve``), the page tells a view that stopped from one with nothing new
            self.set_interval(VIEW_BEAT_SECONDS, self._beat)

    def _beat(self) -> None:
        """An empty frame to the browser's page: this view's loop still runs (``serve_cmd.VIEW_STALE_SECONDS``)."""
        if self._driver is not None:
            self._driver.write("")

    async def on_unmount(self) -> None:
        self._remove_ending_signals()
        if self._tick is not None:
            self._tick.cancel()
        self._collector.remove()
        await self.backend.stop()

    # ------------------------------------------------------------ state in

    def _on_state(self, state: SessionState) -> None:
        """The backend's ``on_change``: hand the state to the message queue (a burst collapses)."""
        self.post_message(StateChanged(state))

    @on(StateChanged)
    def _state_changed(self, message: StateChanged) -> None:
        if not self.is_running:  # shutting down: the widgets are being removed
            return
        previous, self.session = self.session, message.state
        self._render_state(message.state, previous=previous)

    def _render_state(self, state: SessionState, previous: SessionState | None) -> None:
        """Update only the widgets whose part of the state changed; every time shown is the state's ``now``.

        While a dialog is on top, the dashboard behind it follows the state too (its clocks move and agree
        with the banner the dialog shows), and so does a dialog that shows the verdict. Textual redraws the
        whole screen behind a dialog for any change to it: the demo with a dialog open costs 7–9 % of a core
        against 2.4–2.8 % with the dashboard left as it was (``benchmarks/demo_cpu.py``).
        """
        self._clock_from_now()
        now = state.now or self.backend.now()
        if self._dashboard is not None and self.screen is not self._dashboard:
            show_verdict = getattr(self.screen, "show_verdict", None)
            if show_verdict is not None:
                show_verdict(state.verdict, state.verdict_reasons)
        previous = self._rendered if self._rendered is not None else previous

        def changed(part: str) -> bool:
            if previous is None:
                return True
            if part in ("conditions", "checks"):  # derived when looked at: the widgets compare what they show
                return getattr(previous, part) is not getattr(state, part)
            return getattr(previous, part) != getattr(state, part)

        header, steps, conditions = self._find(DashboardHeader), self._find(StepsTable), self._find(ConditionsList)
        alerts, log, dashboard = self._find(AlertsPanel), self._find(DecisionLog), self._dashboard
        if header is None or steps is None or conditions is None or alerts is None or log is None or dashboard is None:
            return  # not mounted yet, or being removed at exit
        if dashboard.has_class("-too-small"):
            self._show_too_small()
        self._rendered = state
        with self.batch_update():
            header.show(state, self.runbook, now, self.zone, self.view_label)
            if self.scrubber is not None and (bar := self._find(ReplayBar)) is not None:
                bar.show(self.scrubber.scrubber_view())
            if any(changed(part) for part in ("steps", "checks", "conditions", "current_step", "mode")):
                steps.show(state, self.runbook, now, self.zone)
                self._follow_current_step(state)
                self._show_detail()
            if changed("conditions"):
                conditions.show(state, self.runbook, now)
            if changed("alerts") or changed("checks"):
                alerts.show(state, self.runbook, now, self.zone)
            if changed("log"):
                log.show(state, self.zone)
            self._show_banner(state, now)
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Refresh the footer and the palette when the keys that apply have changed (a refresh rebuilds the footer)."""
        applying = tuple(self.check_action(action, ()) for action in sorted(WRITE_ACTIONS))
        if applying != self._keys_applying:
            self._keys_applying = applying
            self.refresh_bindings()

    def _find(self, widget_type: type[W]) -> W | None:
        """The dashboard's one widget of ``widget_type``; None before it is mounted and once it is removed."""
        widget = self._widgets.get(widget_type)
        if isinstance(widget, widget_type) and widget.is_attached:
            return widget
        try:
            found = self.query_one(widget_type)
        except NoMatches:
            return None
        self._widgets[widget_type] = found
        return found

    def _clock_from_now(self) -> None:
        """The clock ticks ``clock_tick`` after the state was last derived (by new readings or by the clock):
        no time shown is ever more than a tick old, and new readings' repaint moves the clocks too (not a second one)."""
        self._end_if_terminal_gone()  # at least once a second, as the clock
        if self._tick is not None:
            self._tick.cancel()
        self._tick = asyncio.get_running_loop().call_later(self.clock_tick, self.call_next, self._on_clock)

    def _on_clock(self) -> None:
        """A tick after the last state shown: the state is derived anew, so clocks, countdowns, holds, staleness and escalation move on."""
        if not self.is_running:  # the timer can fire while the widgets are being removed
            return
        previous, self.session = self.session, self.backend.state()
        self._render_state(self.session, previous)

    def _show_banner(self, state: SessionState, now: datetime) -> None:
        banner = build_banner(state, self.runbook, now, live=not self.backend.read_only, zone=self.zone)
        before = self.banner
        self.banner = banner
        if banner is not None and (before is None or before.key != banner.key):
            self.bells_rung += 1
            self.bell()

    def _follow_current_step(self, state: SessionState) -> None:
        """Keep the cursor on the current step while the operator leaves it there."""
        steps = self._find(StepsTable)
        if steps is None:
            return
        current = state.current_step
        if current is None or current == self._followed_step:
            return
        if self._followed_step is None or steps.selected_step_id == self._followed_step:
            steps.select_step(current)
        self._followed_step = current

    def _show_detail(self) -> None:
        detail, steps = self._find(StepDetail), self._find(StepsTable)
        if detail is None or steps is None:  # not mounted yet, or being removed at exit: nothing to show it in
            return
        detail.show(
            steps.selected_step_id,
            self.session,
            self.runbook,
            self.backend.now(),
            self.zone,
            live=not self.backend.read_only,
        )

    @on(DataTable.RowHighlighted, "#steps")
    def _step_highlighted(self) -> None:
        if not self.is_running:  # a highlight queued while the widgets are being removed
            return
        self._show_detail()
        self._refresh_keys()

    @on(DataTable.RowSelected, "#steps")
    def _step_selected(self) -> None:
        """Enter on a step opens its detail (on short screens it is hidden otherwise) and moves into it."""
        if not self.is_running:
            return
        try:
            pane, items, detail = self.query_one("#steps-pane"), self.query_one(ItemList), self.query_one(StepDetail)
        except NoMatches:
            return
        pane.add_class("-detail-open")
        self.call_after_refresh((items if items.display else detail).focus)

    def _focus_moved(self, focused: Widget | None) -> None:
        detail = self._find(StepDetail)
        try:
            pane = self.query_one("#steps-pane")
        except NoMatches:
            return
        if detail is None:
            return
        inside = focused is not None and (focused is detail or detail in focused.ancestors)
        pane.set_class(inside, "-detail-open")

    @property
    def view_label(self) -> str | None:
        """``FOLLOW (read-only)`` / ``REPLAY`` from the backend, or None for a live session."""
        label = getattr(self.backend, "view_label", None)
        if label is None and self.backend.read_only:
            return "READ-ONLY"
        return label

    # ------------------------------------------------------------ keys that apply now

    def selected_step(self) -> StepState | None:
        """The step under the timeline cursor."""
        steps = self._find(StepsTable)
        return self.session.step(steps.selected_step_id) if steps is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that do not apply to the selection now (the help screen lists them all).

        A hidden key still answers: pressing it says why it does not apply
        (``run_action``). Read-only keeps every key live, so that pressing one
        says the view is read-only. Before the dashboard is mounted there is no
        selection to judge by (nor a screen to look in): every key applies.
        """
        if action not in WRITE_ACTIONS or self.backend.read_only or self._dashboard is None:
            return True
        return self.refusal(action) is None

    def refusal(self, action: str) -> str | None:
        """Why ``action`` does not apply now, in one line (``flows.refusal``); None when it does."""
        if action not in WRITE_ACTIONS:
            return None
        if self.backend.read_only:
            return READ_ONLY_NOTICE
        return flows.refusal(
            action,
            self.session,
            self.selected_step(),
            zone=self.zone,
            highlighted_condition=self._highlighted_condition(),
        )

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        """Run an action; a key whose action does not apply now says why instead of doing nothing."""
        if await super().run_action(action, default_namespace, namespaces):
            return True
        if isinstance(action, str) and action in WRITE_ACTIONS and default_namespace in (None, self):
            reason = self.refusal(action)
            if reason is not None:
                self.notify(reason, title="Does not apply now", severity="warning")
                return True
        return False

    def _writable(self) -> bool:
        if self.backend.read_only:
            self.notify(READ_ONLY_NOTICE, severity="warning")
            return False
        if any(w.group == "flow" and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in self.workers):
            self.notify("Still recording the previous action…", severity="warning")
            return False
        return True

    def _step_or_notice(self) -> StepState | None:
        step = self.selected_step()
        if step is None:
            self.notify("Select a step first.", severity="warning")
        return step

    # ------------------------------------------------------------ actions

    def action_start_step(self) -> None:
        if self._writable() and (step := self._step_or_notice()):
            self._start_flow(step.id)

    def action_complete_step(self) -> None:
        if self._writable() and (step := self._step_or_notice()):
            self._complete_flow(step.id)

    def action_fail_step(self) -> None:
        if self._writable() and (step := self._step_or_notice()):
            self._reason_flow("step_failed", step.id, f"Fail: {step.title}", "Why did it fail?", "Mark failed", True)

    def action_skip_step(self) -> None:
        if self._writable() and (step := self._step_or_notice()):
            self._reason_flow("step_skipped", step.id, f"Skip: {step.title}", "Why skip it?", "Skip step", True)

    def action_add_evidence(self) -> None:
        if self._writable() and (step := self._step_or_notice()):
            self._evidence_flow(step.id)

    def action_add_note(self) -> None:
        if self._writable():
            self._note_flow(self.query_one(StepsTable).selected_step_id)

    def action_decide(self) -> None:
        if self._writable():
            self._decision_flow(flows.decision_step(self.runbook, self.session, self.selected_step()))

    def action_acknowledge(self) -> None:
        if not self._writable():
            return
        condition_id = flows.condition_to_acknowledge(self.session, self._highlighted_condition())
        if condition_id is None:
            self.notify(self.refusal("acknowledge") or "Nothing to acknowledge.", severity="warning")
            return
        self._append_events([("condition_acknowledged", {"condition": condition_id})])

    def action_why(self) -> None:
        """Why is it red? For the highlighted condition, else the banner's, else the first one not ok."""
        condition_id = flows.condition_to_explain(self.session, self._highlighted_condition())
        if condition_id is None:
            self.notify("The runbook has no stop conditions.")
            return
        self._why_flow(condition_id)

    def action_set_t0(self) -> None:
        if self._writable():
            self._t0_flow()

    def action_rollback(self) -> None:
        if self._writable():
            self._rollback_flow()

    def action_help(self) -> None:
        from cutover_tui.screens.help import HelpScreen

        note = (
            f"{self.view_label or 'This view'} is read-only: the keys that write to the log (steps, evidence, "
            "notes, decisions, T-0, rollback) belong to the live session."
            if self.backend.read_only
            else ""
        )
        self.push_screen(HelpScreen(self.key_help(), note=note))

    async def action_quit(self) -> None:
        """Textual's own quit (the palette's "Quit"): asks and logs the session's end, as q does."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        if self.backend.read_only:
            self.exit()
        else:
            self._quit_flow()

    def action_tick_from_timeline(self) -> None:
        """space / x on the timeline: items are ticked in the checklist, so go there and say how."""
        step = self.selected_step()
        if self.backend.read_only:
            self.notify(READ_ONLY_NOTICE, severity="warning")
            return
        if step is None:
            self.notify("Select a step first.", severity="warning")
            return
        if not self.runbook.step(step.id).items:
            self.notify(f"“{step.title}” has no checklist items to tick.", severity="warning")
            return
        self._step_selected()
        self.notify("In the checklist now: ↑ ↓ choose an item, space ticks it, escape goes back.")

    def action_focus_steps(self) -> None:
        self.query_one(StepsTable).focus()

    def action_focus_conditions(self) -> None:
        self.query_one(ConditionsList).focus()

    def action_focus_log(self) -> None:
        self.query_one(DecisionLog).focus()

    async def action_scrub(self, action: str) -> None:
        """A replay bar key (play/pause, speed, seek): the bar's own action, wherever the focus is."""
        bar = self._find(ReplayBar)
        if bar is not None:
            await bar.run_action(action)

    @on(ItemList.Toggled)
    def _item_toggled(self, message: ItemList.Toggled) -> None:
        if self._writable():
            payload = {"step": message.step, "item": message.item, "checked": message.checked}
            self._append_events([("item_checked", payload)])

    def _highlighted_condition(self) -> str | None:
        """The condition under the cursor in the conditions pane, if any."""
        pane = self._find(ConditionsList)
        return pane.highlighted_condition_id if pane is not None else None

    # ------------------------------------------------------------ help and palette

    def key_help(self) -> list[tuple[str, str]]:
        """Every key of the dashboard and what it does (the help screen's table); a read-only view leaves out the keys that write."""
        commands = [c for c in COMMANDS if not (self.backend.read_only and c.writes)]
        keys = [(self.get_key_display(c.binding), c.help) for c in commands]
        keys += [
            *OTHER_KEYS,
            ("q / ctrl+q", "Quit" if self.backend.read_only else "Quit (asks first, then logs how the session ended)"),
        ]
        if self.backend.read_only:
            keys = [(key, text) for key, text in keys if not key.startswith("space")]
        keys += [(self.get_key_display(b), b.description) for b in self._scrubber_bindings()]
        return keys

    async def _run_command(self, action: str) -> None:
        """Run a palette command as its key would: only when it applies now, else say why."""
        reason = self.refusal(action) if not self.backend.read_only else None
        if reason is None:
            await self.run_action(action)
        else:
            self.notify(reason, title="Does not apply now", severity="warning")

    def _scrubber_bindings(self) -> list[Binding]:
        return SCRUBBER_BINDINGS if self.scrubber is not None else []

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for command in COMMANDS:
            if command.writes and self.refusal(command.action) is not None:
                continue  # the palette offers only what applies now (the key still says why not)
            yield SystemCommand(command.title, command.help, lambda action=command.action: self._run_command(action))
        for binding in self._scrubber_bindings():
            yield SystemCommand(
                binding.description, f"({binding.key})", lambda action=binding.action: self.run_action(action)
            )


class ReadOnlyCutoverApp(CutoverApp):
    """The dashboard for a follow or replay backend: the footer leaves out keys that write.

    The keys still answer, with a notice saying the view is read-only.
    """

    BINDINGS: ClassVar[list[BindingType]] = [replace(action.binding, show=False) for action in ACTIONS if action.writes]


class ReplayCutoverApp(ReadOnlyCutoverApp):
    """The dashboard for a backend the operator scrubs (replay): the replay bar's keys apply wherever the focus is."""

    BINDINGS: ClassVar[list[BindingType]] = list(SCRUBBER_BINDINGS)


def make_app(backend: SessionBackend, *, clock_tick: float = 1.0) -> CutoverApp:
    """The dashboard over ``backend`` (live, follow or replay); tests build theirs here too."""
    app_class: type[CutoverApp] = CutoverApp
    if isinstance(backend, Scrubber):
        app_class = ReplayCutoverApp
    elif backend.read_only:
        app_class = ReadOnlyCutoverApp
    return app_class(backend, clock_tick=clock_tick)
