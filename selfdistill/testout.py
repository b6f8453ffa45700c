"""Recognizing what test runners print: which runner, whether tests failed or all passed.

Each runner has a summary line that is stable across its versions (pytest's `== 2 failed ... ==`,
cargo's `test result: FAILED.`...). We look for those lines rather than for words like "error",
which every build log contains. Package-manager wrappers (npm/yarn/pnpm) add their own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class TestRun:
    runner: str
    failed: bool  # the runner reported failing (or erroring) tests
    summary: str  # the line that says so, e.g. "== 1 failed, 3 passed in 0.2s =="
    first_failure: str | None = None  # the first failing test named, if any


# (runner, failure pattern). The first match wins, so the specific runners come first.
FAILURE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pytest", re.compile(r"^=+ .*\b\d+ (?:failed|errors?)\b.*=+\s*$", re.M)),
    ("pytest", re.compile(r"^=+ (?:FAILURES|ERRORS) =+\s*$", re.M)),
    ("unittest", re.compile(r"^FAILED \((?:failures|errors)=\d+.*\)\s*$", re.M)),
    ("cargo", re.compile(r"^test result: FAILED\..*$", re.M)),
    ("go", re.compile(r"^--- FAIL: \S+.*$", re.M)),
    ("go", re.compile(r"^FAIL\s+\S+\s+[\d.]+s\s*$", re.M)),
    ("vitest", re.compile(r"^\s*Test Files\s+\d+ failed.*$", re.M)),
    ("jest", re.compile(r"^Tests:\s+\d+ failed.*$", re.M)),
    ("mocha", re.compile(r"^\s*\d+ failing\s*$", re.M)),
    ("rspec", re.compile(r"^\d+ examples?, [1-9]\d* failures?.*$", re.M)),
    ("phpunit", re.compile(r"^FAILURES!\s*$", re.M)),
    ("bun", re.compile(r"^\s*[1-9]\d* fail\s*$", re.M)),
    ("npm", re.compile(r"^npm (?:ERR!|error) Test failed.*$", re.M)),
    ("pnpm", re.compile(r"ELIFECYCLE\s+Test failed.*$", re.M)),
    # Lines that come before the summary, for output cut short by `| head` or `| grep`.
    ("vitest", re.compile(r"^\s*Tests\s+[1-9]\d* failed.*$", re.M)),
    ("vitest", re.compile(r"^\s*\u276f \S+ \(\d+ tests? \| [1-9]\d* failed\).*$", re.M)),
    ("vitest", re.compile(r"^\s*FAIL {1,2}\S+\.(?:test|spec)\.[cm]?[jt]sx?(?= >| \[ ).*$", re.M)),
    (
        "jest",
        re.compile(r"^\s*FAIL {1,2}\S+\.(?:test|spec)\.[cm]?[jt]sx?(?: \([\d.]+ m?s\))?\s*$", re.M),
    ),
)

PASS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "pytest",
        re.compile(r"^=+ (?:(?!failed|error).)*\b\d+ passed\b(?:(?!failed|error).)*=+\s*$", re.M),
    ),
    ("unittest", re.compile(r"^Ran \d+ tests? in [\d.]+s\s*\n\s*\nOK\b.*$", re.M)),
    ("cargo", re.compile(r"^test result: ok\..*$", re.M)),
    ("go", re.compile(r"^ok\s+\S+\s+(?:[\d.]+s|\(cached\)).*$", re.M)),
    ("vitest", re.compile(r"^\s*Test Files\s+\d+ passed.*$", re.M)),
    ("jest", re.compile(r"^Tests:\s+(?:\d+ skipped, )?\d+ passed, \d+ total.*$", re.M)),
    ("mocha", re.compile(r"^\s*\d+ passing\b.*$", re.M)),
    ("rspec", re.compile(r"^\d+ examples?, 0 failures.*$", re.M)),
    ("phpunit", re.compile(r"^OK \(\d+ tests?.*$", re.M)),
)

# Lines that name a failing test, per runner family.
FIRST_FAILURE = re.compile(
    r"^(?:FAILED (\S+::\S+)"  # pytest short summary
    r"|(?:FAIL|ERROR): (\w+ \([\w.]+\))"  # unittest
    r"|--- FAIL: (\S+)"  # go
    r"|test (\S+) \.\.\. FAILED"  # cargo
    # jest / vitest: "FAIL  src/a.test.ts > parse > handles dates", or a cross and the test's name
    r"|\s*FAIL {1,2}(\S+(?: > [^\n\[]+?)?)(?: \[ [^\n]*\]| \([\d.]+ m?s\))?\s*$"
    r"|\s*[\u00d7✕] ([^\n]+?)(?: \(?[\d.]+ ?m?s\)?)?\s*$)",
    re.M,
)

TEST_COMMAND = re.compile(
    r"(?:^|[\s;&|(/])(?:pytest|py\.test|unittest|nose2?|tox|nox|jest|vitest|mocha|rspec"
    r"|phpunit|ctest|(?:go|cargo|bun|deno|dotnet|mix|swift|gradle|mvn|flutter)\s+test"
    r"|(?:npm|yarn|pnpm|bun)\s+(?:run\s+)?test(?::\S*)?"
    r"|make\s+(?:test|check)\w*|manage\.py\s+test|rake\s+(?:test|spec))(?=$|[\s;&|)])"
)

# `pnpm add -D vitest` installs a runner; `pnpm install && pnpm test` still runs the tests.
INSTALLS = re.compile(
    r"^\s*(?:(?:npm|yarn|pnpm|bun|uv|poetry|pip3?|uv\s+pip|cargo|go)\s+(?:add|install|i|get"
    r"|remove|rm|uninstall)|pipx\s+install)\b"
)
COMMAND_SEPARATOR = re.compile(r"&&|\|\|?|;|\n")

# Every pattern above needs one of these words; looking for them first is much cheaper.
FAIL_WORDS = ("fail", "FAIL", "ERRORS")
QUICK_WORDS = ("pass", "fail", "FAIL", "ERRORS", "Ran ", "test result", "ok ", "OK (", "example")


def clean(text: str) -> str:
    """Text without colour codes and carriage-return progress lines."""
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def is_test_command(command: str) -> bool:
    if not TEST_COMMAND.search(command):
        return False
    parts = COMMAND_SEPARATOR.split(command)
    return any(TEST_COMMAND.search(part) and not INSTALLS.match(part) for part in parts)


def read_test_output(text: str, failures_only: bool = False) -> TestRun | None:
    """The test run this output reports, or None when it is not a runner's output.

    `failures_only`: report only failing runs (cheaper: most output never says "fail").
    """
    # Most tool output is not a test run: rule it out with plain substring checks first.
    words = FAIL_WORDS if failures_only else QUICK_WORDS
    if not any(word in text for word in words):
        return None
    plain = clean(text) if "\x1b" in text or "\r" in text else text
    for runner, pattern in FAILURE_PATTERNS:
        found = pattern.search(plain)
        if found:
            return TestRun(runner, True, found.group(0).strip(), _first_failure(plain))
    if failures_only:
        return None
    for runner, pattern in PASS_PATTERNS:
        found = pattern.search(plain)
        if found:
            return TestRun(runner, False, found.group(0).strip().splitlines()[-1])
    return None


def _first_failure(text: str) -> str | None:
    found = FIRST_FAILURE.search(text)
    if not found:
        return None
    return next((group for group in found.groups() if group), None)
