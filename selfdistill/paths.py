"""Where selfdistill keeps its state. Standard library only: used on the hook hot path."""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path


def state_home() -> Path:
    """SELFDISTILL_HOME, else $XDG_DATA_HOME/selfdistill, else ~/.local/share/selfdistill."""
    explicit = os.environ.get("SELFDISTILL_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "selfdistill"


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding .git or .claude; else `start` itself.

    Claude Code's `cwd` may be a subdirectory of the project; state must not split per subfolder.
    """
    start = Path(os.path.abspath(start))
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists() or (candidate / ".claude").is_dir():
            return candidate
    return start


def project_key(root: Path) -> str:
    """A readable, stable directory name for a project: its basename and a checksum of its path."""
    real = os.path.realpath(root)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", os.path.basename(real)).strip("-.")[:40] or "root"
    return f"{slug}-{zlib.crc32(real.encode('utf-8', 'surrogateescape')):08x}"


@dataclass(frozen=True)
class ProjectState:
    """The files selfdistill keeps for one project, all under state_home()/projects/<key>/."""

    project: Path
    root: Path

    @classmethod
    def for_project(cls, project: Path, home: Path | None = None) -> ProjectState:
        project = Path(os.path.abspath(project))
        return cls(project, (home or state_home()) / "projects" / project_key(project))

    @property
    def observations(self) -> Path:
        """Directory of JSONL segments obs-NNNNNN.jsonl, appended under store_lock."""
        return self.root / "observations"

    @property
    def store_lock(self) -> Path:
        return self.root / "observations.lock"

    @property
    def lessons(self) -> Path:
        return self.root / "lessons.json"

    @property
    def lessons_lock(self) -> Path:
        return self.root / "lessons.lock"

    @property
    def runs(self) -> Path:
        """Run manifests, one <run id>.json each."""
        return self.root / "runs"

    @property
    def journal(self) -> Path:
        """Per-run records of what was written back, for rollback."""
        return self.root / "journal"

    @property
    def watermarks(self) -> Path:
        return self.root / "watermarks.json"

    @property
    def run_lock(self) -> Path:
        """Held by the one distillation running for this project."""
        return self.root / "run.lock"

    @property
    def spawn_stamp(self) -> Path:
        """Touched when a Stop hook starts a distiller, for debouncing."""
        return self.root / "spawned.stamp"

    @property
    def install_record(self) -> Path:
        """What `install` changed, so that `uninstall` can restore it exactly."""
        return self.root / "install.json"

    @property
    def meta(self) -> Path:
        """project.json: which project directory this state belongs to."""
        return self.root / "project.json"


def log_file(home: Path | None = None) -> Path:
    """Errors that must never reach the agent are written here instead."""
    return (home or state_home()) / "logs" / "selfdistill.log"
