"""Append-only error log under SELFDISTILL_HOME. Standard library only (hook hot path).

Nothing here may raise: logging a failure must never become a failure of its own.

One log serves every project, so an error that concerns one names it at the end of its first
line, `... [project /path/to/it]`, which `doctor` reads to show a project only its own errors.
Lines written before that, or about no project, end without it.
"""

from __future__ import annotations

import os
import time

from selfdistill.paths import log_file_path

MAX_LOG_BYTES = 1 << 20


def project_tag(project: str | os.PathLike[str]) -> str:
    """The end of the first line of an error about `project` (its root directory)."""
    return f" [project {one_line(os.fspath(project))}]"


def one_line(text: str) -> str:
    """`text` without line breaks: the lines after the first are the error's details."""
    return " ".join(text.splitlines())


def log_error(what: str, detail: str = "", project: str | os.PathLike[str] | None = None) -> None:
    try:
        path = log_file_path()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if os.path.exists(path) and os.stat(path).st_size > MAX_LOG_BYTES:
            os.replace(path, path + ".1")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        where = project_tag(project) if project is not None else ""
        line = f"{stamp} pid={os.getpid()} {one_line(what)}{where}\n"
        if detail:
            line += "".join(f"    {row}\n" for row in detail[-8000:].splitlines())
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except Exception:  # the log is the last resort: there is nowhere left to report to
        pass
