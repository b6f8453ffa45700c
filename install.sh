#!/bin/sh
# install.sh [PROJECT_DIR]: install selfdistill into a virtual environment of its own and register
# its hooks in PROJECT_DIR (default: the current directory). Safe to run again: it upgrades in place.
#
# Everything lands under SELFDISTILL_HOME (default $XDG_DATA_HOME/selfdistill when that is an
# absolute path, else ~/.local/share/selfdistill), pip's cache included; the only files written
# elsewhere are the project's hook registrations (.claude/settings.json) and its git post-commit hook.
# PYTHON=/path/to/python3 chooses the interpreter (3.10 or newer).
set -eu

fail() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

unset CDPATH  # else `cd` prints where it went, and that would end up in the paths below
source_dir=$(cd -- "$(dirname -- "$0")" && pwd)
project=${1:-.}
[ -d "$project" ] || fail "no such project directory: $project"
case ${SELFDISTILL_HOME:-/} in
/*) ;;
*) fail "SELFDISTILL_HOME must be an absolute path, not '$SELFDISTILL_HOME' (hooks and commands run in different folders)" ;;
esac
project=$(cd -- "$project" && pwd)

# The user's own Python set-up must neither leak into our environment nor be changed by it.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP VIRTUAL_ENV PIP_USER PIP_TARGET PIP_PREFIX

find_python() {
    if [ -n "${PYTHON:-}" ]; then
        command -v "$PYTHON" || fail "PYTHON=$PYTHON is not a command"
        return
    fi
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return
        fi
    done
    fail "Python 3.10 or newer is needed and no python3 was found on PATH; install it (or set PYTHON=/path/to/python3) and run this again"
}

python=$(find_python)
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || {
    found=$("$python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo "unknown")
    fail "selfdistill needs Python 3.10 or newer; $python is version $found. Install a newer Python (or set PYTHON=/path/to/python3) and run this again"
}

# A relative XDG_DATA_HOME is ignored, as the XDG spec says (and as selfdistill itself does).
data_home=${XDG_DATA_HOME:-}
case $data_home in
/*) ;;
*) data_home=$HOME/.local/share ;;
esac
home=${SELFDISTILL_HOME:-$data_home/selfdistill}
venv=$home/venv
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$home/cache/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Reuse the environment when it still works (a re-run upgrades in place); rebuild it when its
# interpreter is gone or too old, e.g. after the system Python was replaced.
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    echo "Creating the selfdistill environment in $venv"
    mkdir -p "$home"
    "$python" -m venv --clear "$venv" ||
        fail "could not create a virtual environment with $python (on Debian/Ubuntu: apt install python3-venv)"
fi

echo "Installing selfdistill from $source_dir"
"$venv/bin/python" -m pip install --quiet --upgrade "$source_dir" ||
    fail "pip could not install selfdistill into $venv (see the messages above)"

# When this fails (selfdistill said why above), the environment is ready: name the command to
# run again, since selfdistill is not on the user's PATH.
"$venv/bin/selfdistill" install --project "$project" ||
    fail "selfdistill is in $venv, but its hooks are not registered; after the fix above, run: $venv/bin/selfdistill install --project \"$project\""

echo
echo "selfdistill is installed: $venv/bin/selfdistill"
echo "Your PATH was not changed; to type just 'selfdistill', add $venv/bin to PATH."
echo "The MCP server ('selfdistill mcp') needs the MCP SDK: $venv/bin/python -m pip install 'mcp>=2'"
