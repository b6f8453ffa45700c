"""Recognizing test runners' output (hand-written samples in each runner's format)."""

from __future__ import annotations

import pytest

from selfdistill.testout import is_test_command, read_test_output

FAILING = {
    "pytest": (
        "tests/test_a.py .F.\n\n=================================== FAILURES ====\n"
        "___ test_b ___\n    assert 1 == 2\nE   assert 1 == 2\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/test_a.py::test_b - assert 1 == 2\n"
        "========================= 1 failed, 2 passed in 0.12s ==========================\n"
    ),
    "unittest": (
        "..F\n======================================================================\n"
        "FAIL: test_mul (tests.test_calc.CalcTest)\n------------------------------------------\n"
        "AssertionError: 5 != 6\n\n----------------------------------------------------------\n"
        "Ran 3 tests in 0.001s\n\nFAILED (failures=1)\n"
    ),
    "jest": (
        "FAIL src/sum.test.js\n  ✕ adds numbers (3 ms)\n\n"
        "Test Suites: 1 failed, 1 total\nTests:       1 failed, 2 passed, 3 total\n"
    ),
    "vitest": (
        " FAIL  src/util.test.ts > parse > handles dates\nAssertionError: expected 1 to be 2\n\n"
        " Test Files  1 failed | 3 passed (4)\n      Tests  1 failed | 20 passed (21)\n"
    ),
    "go": (
        "--- FAIL: TestParse (0.00s)\n    parse_test.go:12: got 1, want 2\nFAIL\n"
        "FAIL\texample.com/app/parse\t0.003s\nFAIL\n"
    ),
    "cargo": (
        "running 2 tests\ntest tests::adds ... ok\ntest tests::subtracts ... FAILED\n\n"
        "failures:\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured\n"
    ),
    "mocha": "  2 passing (10ms)\n  1 failing\n\n  1) parser\n       rejects junk:\n",
    "rspec": "Failures:\n\n  1) Parser parses\n\nFinished in 0.1 seconds\n3 examples, 1 failure\n",
    "npm": (
        "> app@1.0.0 test\n> node test.js\n\nassertion failed\n"
        "npm ERR! Test failed.  See above for more details.\n"
    ),
    "pnpm": " ELIFECYCLE  Test failed. See above for more details.\n",
}

PASSING = {
    "pytest": "..........          [100%]\n===== 10 passed in 0.50s =====\n",
    "unittest": "....\n------------------------------------------\nRan 4 tests in 0.01s\n\nOK\n",
    "jest": "PASS src/a.test.js\nTest Suites: 1 passed, 1 total\nTests:       3 passed, 3 total\n",
    "vitest": " ✓ src/a.test.ts (3)\n\n Test Files  1 passed (1)\n      Tests  3 passed (3)\n",
    "go": "ok  \texample.com/app/parse\t0.004s\n",
    "cargo": "running 2 tests\ntest result: ok. 2 passed; 0 failed; 0 ignored\n",
}


@pytest.mark.parametrize("runner", sorted(FAILING))
def test_each_runner_s_failure_is_recognized(runner):
    run = read_test_output(FAILING[runner])
    assert run is not None
    assert run.runner == runner
    assert run.failed


@pytest.mark.parametrize("runner", sorted(PASSING))
def test_each_runner_s_success_is_recognized_as_passing(runner):
    run = read_test_output(PASSING[runner])
    assert run is not None and run.runner == runner and not run.failed


def test_the_first_failing_test_is_named():
    expected = {"pytest": "tests/test_a.py::test_b", "go": "TestParse", "cargo": "tests::subtracts"}
    for runner, name in expected.items():
        run = read_test_output(FAILING[runner])
        assert run is not None and run.first_failure == name


def test_jest_and_vitest_name_the_whole_failing_test():
    assert read_test_output(FAILING["vitest"]).first_failure == (  # type: ignore[union-attr]
        "src/util.test.ts > parse > handles dates"
    )
    assert read_test_output(FAILING["jest"]).first_failure == "src/sum.test.js"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # `pnpm test | head -20` in watch mode: cut before any summary
        (
            " \u276f test/team.test.ts (17 tests | 17 failed) 91ms\n"
            "   \u00d7 Team > creates a team 38ms\n",
            "Team > creates a team",
        ),
        # `pnpm test --run | grep FAIL`
        (" FAIL  test/api.test.ts [ test/api.test.ts ]\n", "test/api.test.ts"),
        # `... | grep Tests`
        ("      Tests  19 failed | 370 passed (389)\n", None),
        # jest's per-file line, the summary cut off
        ("FAIL src/sum.test.js (2.1 s)\n  ● sums\n", "src/sum.test.js"),
    ],
)
def test_output_cut_before_the_summary_still_shows_the_failure(text, first):
    run = read_test_output(text, failures_only=True)
    assert run is not None and run.failed and run.first_failure == first


@pytest.mark.parametrize(
    "text",
    [
        " WARN  Issues with peer dependencies found\n└─┬ vite 5\n  ✕ unmet peer rollup@4\n",
        "✗ Build failed in 5.93s\n",
        "  \u00d7 No solution found when resolving dependencies\n",
        " ✓ test/a.test.ts (3 tests) 4ms\n Test Files  1 passed (1)\n",
    ],
)
def test_failure_marks_outside_a_test_run_are_not_failing_tests(text):
    run = read_test_output(text, failures_only=True)
    assert run is None


def test_colour_codes_do_not_hide_the_summary():
    coloured = "\x1b[31m\x1b[1m===== 2 failed, 1 passed in 0.1s =====\x1b[0m\n"
    run = read_test_output(coloured)
    assert run is not None and run.failed and run.summary.startswith("=====")


@pytest.mark.parametrize(
    "text",
    [
        "Error: build failed with 3 errors",
        "npm ERR! code ERESOLVE\nnpm ERR! unable to resolve dependency tree",
        "/usr/bin/python3: No module named pytest",
        "FAILED to connect to database",
        "",
    ],
)
def test_other_output_is_not_a_test_run(text):
    assert read_test_output(text) is None


@pytest.mark.parametrize(
    "command",
    [
        "pytest -q",
        "python3 -m pytest tests/",
        "python -m unittest discover -s tests",
        "cd app && npm test",
        "pnpm run test:unit",
        "yarn test --watch=false",
        "go test ./...",
        "cargo test",
        "npx vitest run",
        "bundle exec rspec",
        "make test",
        "pnpm install && pnpm test",
        ".venv/bin/pytest -x",
    ],
)
def test_test_commands_are_recognized(command):
    assert is_test_command(command)


@pytest.mark.parametrize(
    "command",
    [
        "ls tests/",
        "npm run build",
        "git status",
        "cat pytest.ini",
        "pnpm add -D @effect/vitest vitest",
        "uv pip install pytest pytest-cov",
    ],
)
def test_other_commands_are_not_test_commands(command):
    assert not is_test_command(command)
