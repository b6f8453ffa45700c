"""Hand-made Claude Code transcripts for the reader and signal tests (no corpus content)."""
