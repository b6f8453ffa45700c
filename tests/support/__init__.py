"""Test helpers: real things in temporary directories (git repos, files, the Claude Code binary)."""
