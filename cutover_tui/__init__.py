"""cutover-tui: a terminal dashboard for cutover (go-live) day."""

__version__ = "0.1.0"
