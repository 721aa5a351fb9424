"""The runbook language and the probes stay pure: no UI, no database, no session code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("textual", "sqlite3", "sqlite_utils", "cutover_tui")

# Imports every module of the pure packages (new modules are picked up by
# walk_packages) and reports what ended up in sys.modules.
PROBE = """
import importlib, json, pkgutil, sys
imported = []
for package_name in ("runbooks", "checks"):
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for module in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        importlib.import_module(module.name)
        imported.append(module.name)
print(json.dumps({"imported": imported, "modules": sorted(sys.modules)}))
"""


def test_pure_layers_import_no_ui_database_or_session_code() -> None:
    """Importing every module of runbooks/ and checks/ loads neither textual, sqlite3, sqlite_utils nor cutover_tui."""
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"runbooks.loader", "runbooks.grammar", "runbooks.model", "checks.reading", "checks.state"} <= set(report["imported"])
    leaked = sorted(
        name for name in report["modules"] if any(name == top or name.startswith(top + ".") for top in FORBIDDEN)
    )
    assert leaked == [], f"pure layers imported {leaked}"


def test_report_and_store_import_no_textual() -> None:
    """The report, the log and the reducer run headless: importing them loads no Textual."""
    code = "import sys, cutover_tui.report, cutover_tui.store, cutover_tui.reducer; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
