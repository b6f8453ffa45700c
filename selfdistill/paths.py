"""Where selfdistill keeps its state. Standard library only: used on the hook hot path.

The hook runs on every tool call, and `pathlib` (which pulls in `re`, `fnmatch` and
`urllib.parse`) or `dataclasses` (which pulls in `inspect`) would cost it milliseconds each time.
So the core here works on `os.path` strings (the `*_dir` functions and attributes, which the hook
and the store use), and the `Path` API that the rest of the package uses is built on top of it,
importing pathlib only when a Path is asked for.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # importing typing costs milliseconds on every hook run
if TYPE_CHECKING:
    from pathlib import Path

# Characters kept as they are in a project key's readable part; any run of others becomes "-".
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")

# File names inside a project's state directory that the hot path reaches by string.
OBSERVATIONS = "observations"
STORE_LOCK = "observations.lock"
RUN_LOCK = "run.lock"
SPAWN_STAMP = "spawned.stamp"
META = "project.json"


def _path(text: str) -> Path:
    from pathlib import Path  # only callers that want a Path pay for pathlib

    return Path(text)


def state_home_dir() -> str:
    """SELFDISTILL_HOME, else $XDG_DATA_HOME/selfdistill, else ~/.local/share/selfdistill.

    A relative SELFDISTILL_HOME is refused: hooks run in the session's folder, the git hook at the
    top of the repository and commands wherever the user is, so it would name a different store
    for each (and put one inside the project). Commands say so; hooks record nothing, since their
    catch-all has no log left to write to.
    """
    explicit = os.environ.get("SELFDISTILL_HOME")
    if explicit:
        if not os.path.isabs(explicit):
            from selfdistill.errors import UserError  # only then: the hook imports nothing more

            raise UserError(
                f"SELFDISTILL_HOME must be an absolute path, not '{explicit}' "
                "(hooks and commands run in different folders)"
            )
        return explicit
    xdg = os.environ.get("XDG_DATA_HOME")
    # The XDG spec has a relative XDG_DATA_HOME ignored (it is not set for selfdistill alone, so
    # it is not refused like SELFDISTILL_HOME): the default then stands, the same in every folder,
    # as in install.sh and hooks/run-selfdistill.
    if not (xdg and os.path.isabs(xdg)):
        xdg = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(xdg, "selfdistill")


def state_home() -> Path:
    """state_home_dir() as a Path."""
    return _path(state_home_dir())


def find_root_dir(start: str) -> str:
    """The nearest directory at or above `start` holding .git or .claude; else `start` itself.

    Claude Code's `cwd` may be a subdirectory of the project; state must not split per subfolder.
    """
    start = os.path.abspath(start)
    candidate = start
    while True:
        git, claude = os.path.join(candidate, ".git"), os.path.join(candidate, ".claude")
        if os.path.exists(git) or os.path.isdir(claude):
            return candidate
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return start
        candidate = parent


def find_project_root(start: Path | str) -> Path:
    """find_root_dir() for Path callers."""
    return _path(find_root_dir(os.fspath(start)))


def _slug(name: str) -> str:
    """`name` with every run of characters outside _KEY_CHARS turned into one "-"."""
    kept: list[str] = []
    replacing = False
    for char in name:
        if char in _KEY_CHARS:
            kept.append(char)
            replacing = False
        elif not replacing:
            kept.append("-")
            replacing = True
    return "".join(kept)


def project_key(root: Path | str) -> str:
    """A readable, stable directory name for a project: its basename and a checksum of its path."""
    real = os.path.realpath(root)
    slug = _slug(os.path.basename(real)).strip("-.")[:40] or "root"
    return f"{slug}-{crc32(real.encode('utf-8', 'surrogateescape')):08x}"


def crc32(data: bytes) -> int:
    """zlib.crc32(data), computed here: for a path it takes microseconds, while importing zlib
    (a shared library) costs the hook a fifth of a millisecond on every tool call."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class ProjectState:
    """The files selfdistill keeps for one project, all under state_home()/projects/<key>/.

    Immutable. `project_dir` and `root_dir` are the strings the hot path works with; `project`,
    `root` and the named files are the same places as Paths.
    """

    __slots__ = ("project_dir", "root_dir")
    project_dir: str
    root_dir: str

    def __init__(self, project: Path | str, root: Path | str) -> None:
        object.__setattr__(self, "project_dir", os.fspath(project))
        object.__setattr__(self, "root_dir", os.fspath(root))

    @classmethod
    def for_project(cls, project: Path | str, home: Path | str | None = None) -> ProjectState:
        project_dir = os.path.abspath(project)
        base = os.fspath(home) if home is not None else state_home_dir()
        return cls(project_dir, os.path.join(base, "projects", project_key(project_dir)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ProjectState is immutable: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ProjectState is immutable: cannot delete {name}")

    def __reduce__(self) -> tuple[type[ProjectState], tuple[str, str]]:
        """For copy and pickle, which would otherwise set the slots one by one."""
        return ProjectState, (self.project_dir, self.root_dir)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectState):
            return NotImplemented
        return (self.project_dir, self.root_dir) == (other.project_dir, other.root_dir)

    def __hash__(self) -> int:
        return hash((self.project_dir, self.root_dir))

    def __repr__(self) -> str:
        return f"ProjectState(project={self.project!r}, root={self.root!r})"

    def file(self, name: str) -> str:
        """The path of `name` inside the project's state directory, as a string."""
        return os.path.join(self.root_dir, name)

    @property
    def project(self) -> Path:
        return _path(self.project_dir)

    @property
    def root(self) -> Path:
        return _path(self.root_dir)

    @property
    def observations(self) -> Path:
        """Directory of JSONL segments obs-NNNNNN.jsonl, appended under store_lock."""
        return _path(self.file(OBSERVATIONS))

    @property
    def store_lock(self) -> Path:
        return _path(self.file(STORE_LOCK))

    @property
    def lessons(self) -> Path:
        return _path(self.file("lessons.json"))

    @property
    def lessons_lock(self) -> Path:
        return _path(self.file("lessons.lock"))

    @property
    def runs(self) -> Path:
        """Run manifests, one <run id>.json each."""
        return _path(self.file("runs"))

    @property
    def journal(self) -> Path:
        """Per-run records of what was written back, for rollback."""
        return _path(self.file("journal"))

    @property
    def watermarks(self) -> Path:
        return _path(self.file("watermarks.json"))

    @property
    def run_lock(self) -> Path:
        """Held by the one distillation running for this project."""
        return _path(self.file(RUN_LOCK))

    @property
    def spawn_stamp(self) -> Path:
        """Touched when a Stop hook starts a distiller, for debouncing."""
        return _path(self.file(SPAWN_STAMP))

    @property
    def install_record(self) -> Path:
        """What `install` changed, so that `uninstall` can restore it exactly."""
        return _path(self.file("install.json"))

    @property
    def meta(self) -> Path:
        """project.json: which project directory this state belongs to."""
        return _path(self.file(META))


def log_file_path(home: str | None = None) -> str:
    """Errors that must never reach the agent are written here instead."""
    return os.path.join(home or state_home_dir(), "logs", "selfdistill.log")


def log_file(home: Path | None = None) -> Path:
    """log_file_path() as a Path."""
    return _path(log_file_path(os.fspath(home) if home is not None else None))
