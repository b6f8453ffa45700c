"""selfdistill: makes a coding agent learn from its own Claude Code sessions, without labels."""

__version__ = "0.1.0"
