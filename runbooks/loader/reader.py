"""The runbook as a whole: its top-level keys, each read by the part of the loader that knows it."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from yaml.nodes import Node

from runbooks.errors import RunbookError
from runbooks.loader.checks import ChecksReader
from runbooks.loader.conditions import ConditionsReader
from runbooks.loader.nodes import Fields, join, quoted
from runbooks.loader.steps import StepsReader
from runbooks.model import Runbook

TOP_KEYS = (
    "name",
    "description",
    "t0",
    "timezone",
    "roles",
    "sources",
    "checks",
    "stop_conditions",
    "steps",
    "rollback",
    "escalation",
    "scorecard",
)


def load_runbook(path: str | os.PathLike[str]) -> Runbook:
    """Read and validate the runbook at ``path``.

    Raises:
        RunbookError: the file cannot be read, is not UTF-8, or is not a valid runbook.
    """
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise RunbookError(f"cannot read the runbook: {error.strerror or error}", file=file) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise RunbookError(
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x})",
            file=file,
            line=line,
            column=column,
            hint="save the runbook as UTF-8",
        ) from None
    return RunbookReader(file).runbook(text, hashlib.sha256(data).hexdigest())


def parse_runbook(text: str, file: str = "<runbook>", *, expand_urls: bool = True) -> Runbook:
    """Validate runbook YAML given as text; ``file`` names it in errors.

    Args:
        text: the YAML.
        file: names the runbook in errors.
        expand_urls: False keeps ``${VAR}`` in URLs as written, for reading a
            runbook stored in a session log (follow, replay, report poll
            nothing, and the variables may not be set where they run).

    Raises:
        RunbookError: the text is not a valid runbook.
    """
    sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return RunbookReader(file, expand_urls=expand_urls).runbook(text, sha256)


class RunbookReader(ChecksReader, ConditionsReader, StepsReader):
    """Turns a runbook's YAML into the model."""

    def runbook(self, text: str, sha256: str) -> Runbook:
        top = self.mapping(self.compose(text), "", TOP_KEYS, required=("name",))
        name = self.text(top.value("name"), "name")
        description = self.optional(top, "description", self.text, "")
        t0 = self.optional(top, "t0", self.t0, None)
        timezone = self.optional(top, "timezone", self.timezone, None)
        roles = self.roles(top)
        sources = self.sources(top)
        checks = self.checks(top, sources)
        escalation = self.escalation(top)
        severities = {level.severity for level in escalation}
        conditions = self.conditions(top, checks, roles, severities)
        condition_ids = {c.id for c in conditions}
        steps = self.steps(top, "steps", roles, checks, condition_ids)
        rollback = self.steps(top, "rollback", roles, checks, condition_ids)
        self.unique_ids([*steps, *rollback], "step")
        return Runbook(
            name=name,
            description=description,
            t0=t0,
            timezone=timezone,
            roles=roles,
            sources=sources,
            checks=checks,
            stop_conditions=tuple(conditions),
            steps=tuple(step for step, _, _ in steps),
            rollback=tuple(step for step, _, _ in rollback),
            escalation=tuple(escalation),
            scorecard=self.optional(top, "scorecard", self.scorecard, None),
            path="" if self.file == "<runbook>" else self.file,
            text=text,
            sha256=sha256,
            warnings=tuple(self.warnings),
        )

    def t0(self, node: Node, path: str) -> datetime:
        raw = self.scalar(node, path, "a date and time").value
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.error(
                f"invalid t0 {quoted(raw)}", node, path, "write ISO 8601 with a UTC offset: 2026-12-01T22:00:00+05:30"
            ) from None
        if value.utcoffset() is None:
            raise self.error(
                f"t0 {quoted(raw)} has no UTC offset", node, path, "add one, e.g. 2026-12-01T22:00:00+05:30 or ...Z"
            )
        return value

    def timezone(self, node: Node, path: str) -> str:
        name = self.text(node, path)
        try:
            ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            raise self.error(
                f"unknown time zone {quoted(name)}", node, path, "use an IANA name such as Asia/Kolkata or UTC"
            ) from None
        return name

    def roles(self, top: Fields) -> dict[str, str]:
        node = top.get("roles")
        if node is None:
            return {}
        return {
            key: self.text(value, join("roles", key))
            for key, (_, value) in self.id_mapping(node, "roles", "roles").items()
        }
