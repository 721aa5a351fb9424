"""The sample runbooks, installed with the package as ``cutover_tui.sample_runbooks``."""

from pathlib import Path

#: The folder holding the ``*.yaml`` samples, in a checkout and in an installed package alike.
DIRECTORY = Path(__file__).resolve().parent
