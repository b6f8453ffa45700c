"""Append-only error log under SELFDISTILL_HOME. Standard library only (hook hot path).

Nothing here may raise: logging a failure must never become a failure of its own.
"""

from __future__ import annotations

import os
import time

from selfdistill.paths import log_file_path

MAX_LOG_BYTES = 1 << 20


def log_error(what: str, detail: str = "") -> None:
    try:
        path = log_file_path()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if os.path.exists(path) and os.stat(path).st_size > MAX_LOG_BYTES:
            os.replace(path, path + ".1")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} pid={os.getpid()} {what}\n"
        if detail:
            line += "".join(f"    {row}\n" for row in detail[-8000:].splitlines())
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except Exception:  # the log is the last resort: there is nowhere left to report to
        pass
