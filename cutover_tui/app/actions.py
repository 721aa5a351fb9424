"""The dashboard's actions, in one table: each one's key, its word in the footer, its name in the palette.

``BINDINGS``, the command palette's ``COMMANDS``, ``WRITE_ACTIONS``, the
read-only view's hidden keys and the help screen's lines are made from
``ACTIONS``; the replay bar's keys from the bar's own ``BINDINGS``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.binding import Binding

from cutover_tui.widgets.replay_bar import ReplayBar

#: What a key that writes says in a follow or replay view.
READ_ONLY_NOTICE = "read-only view (follow/replay)"


@dataclass(frozen=True, slots=True)
class DashboardAction:
    """One thing the dashboard does, in one place: its key, its word in the footer, its name in the palette.

    ``BINDINGS``, the palette's ``COMMANDS``, ``WRITE_ACTIONS``, the read-only
    view's hidden keys and the help screen's lines are all made from ``ACTIONS``.
    """

    action: str
    key: str
    word: str  # beside the key in the footer
    title: str = ""  # the command palette's name for it; "" keeps it out of the palette
    help: str = ""  # the palette's and the help screen's line
    writes: bool = False  # appends to the log: a read-only view refuses it with a notice and hides its key
    footer: bool = True
    key_display: str | None = None
    priority: bool = False

    @property
    def binding(self) -> Binding:
        return Binding(
            self.key, self.action, self.word, show=self.footer, key_display=self.key_display, priority=self.priority
        )


ACTIONS: tuple[DashboardAction, ...] = (
    DashboardAction("start_step", "s", "Start", "Start step", "Start the selected step (s)", writes=True),
    DashboardAction(
        "complete_step",
        "c",
        "Complete",
        "Complete step",
        "Complete the selected step: gate, evidence, approval or go/no-go (c)",
        writes=True,
    ),  # fmt: skip
    DashboardAction(
        "fail_step", "f", "Fail", "Fail step", "Mark the selected step failed, with a reason (f)", writes=True
    ),
    DashboardAction("skip_step", "k", "Skip", "Skip step", "Skip the selected step, with a reason (k)", writes=True),
    DashboardAction(
        "add_evidence", "e", "Evidence", "Add evidence", "Attach evidence to the selected step (e)", writes=True
    ),
    DashboardAction("add_note", "n", "Note", "Add note", "Write a note in the log (n)", writes=True),
    DashboardAction(
        "decide",
        "d",
        "Decide",
        "Record decision",
        "GO / NO-GO / CONDITIONAL GO / HOLD / ROLLBACK / CONTINUE (d)",
        writes=True,
    ),  # fmt: skip
    DashboardAction(
        "acknowledge", "a", "Ack", "Acknowledge condition", "Acknowledge the firing stop condition (a)", writes=True
    ),
    DashboardAction(
        "why",
        "w",
        "Why?",
        "Why is it red?",
        "The highlighted stop condition's readings, hold, last error and baseline (w)",
    ),
    DashboardAction(
        "set_t0",
        "t",
        "T-0",
        "Set T-0",
        "Set or re-baseline T-0: now, a time (16:30), or from now (-5m) (t)",
        writes=True,
    ),
    DashboardAction(
        "rollback", "R", "Rollback", "Enter rollback", "Switch to the rollback plan, with a reason (R)", writes=True
    ),
    DashboardAction("focus_steps", "1", "Steps", "Focus steps", "Move to the timeline", footer=False),
    DashboardAction(
        "focus_conditions", "2", "Conditions", "Focus stop conditions", "Move to the stop conditions", footer=False
    ),
    DashboardAction(
        "help",
        "question_mark",
        "Help",
        "Help",
        "What each verdict means, every key, what the marks mean (?)",
        key_display="?",
    ),  # fmt: skip
    DashboardAction("quit_app", "q", "Quit", footer=False),
    # Textual's own ctrl+q quits at once; here it asks, as q does, and ends the session in the log.
    DashboardAction("quit_app", "ctrl+q", "Quit", footer=False, priority=True),
    DashboardAction("focus_log", "3", "Log", footer=False),
)

#: The command palette: every action with a name (it offers those that apply now).
COMMANDS: tuple[DashboardAction, ...] = tuple(action for action in ACTIONS if action.title)

#: Actions that write to the log: refused with a notice when the backend is read-only.
WRITE_ACTIONS = frozenset(action.action for action in ACTIONS if action.writes)

#: Keys and what they do that are not the app's own bindings (the widgets' and Textual's), for the help screen.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("space / x", "Tick or untick the highlighted checklist item (in the detail pane)"),
    ("enter", "From the timeline: go to the selected step's checklist"),
    ("escape", "Back to the timeline; in a dialog: cancel"),
    ("tab / shift+tab", "Move between panes"),
    ("1 / 2 / 3", "Jump to steps / stop conditions / log"),
    ("ctrl+p", "Command palette: every action by name"),
)


#: The replay bar's keys, as the app binds them: each runs the bar's own action (``CutoverApp.action_scrub``).
SCRUBBER_BINDINGS: list[Binding] = [
    replace(binding, action=f"scrub({binding.action!r})")
    for binding in ReplayBar.BINDINGS
    if isinstance(binding, Binding)
]
