"""State locations: stable keys, the Path API, and a string core that keeps pathlib off the hook."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfdistill import paths
from selfdistill.errors import UserError
from selfdistill.paths import ProjectState, find_project_root, project_key, state_home


@dataclasses.dataclass(frozen=True)
class Holder:
    """Other modules keep a ProjectState in their own dataclasses (doctor's Setup)."""

    state: ProjectState


def key_as_first_written(root: Path) -> str:
    """project_key as the first release computed it (with a regex): state on disk is found by it."""
    real = os.path.realpath(root)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", os.path.basename(real)).strip("-.")[:40] or "root"
    return f"{slug}-{zlib.crc32(real.encode('utf-8', 'surrogateescape')):08x}"


NAMES = st.text(
    alphabet=st.one_of(st.sampled_from("aZ09._- !é/\\\t~-\u2013"), st.characters(codec="utf-8")),
    min_size=1,
    max_size=60,
).filter(lambda name: "\0" not in name and "/" not in name)


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_project_keys_are_the_same_as_before(name: str) -> None:
    root = Path("/nonexistent-selfdistill-test") / name
    assert project_key(root) == key_as_first_written(root)
    assert project_key(str(root)) == project_key(root)


@given(st.binary(max_size=300))
def test_crc32_is_zlib_s(data: bytes) -> None:
    assert paths.crc32(data) == zlib.crc32(data)


def test_a_project_key_is_readable_and_pinned() -> None:
    root = Path("/srv/My Project (v2)!!")
    assert project_key(root) == f"My-Project-v2-{zlib.crc32(str(root).encode()):08x}"
    assert project_key(Path("/srv/...")).startswith("root-")


def test_state_home_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFDISTILL_HOME", "/x/state")
    assert state_home() == Path("/x/state")
    monkeypatch.delenv("SELFDISTILL_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", "/x/data")
    assert state_home() == Path("/x/data/selfdistill")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert state_home() == Path.home() / ".local" / "share" / "selfdistill"


def test_the_project_root_is_the_nearest_folder_with_git_or_claude(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "a" / "inner"
    (outer / ".git").mkdir(parents=True)
    (inner / "src" / "deep").mkdir(parents=True)
    assert find_project_root(inner / "src" / "deep") == outer
    (inner / ".claude").write_text("a file, not a settings folder")
    assert find_project_root(inner / "src") == outer
    (inner / ".claude").unlink()
    (inner / ".claude").mkdir()
    assert find_project_root(inner / "src" / "deep") == inner
    assert paths.find_root_dir(str(inner / "src")) == str(inner)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    if not any((p / ".git").exists() or (p / ".claude").is_dir() for p in tmp_path.parents):
        assert find_project_root(lonely) == lonely


def test_project_state_is_an_immutable_value(tmp_path: Path) -> None:
    state = ProjectState.for_project(tmp_path / "p", home=tmp_path / "home")
    same = ProjectState.for_project(str(tmp_path / "p" / "sub" / ".."), home=str(tmp_path / "home"))
    assert state == same and hash(state) == hash(same) and len({state, same}) == 1
    assert state != ProjectState.for_project(tmp_path / "q", home=tmp_path / "home")
    assert state.project == tmp_path / "p"
    assert state.root == tmp_path / "home" / "projects" / project_key(tmp_path / "p")
    assert repr(state) == f"ProjectState(project={state.project!r}, root={state.root!r})"
    with pytest.raises(AttributeError):
        state.root_dir = "/elsewhere"
    assert copy.deepcopy(state) == state == pickle.loads(pickle.dumps(state))
    assert dataclasses.asdict(Holder(state)) == {"state": state}


def test_every_state_file_is_a_path_under_the_root(tmp_path: Path) -> None:
    state = ProjectState.for_project(tmp_path / "p", home=tmp_path / "home")
    expected = {
        "observations": "observations",
        "store_lock": "observations.lock",
        "lessons": "lessons.json",
        "lessons_lock": "lessons.lock",
        "runs": "runs",
        "journal": "journal",
        "watermarks": "watermarks.json",
        "run_lock": "run.lock",
        "spawn_stamp": "spawned.stamp",
        "install_record": "install.json",
        "meta": "project.json",
    }
    for name, file_name in expected.items():
        value = getattr(state, name)
        assert isinstance(value, Path) and value == state.root / file_name, name
    assert paths.log_file() == state_home() / "logs" / "selfdistill.log"
    assert paths.log_file(tmp_path) == tmp_path / "logs" / "selfdistill.log"


def test_state_strings_need_no_pathlib() -> None:
    code = (
        "import sys\n"
        "from selfdistill.paths import ProjectState, find_root_dir, STORE_LOCK\n"
        "state = ProjectState.for_project(find_root_dir('.'), home='/tmp/h')\n"
        "assert state.file(STORE_LOCK).startswith('/tmp/h/projects/')\n"
        "print(sorted({'pathlib', 're', 'dataclasses'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_relative_state_home_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFDISTILL_HOME", "relhome")
    with pytest.raises(UserError, match="SELFDISTILL_HOME must be an absolute path, not 'relhome'"):
        state_home()


def test_a_relative_xdg_data_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # The XDG spec: a relative path in XDG_DATA_HOME is invalid and is to be ignored.
    monkeypatch.delenv("SELFDISTILL_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", "relx")
    assert state_home() == Path.home() / ".local" / "share" / "selfdistill"
