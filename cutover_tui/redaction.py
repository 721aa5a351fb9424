"""One redaction for every output: the log, the screen, ``check``, the report, stderr.

Runbooks name secrets (``token_env: PROM_TOKEN``, ``Bearer ${API_TOKEN}``,
``env: {PGPASSWORD: "${PGPASSWORD}"}``) and never hold them. Probes never put
a secret in a reading on purpose; this is the second line: whatever is shown
or written has the current value of every such variable replaced with
``${NAME}``, so an error page that quotes a header still cannot leak it.

Example::

    redact = Redactor(secret_env_names(runbook))
    print(redact(reading.detail))
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from runbooks.model import CommandSpec, HttpSpec, PromqlSpec, Runbook, ScrapeSpec

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
#: Shorter values would match everywhere and are not credentials.
MIN_SECRET_LENGTH = 4


def secret_env_names(runbook: Runbook) -> frozenset[str]:
    """Variables whose values are secrets: ``token_env``, ``${VAR}`` in headers and in a command's ``env``."""
    names: set[str] = set()
    templates: list[Mapping[str, Any]] = []
    for source in runbook.sources.values():
        if source.token_env:
            names.add(source.token_env)
        templates.append(source.headers)
    for check in runbook.checks.values():
        spec = check.spec
        if isinstance(spec, (HttpSpec, PromqlSpec, ScrapeSpec)):
            templates.append(spec.headers)
        elif isinstance(spec, CommandSpec):
            templates.append(spec.env)
    for values in templates:
        for value in values.values():
            names.update(_ENV_REFERENCE.findall(str(value)))
    return frozenset(names)


class Redactor:
    """Replaces the current values of the named variables with ``${NAME}``, in text and in JSON-ready values.

    Args:
        names: the secret variables (``secret_env_names``).
        environ: where their values are read (default ``os.environ``, when built).
    """

    def __init__(self, names: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        pairs = [(environ.get(name, ""), name) for name in names]
        # Longest first, so a secret containing another is replaced whole.
        self._pairs = sorted(((v, n) for v, n in pairs if len(v) >= MIN_SECRET_LENGTH), key=lambda p: -len(p[0]))
        # A secret can reach a rendered page escaped, as JSON or HTML would write it.
        self._escaped: list[tuple[str, str]] = []
        if self._pairs:
            import html  # here, not at start-up: a runbook without secrets never escapes one
        for secret, name in self._pairs:
            for form in (json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1], html.escape(secret)):
                if form != secret and (form, name) not in self._escaped:
                    self._escaped.append((form, name))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __call__(self, value: Any) -> Any:
        """``value`` with secrets replaced: strings, and strings inside mappings and lists (keys kept)."""
        if not self._pairs:
            return value
        if isinstance(value, str):
            for secret, name in self._pairs:
                if secret in value:
                    value = value.replace(secret, "${" + name + "}")
            return value
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value

    def rendered(self, text: str) -> str:
        """A rendered document (Markdown, HTML, JSON) with secrets replaced, also where escaped."""
        text = self(text)
        for form, name in self._escaped:
            text = text.replace(form, "${" + name + "}")
        return text


_active = Redactor()


def activate(redactor: Redactor) -> None:
    """Make ``redactor`` the one ``redact_text`` uses: the command line's error messages go through it."""
    global _active
    _active = redactor


def redact_text(text: str) -> str:
    """``text`` through the active redactor (none active: unchanged)."""
    return _active(text)


def redact_rendered(text: str) -> str:
    """A rendered document through the active redactor, also where secrets appear escaped."""
    return _active.rendered(text)
