"""The timeline: one row per step, diffed cell by cell."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from cutover_tui.labels import (
    STEP_MARKERS,
    Marker,
    check_marker,
    condition_marker_in,
    format_at,
    format_drift,
    format_wall_time,
    to_zone,
)
from cutover_tui.state import SessionState, StepState, StepStatus
from runbooks.model import Runbook, Step

#: (column key, label, width or None for auto)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "", 1),
    ("at", "T", None),
    ("wall", "Plan", None),
    ("title", "Step", None),
    ("live", "Live", None),
    ("owner", "Owner", None),
    ("drift", "Drift", None),
)


class StepsTable(DataTable[Text]):
    """The runbook's steps with status, planned time, owner, drift and live markers.

    The first column is the status symbol (``STEP_MARKERS``); the current step's
    title is drawn in reverse.

    The live column shows the step's gate checks, then ``│``, then its watched
    stop conditions, each as a marker symbol in its colour.
    """

    DEFAULT_CSS = """
    StepsTable { height: 1fr; min-height: 4; }
    """

    BINDINGS = [Binding("space,x", "app.tick_from_timeline", "Tick item", show=False)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=1)
        self._cells: dict[str, tuple[Text, ...]] = {}
        #: What each row's cells were built from (``row_inputs``): a row whose inputs are the same is not built again.
        self._inputs: dict[str, tuple[object, ...]] = {}
        self._specs: tuple[Runbook, tzinfo | None, dict[str, Step]] | None = None
        self._last_shown: tuple[SessionState, Runbook, datetime, tzinfo | None] | None = None
        self.rows_built = 0
        """How many times a row's cells were built (tests read it: a second that changes no step builds none)."""

    def _ensure_columns(self) -> None:
        if not self.columns:
            for key, label, width in COLUMNS:
                self.add_column(label, key=key, width=width)

    @property
    def selected_step_id(self) -> str | None:
        """The step under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def select_step(self, step_id: str) -> None:
        """Move the cursor to ``step_id``."""
        if step_id in self._cells:
            self.move_cursor(row=self.get_row_index(step_id))

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """A new size fits the titles to the new width in the layout pass itself, so that the frame drawn
        after it shows them so (on resize, a frame later, the first frame showed every title cut to 12 cells)."""
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        if resized and self._last_shown is not None:
            self.show(*self._last_shown)
            # What DataTable does when idle (after that frame): the columns' widths for the new cells.
            if self._updated_cells:
                cells, self._updated_cells = self._updated_cells, set()
                self._update_column_widths(cells)
            if self._require_update_dimensions:
                self._require_update_dimensions = False
                new_rows, self._new_rows = self._new_rows, set()
                self._update_dimensions(new_rows)
        return resized

    def on_resize(self) -> None:
        # keep the selected step in view when the pane shrinks (e.g. a banner appears)
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self) -> None:
        self.move_cursor(row=self.cursor_row)

    def _title_width(self) -> int:
        """What is left for step titles once the other columns are drawn (titles are cut to fit)."""
        others = sum(column.get_render_width(self) for key, column in self.columns.items() if key.value != "title")
        return max(12, self.scrollable_content_region.width - others - 2 * self.cell_padding)

    def show(self, state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None) -> None:
        """Bring rows in line with ``state``: add new steps, remove gone ones, update changed cells.

        A row's cells are built again only when what they are made of changed (``row_inputs``):
        the reducer hands out the same ``StepState`` for a step that did not change, so a second
        that moves no step's drift, status or markers builds no row.
        """
        self._ensure_columns()
        self._last_shown = (state, runbook, now, zone)
        if self._specs is None or self._specs[0] is not runbook or self._specs[1] is not zone:
            self._specs = (runbook, zone, {spec.id: spec for spec in (*runbook.steps, *runbook.rollback)})
            self._inputs.clear()
        specs = self._specs[2]
        title_width = self._title_width()
        today = to_zone(now, zone).date()
        markers: dict[str, Marker] = {}  # each watched condition's marker, once for every row watching it
        wanted: set[str] = set()
        changed: list[tuple[str, tuple[Text, ...]]] = []
        for step in state.steps:
            wanted.add(step.id)
            spec = specs[step.id]
            watched = tuple(
                markers.get(cid) or markers.setdefault(cid, condition_marker_in(state, runbook, cid))
                for cid in spec.watch
            )
            inputs = row_inputs(step, state, today, title_width, watched)
            if self._inputs.get(step.id) != inputs or step.id not in self._cells:
                self._inputs[step.id] = inputs
                self.rows_built += 1
                changed.append(
                    (step.id, row_cells(step, spec, state.current_step == step.id, now, zone, title_width, watched))
                )
        for step_id in [k for k in self._cells if k not in wanted]:
            self.remove_row(step_id)
            del self._cells[step_id]
            self._inputs.pop(step_id, None)
        for step_id, cells in changed:
            old = self._cells.get(step_id)
            if old is None:
                self.add_row(*cells, key=step_id)
            else:
                for (key, _, width), before, after in zip(COLUMNS, old, cells, strict=True):
                    if before == after:
                        continue
                    if width is not None or after.cell_len == before.cell_len:
                        self._replace_cell(step_id, key, after)
                    else:
                        self.update_cell(step_id, key, after, update_width=True)
            self._cells[step_id] = cells

    def _replace_cell(self, row_key: str, column_key: str, value: Text) -> None:
        """``update_cell`` for a cell whose column keeps its width, drawing that row alone again.

        ``update_cell`` makes Textual render every row again (its render caches
        are keyed on a count of the table's updates): an overdue step's drift
        ticking each second redrew the whole table. Here only the changed cell's
        cached renders and its row's (put together from the cells') are dropped,
        and the row's region refreshed: the row's other cells keep their renders.
        """
        self._data[RowKey(row_key)][ColumnKey(column_key)] = value
        for row_cached in [key for key in self._row_render_cache.keys() if key[0] == row_key]:
            self._row_render_cache.discard(row_cached)
        cells = self._cell_render_cache
        for cell_cached in [key for key in cells.keys() if key[0] == row_key and key[1] == column_key]:
            cells.discard(cell_cached)
        row_index = self.get_row_index(row_key)
        self._row_renderable_cache.discard((self._update_count, row_index))
        self._line_cache.clear()  # lines are put together from the rows' cached renders: cheap to redo
        self.refresh_row(row_index)


def row_inputs(
    step: StepState, state: SessionState, today: date, title_width: int, watched: tuple[Marker, ...]
) -> tuple[object, ...]:
    """What a step's row is made of: equal inputs give equal cells (``row_cells``).

    The step's own state (status, planned start, drift, gate), whether it is the
    current step, the width its title is cut to, its watched conditions'
    markers, and the day of ``now`` (a planned time on another day shows its date).
    """
    return (
        step,
        step.id == state.current_step,
        title_width,
        watched,
        today if step.planned_start is not None else None,
    )


def row_cells(
    step: StepState,
    spec: Step,
    current: bool,
    now: datetime,
    zone: tzinfo | None,
    title_width: int,
    watched: tuple[Marker, ...],
) -> tuple[Text, ...]:
    """A row's cells from its inputs (``row_inputs``); ``watched``: the markers of the step's watched conditions."""
    marker = STEP_MARKERS[step.status]
    abandoned = step.status is StepStatus.ABANDONED
    title = Text(step.title, style="bold" if current else "dim" if abandoned else "")
    title.truncate(title_width, overflow="ellipsis")
    if current:
        title.stylize("reverse")
    return (
        Text(marker.symbol, style=marker.style),
        Text(
            format_at(spec.at, rollback=step.rollback_plan),
            style="bold red" if step.rollback_plan else "bold" if current else "dim",
        ),
        Text(format_wall_time(step.planned_start, zone, now), style="dim"),
        title,
        markers_text(step, spec, watched),
        Text(spec.owner or "", style="dim"),
        drift_cell(step),
    )


def markers_text(step: StepState, spec: Step, watched: tuple[Marker, ...]) -> Text:
    """The live cell: the gate checks' markers, ``│`` when there are both, the watched conditions' markers."""
    text = Text()
    for _, status in step.gate:
        marker = check_marker(status)
        text.append(marker.symbol, style=marker.style)
    if spec.gate and spec.watch:
        text.append("│", style="dim")
    for marker in watched:
        text.append(marker.symbol, style=marker.style)
    return text


def drift_cell(step: StepState) -> Text:
    """Actual minus planned start; for a pending step already due, how late it is (bold: it still grows)."""
    if step.drift_seconds is None:
        return Text("")
    if step.status is StepStatus.PENDING:
        return Text(format_drift(step.drift_seconds), style="bold yellow")
    return Text(format_drift(step.drift_seconds), style="yellow" if step.drift_seconds >= 60 else "dim")
