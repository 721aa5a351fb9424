"""Load a runbook from YAML into the model, validating everything on the way.

The YAML is composed into nodes (never constructed into arbitrary objects),
so every error can name the file, the 1-based line and column, and the key
path (``stop_conditions[0].for``). Every failure raises ``RunbookError``.

>>> runbook = parse_runbook("name: Go-live\\nsteps:\\n  - {title: Deploy backend, at: T-0}\\n")
>>> runbook.steps[0].id, runbook.steps[0].at
('deploy_backend', 0.0)

The reader is split by what it reads: ``nodes`` (YAML nodes, scalars, errors
with their places), ``credentials`` (URLs, headers, environment), ``matchers``
(Alertmanager label matchers), ``checks`` (sources and checks with their
specs), ``conditions`` (stop conditions and escalation), ``steps`` (steps,
items, dependencies, scorecard) and ``reader`` (the runbook as a whole).
"""

from runbooks.loader.checks import (
    CHECK_KINDS,
    COMMON_CHECK_KEYS,
    DEFAULT_EVERY,
    DEFAULT_TIMEOUT,
    EXPECT_CHOICES,
    HTTP_METHODS,
    KIND_CHECK_KEYS,
    MODE_CHOICES,
    OUTCOME_CHOICES,
    REDUCE_CHOICES,
    SOURCE_KEYS,
    SOURCE_KINDS,
    SUPPRESSED_CHOICES,
)
from runbooks.loader.conditions import (
    BASELINE_KEYS,
    CONDITION_KEYS,
    ESCALATION_KEYS,
    JUDGES,
    MANN_WHITNEY_INSTALL,
    MANN_WHITNEY_PACKAGE,
)
from runbooks.loader.matchers import split_matcher
from runbooks.loader.nodes import FAST_LOADER as _FAST_LOADER  # noqa: F401 - the name the loader had before its split
from runbooks.loader.nodes import slug
from runbooks.loader.reader import TOP_KEYS, load_runbook, parse_runbook
from runbooks.loader.steps import CATEGORY_KEYS, ITEM_KEYS, SCORECARD_KEYS, STEP_KEYS

__all__ = [
    "BASELINE_KEYS",
    "CATEGORY_KEYS",
    "CHECK_KINDS",
    "COMMON_CHECK_KEYS",
    "CONDITION_KEYS",
    "DEFAULT_EVERY",
    "DEFAULT_TIMEOUT",
    "ESCALATION_KEYS",
    "EXPECT_CHOICES",
    "HTTP_METHODS",
    "ITEM_KEYS",
    "JUDGES",
    "KIND_CHECK_KEYS",
    "MANN_WHITNEY_INSTALL",
    "MANN_WHITNEY_PACKAGE",
    "MODE_CHOICES",
    "OUTCOME_CHOICES",
    "REDUCE_CHOICES",
    "SCORECARD_KEYS",
    "SOURCE_KEYS",
    "SOURCE_KINDS",
    "STEP_KEYS",
    "SUPPRESSED_CHOICES",
    "TOP_KEYS",
    "load_runbook",
    "parse_runbook",
    "slug",
    "split_matcher",
]
