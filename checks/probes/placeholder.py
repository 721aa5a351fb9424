"""The placeholder probe: a check that no data source backs yet.

``cutover-tui import`` binds each stop condition it reads from prose
("error rate > 5% for 5 minutes") to a placeholder check naming what to
measure. Polling it reads nothing: the outcome is ``nodata`` with the detail
``not wired``, marked final so that no ``on_nodata`` turns it into a pass or a
breach. A condition on it therefore shows ``unknown — not wired``, never ok.
"""

from __future__ import annotations

from checks.probes.common import Observation
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.model import Check, PlaceholderSpec

#: The detail every placeholder reading carries.
NOT_WIRED = "not wired"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """No data, and nothing in the runbook may say otherwise."""
    what = check.spec.what if isinstance(check.spec, PlaceholderSpec) else ""
    return Observation(Outcome.NODATA, detail=NOT_WIRED, extra={"placeholder": what}, final=True)
