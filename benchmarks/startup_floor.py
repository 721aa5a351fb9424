"""The floor for ``startup``: the least a Textual app draws, started the way ``run`` is.

A Header, Static lines and a Footer: the first frame the benchmark waits for
(the same texts it waits for from ``cutover-tui run``), and nothing else. Its first
frame is Textual's own start in this terminal (import, driver, CSS of the
built-in widgets, compose, mount, the first layout and render); what ``run``
takes above it is ours.

Run as a script (``python benchmarks/startup_floor.py``); it exits on a key
or when the terminal closes.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

#: The texts the benchmark waits for on screen (``startup.FIRST_FRAME``), a line each.
LINES = ("Demo go-live", "Stop conditions", "Final go/no-go")


class FloorApp(App[None]):
    """Header, a line for each text, Footer."""

    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        for line in LINES:
            yield Static(line)
        yield Footer()


if __name__ == "__main__":
    FloorApp().run()
