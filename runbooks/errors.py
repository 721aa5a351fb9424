"""The one error a user's runbook can cause."""

from __future__ import annotations


class RunbookError(Exception):
    """A mistake in a runbook, located for a person to fix.

    Printed as ``FILE:LINE:COL: error: MESSAGE (at key.path)`` plus an optional
    hint line; the CLI exits 2 on it.

    Args:
        message: what is wrong, in words.
        file: the runbook's path.
        line: 1-based line, or None when unknown.
        column: 1-based column, or None.
        key_path: dotted path such as ``stop_conditions[0].for``.
        hint: e.g. ``did you mean 'for'?``
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "<runbook>",
        line: int | None = None,
        column: int | None = None,
        key_path: str = "",
        hint: str = "",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.key_path = key_path
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: error: {self.message}"
        if self.key_path:
            text += f" (at {self.key_path})"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text
