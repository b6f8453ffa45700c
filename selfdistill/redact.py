"""Secret redaction: a secret's value becomes `[REDACTED:kind]`, the text around it stays.

Standard library only (hook hot path). Patterns are compiled once per process at import: a hook
process redacts every record it writes, so the cost is paid exactly once either way.

Two kinds of rules:
- token formats that identify themselves (provider prefixes, JWTs, key blocks): always redacted;
- values in a credential context (`password=...`, `Authorization: Bearer ...`, `user:pass@host`):
  redacted unless the value plainly is code (a call, an attribute, a variable reference, a type).
Git shas, uuids, paths and ordinary identifiers match none of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

MARK = "[REDACTED:{}]"

# Self-identifying token formats: (kind, pattern). Order matters where prefixes overlap
# (Anthropic's `sk-ant-` before OpenAI's `sk-`).
_TOKENS: tuple[tuple[str, str], ...] = (
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    # the tail of a key block whose BEGIN line was cut off (outputs are kept as tails)
    ("private_key", r"[A-Za-z0-9+/=\s]{40,}-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ("anthropic", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai", r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{32,}"),
    (
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
    ),
    ("github", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}"),
    ("gitlab", r"\bgl(?:pat|dt|rt|cbt|ptt|ft|imt|oas|soat|ffct)-[A-Za-z0-9_-]{20,}"),
    (
        "slack",
        r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"
        r"|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}",
    ),
    ("stripe", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}"),
    ("google", r"\bAIza[0-9A-Za-z_-]{35}|\bya29\.[0-9A-Za-z_-]{20,}|\bGOCSPX-[A-Za-z0-9_-]{20,}"),
    ("npm", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi", r"\bpypi-[A-Za-z0-9_-]{50,}"),
    ("huggingface", r"\bhf_[A-Za-z0-9]{34,}\b"),
    ("sendgrid", r"\bSG\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)

_TOKEN_RES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in _TOKENS
)

# scheme://user:password@host: only the password goes.
_URL_PASSWORD = re.compile(
    r"\b([A-Za-z][A-Za-z0-9+.-]{1,20}://[^:/\s@\"'<>]{1,100}:)([^@/\s\"'<>]{1,200})@"
)

# Authorization headers and bare bearer tokens.
_AUTH_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)?\s*)"
    r"([^\s\"',;]{6,})"
)
_BEARER = re.compile(r"\b((?i:bearer|basic)\s+)([A-Za-z0-9._~+/-]{16,}=*)")

# key = value, key: value, "key": "value", --key value. The key decides how suspicious the value is.
_KEY_WORDS = (
    r"[A-Za-z0-9_.-]{0,40}(?:pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|api[_-]?key"
    r"|access[_-]?key|auth|key|salt|signature|cookie|session)[A-Za-z0-9_.-]{0,40}"
)
_ASSIGNMENT_KEY = re.compile("(?i)" + _KEY_WORDS)
_ASSIGNMENT = re.compile(
    r"(?i)((?<![A-Za-z0-9_])-{0,2}" + _KEY_WORDS + r"[\"']?)"
    r"(\s*(?::=|[:=]|\s)\s*)"
    r"([\"'`]?)"
    r"([^\s\"'`,;]{1,400})"
)
_STRONG_KEY = re.compile(
    r"(?i)pass(?:word|wd|phrase)?$|passw|pwd$|secret|token(?!s|i[sz]|count|ize)"
    r"|credential|api[_-]?key|access[_-]?key|auth(?!or)"
)
_NOT_SECRET_KEYS = frozenset({"pwd", "oldpwd", "-p", "--pwd", "passed", "bypass", "keys", "key"})
# values that are code or prose, never a secret
_TYPE_WORDS = frozenset(
    "str string int bool boolean none null nil true false undefined number any optional object "
    "bytes dict list required optional env secret secrets password token".split()
)
_CODE_VALUE = re.compile(
    r"[()\[\]{}<>$%]|^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$|^[./~]"
)
# hashes and uuids are identifiers: a weak key (`session`, `key`) next to one is not a secret
_ID_VALUE = re.compile(r"(?i)^(?:[0-9a-f]{7,64}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$")


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _high_entropy(value: str) -> bool:
    """Looks machine-generated: long, several character classes, little repetition."""
    if len(value) < 16:
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return classes >= 2 and _entropy(value) >= 3.5


def _assignment_verdict(key: str, quote: str, value: str) -> bool:
    bare_key = key.strip("\"'").lower()
    if bare_key in _NOT_SECRET_KEYS or value.lower() in _TYPE_WORDS:
        return False
    if value.lower() == bare_key.lstrip("-") or value.startswith(MARK[:10]):
        return False  # `password=password` passes a variable along; already redacted
    if _CODE_VALUE.search(value):
        return False
    if _STRONG_KEY.search(bare_key):
        return bool(quote) or not value.isdigit() or len(value) >= 6
    return _high_entropy(value) and not _ID_VALUE.match(value)


def redact_field(key: str, value: str) -> str:
    """A string value stored under `key` (e.g. in tool_input): the key is its credential context."""
    if _ASSIGNMENT_KEY.fullmatch(key) and _assignment_verdict(key, "'", value):
        kind = "password" if re.search(r"(?i)pass|pwd", key) else "secret"
        return MARK.format(kind)
    return redact_text(value)


def _redact_assignment(match: re.Match[str]) -> str:
    key, sep, quote, value = match.groups()
    if sep.isspace() and not key.startswith("-"):
        return match.group(0)  # "token expired" is prose; only `--token VALUE` takes a space
    if not _assignment_verdict(key, quote, value):
        return match.group(0)
    kind = "password" if re.search(r"(?i)pass|pwd", key) else "secret"
    return f"{key}{sep}{quote}{MARK.format(kind)}"


def _keep_prefix(kind: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if match.group(2).startswith(MARK[:10]):
            return match.group(0)
        return (
            match.group(1)
            + MARK.format(kind)
            + match.group(0)[len(match.group(1) + match.group(2)) :]
        )

    return replace


def redact_text(text: str) -> str:
    """`text` with every secret value replaced by `[REDACTED:kind]`."""
    if not text:
        return text
    for kind, pattern in _TOKEN_RES:
        text = pattern.sub(MARK.format(kind), text)
    text = _URL_PASSWORD.sub(_keep_prefix("password"), text)
    text = _AUTH_HEADER.sub(_keep_prefix("auth"), text)
    text = _BEARER.sub(_keep_prefix("auth"), text)
    return _ASSIGNMENT.sub(_redact_assignment, text)
