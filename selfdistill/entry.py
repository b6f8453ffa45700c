"""Console entry point. `selfdistill hook` runs on every tool call, so it must not pay for click,
jsonschema or anthropic: it is dispatched here before anything heavy is imported.

This file is also the hooks' launcher: `<python> <...>/selfdistill/entry.py hook EVENT` runs the
same thing as the `selfdistill` console script without its wrapper, which does `import re` (about
half a bare interpreter start) before our code runs. See bench/hook_latency.py.
"""

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["hook"] and "-h" not in argv and "--help" not in argv:
        from selfdistill.hook import main as hook_main

        sys.exit(hook_main(argv[1:]))
    from selfdistill.cli import main as cli_main

    cli_main()


def _unshadow() -> None:
    """Run as a file, Python puts this folder first on sys.path, where our modules would shadow
    any standard module of the same name: take it off before anything else is imported."""
    import os  # already loaded by the interpreter's start-up: free

    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        del sys.path[0]


if __name__ == "__main__":
    _unshadow()
    main()
