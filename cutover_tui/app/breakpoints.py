"""The screen's breakpoint classes (``-narrow``/``-wide``, ``-short``/``-tall``) for a terminal size.

Textual sets them when the screen first resizes, after its widgets were styled,
so that every widget is styled a second time before the first frame; the
dashboard sets them as it composes, from the terminal's size, and the resize
then finds nothing to change.
"""

from __future__ import annotations

from typing import Any

from textual.app import App


def breakpoint_classes(app: App[Any]) -> dict[str, bool]:
    """Each of ``app``'s breakpoint classes at its terminal's size: True for the one that applies in each
    dimension (as Textual decides it on resize), else False."""
    horizontal, vertical = app.HORIZONTAL_BREAKPOINTS or [], app.VERTICAL_BREAKPOINTS or []
    classes = {name: False for _, name in horizontal + vertical}
    for dimension, breakpoints in ((app.size.width, horizontal), (app.size.height, vertical)):
        for at, name in sorted(breakpoints, reverse=True):
            if dimension >= at:
                classes[name] = True
                break
    return classes
