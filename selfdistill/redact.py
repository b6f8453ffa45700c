"""Secret redaction: a secret's value becomes `[REDACTED:kind]`, the text around it stays.

Standard library only (hook hot path). Patterns are kept as strings and run only when a cheap
literal check says they could match: most texts match none, and then a hook process does not even
import `re` (milliseconds on every tool call). When they run, re's own cache compiles them.

Two kinds of rules:
- token formats that identify themselves (provider prefixes, JWTs, key blocks): always redacted;
- values in a credential context (`password=...`, `Authorization: Bearer ...`, `user:pass@host`):
  redacted unless the value plainly is code (a call, an attribute, a variable reference, a type).
Git shas, uuids, paths and ordinary identifiers match none of them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds to import: only the type checker reads it
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

MARK = "[REDACTED:{}]"

_GITLAB_KINDS = ("pat", "dt", "rt", "cbt", "ptt", "ft", "imt", "oas", "soat", "ffct")
# Self-identifying token formats: (kind, hints, pattern). A pattern runs (and is compiled, by re's
# own cache) only when one of its literal hints occurs in the text: most texts hold none, and a
# hook process should not pay for compiling patterns it never needs. Order matters where prefixes
# overlap (Anthropic's `sk-ant-` before OpenAI's `sk-`).
_TOKENS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "private_key",
        ("PRIVATE KEY",),
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    ("anthropic", ("sk-ant-",), r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    (
        "openai",
        ("sk-",),
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{32,}",
    ),
    (
        "aws_access_key",
        ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA"),
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
    ),
    (
        "github",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}",
    ),
    (
        "gitlab",
        tuple(f"gl{kind}-" for kind in _GITLAB_KINDS),
        r"\bgl(?:pat|dt|rt|cbt|ptt|ft|imt|oas|soat|ffct)-[A-Za-z0-9_-]{20,}",
    ),
    (
        "slack",
        ("xox", "xapp-", "hooks.slack.com"),
        r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"
        r"|https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}",
    ),
    (
        "stripe",
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}",
    ),
    (
        "google",
        ("AIza", "ya29.", "GOCSPX-"),
        r"\bAIza[0-9A-Za-z_-]{35}|\bya29\.[0-9A-Za-z_-]{20,}|\bGOCSPX-[A-Za-z0-9_-]{20,}",
    ),
    ("npm", ("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi", ("pypi-",), r"\bpypi-[A-Za-z0-9_-]{50,}"),
    ("huggingface", ("hf_",), r"\bhf_[A-Za-z0-9]{34,}\b"),
    ("sendgrid", ("SG.",), r"\bSG\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),
    ("jwt", ("eyJ",), r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)

# The tail of a key block whose BEGIN line was cut off (outputs are kept as tails). Found by its
# END line, then extended backwards over whole base64 lines by hand (a regex doing that would be
# quadratic).
_KEY_END = r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_KEY_BODY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

# scheme://user:password@host: only the password goes.
_URL_PASSWORD = (
    r"\b([A-Za-z][A-Za-z0-9+.-]{1,20}://[^:/\s@\"'<>\[\]]{0,100}:)([^@/\s\"'<>]{1,200})@"
)

# Authorization headers and bare bearer tokens.
_AUTH_HEADER = (
    r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)?\s*)"
    r"([^\s\"',;]{6,})"
)
_BEARER = r"\b((?i:bearer|basic)\s+)([A-Za-z0-9._~+/-]{16,}=*)"

# key = value, key: value, "key": "value", --key value. The key decides how suspicious the value is.
_BEARER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~+/-")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KEY_HINTS = (
    "pass", "pwd", "secret", "token", "credential", "key", "auth", "salt", "signature", "cookie",
    "session",
)  # fmt: skip
_KEY_WORDS = (
    r"[A-Za-z0-9_.-]{0,40}(?:pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|api[_-]?key"
    r"|access[_-]?key|auth|key|salt|signature|cookie|session)[A-Za-z0-9_.-]{0,40}"
)
_ASSIGNMENT = (
    r"(?i)((?<![A-Za-z0-9_./\\-])" + _KEY_WORDS + r"[\"']?)"
    r"([^\S\r\n]*(?::=|[:=]|[^\S\r\n])[^\S\r\n]*)"
    r"([\"'`]?)"
    r"([^\s\"'`,;:=][^\s\"'`,;]{0,400})"
)
_PROSE_PASSWORD = r"(?i)(\bpass(?:word|wd|phrase)\s+(?:is|was)\s+)(\S{8,})"
_MYSQL_PASSWORD = r"(\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n|;&]*?\s-p)([^\s\"']{3,})"
_STRONG_KEY = (
    r"(?i)pass(?:word|wd|phrase)?$|passw|pwd$|secret|token(?!s|i[sz]|count|ize)"
    r"|credential|api[_-]?key|access[_-]?key|auth(?!or)"
)
_NOT_SECRET_KEYS = frozenset({"pwd", "oldpwd", "-p", "--pwd", "passed", "bypass", "keys", "key"})
# values that are code or prose, never a secret
_TYPE_WORDS = frozenset(
    [
        "str",
        "string",
        "int",
        "bool",
        "boolean",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "number",
        "any",
        "optional",
        "object",
        "bytes",
        "dict",
        "list",
        "required",
        "env",
        "secret",
        "secrets",
        "password",
        "token",
        "bearer",
        "basic",
    ]
)
_CODE_VALUE = r"[()\[\]{}<>$%]|^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$|^[./~]"
# `auth.py: 3 errors` names a file, not a credential
_FILE_NAME = (
    r"\.(?:py|pyi|js|jsx|ts|tsx|rb|go|rs|java|kt|c|h|cpp|cs|php|json|ya?ml|toml|md|txt|sh|cfg|ini)$"
)
# hashes and uuids are identifiers: a weak key (`session`, `key`) next to one is not a secret
_ID_VALUE = r"(?i)^(?:[0-9a-f]{7,64}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$"


def _entropy(value: str) -> float:
    import math  # only for values that already look like a credential

    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _high_entropy(value: str) -> bool:
    """Looks machine-generated: long, several character classes, little repetition."""
    if len(value) < 16:
        return False
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    return lower + upper + digit >= 2 and _entropy(value) >= 3.5


def _kind(key: str) -> str:
    import re

    return "password" if re.search(r"(?i)pass|pwd", key) else "secret"


def _assignment_verdict(key: str, quote: str, value: str) -> bool:
    import re

    bare_key = key.strip("\"'").lower()
    if bare_key in _NOT_SECRET_KEYS or value.lower() in _TYPE_WORDS:
        return False
    if value.lower() in (bare_key.lstrip("-"), bare_key.rsplit(".", 1)[-1]) or value.startswith(
        MARK[:10]
    ):
        return False  # `password=password` passes a variable along; already redacted
    if re.search(_CODE_VALUE, value) or re.search(_FILE_NAME, bare_key):
        return False
    if re.search(_STRONG_KEY, bare_key):
        return bool(quote) or not value.isdigit() or len(value) >= 6
    return _high_entropy(value) and not re.match(_ID_VALUE, value)


def redact_field(key: str, value: str) -> str:
    """A string value stored under `key` (e.g. in tool_input): the key is its credential context."""
    lowered = key.lower()
    if any(hint in lowered for hint in _KEY_HINTS) and _assignment_verdict(key, "'", value):
        return MARK.format(_kind(key))
    return redact_text(value)


def _made_up(key: str, value: str) -> bool:
    """`password Xy7!...` (netrc, prose): a password key and a value no word looks like: long,
    mixing at least three of lower case, upper case, digits and symbols."""
    import re

    if not re.search(r"(?i)pass(?:word|wd|phrase)?$|pwd$", key.strip("\"'")):
        return False
    classes = [any(c.islower() for c in value), any(c.isupper() for c in value)]
    classes += [any(c.isdigit() for c in value), any(not c.isalnum() for c in value)]
    return len(value) >= 8 and sum(classes) >= 3


def _redact_assignment(match: re.Match[str]) -> str:
    key, sep, quote, value = match.groups()
    if sep.isspace() and not key.startswith("-") and not _made_up(key, value):
        return match.group(0)  # "token expired" is prose; only `--token VALUE` takes a space
    if not _assignment_verdict(key, quote, value):
        return match.group(0)
    return f"{key}{sep}{quote}{MARK.format(_kind(key))}"


def _prose_password(match: re.Match[str]) -> str:
    if not _made_up("password", match.group(2)):
        return match.group(0)
    return match.group(1) + MARK.format("password")


def _keep_prefix(kind: str) -> Callable[[re.Match[str]], str]:
    """Replace group 2 only: the scheme, user or header name in group 1 stays readable."""

    def replace(match: re.Match[str]) -> str:
        if match.group(2).startswith(MARK[:10]):
            return match.group(0)
        rest = match.group(0)[len(match.group(1)) + len(match.group(2)) :]
        return match.group(1) + MARK.format(kind) + rest

    return replace


def _redact_orphan_key_ends(text: str) -> str:
    import re

    pieces: list[str] = []
    done = 0
    for match in re.finditer(_KEY_END, text):
        lines = text[done : match.start()].split("\n")
        while len(lines) > 1 and set(lines[-1].strip()) <= _KEY_BODY:
            lines.pop()  # whole lines of base64 (or blank) above the END line are key body
        kept = "\n".join(lines)
        if set(lines[-1].strip()) <= _KEY_BODY:
            kept = ""  # the key body reaches back to where the text (or the last key) starts
        else:
            kept += "\n"
        pieces += [kept, MARK.format("private_key")]
        done = match.end()
    return "".join([*pieces, text[done:]]) if pieces else text


def _is_key_char(char: str) -> bool:
    """Could be part of a key as _ASSIGNMENT reads it. Over-inclusive beyond ASCII: a non-space
    character there might case-fold into the key's class, and saying yes only costs a regex run."""
    return char in _KEY_CHARS or (char > "\x7f" and not char.isspace())


def _assignment_after(lowered: str, at: int) -> bool:
    """Whether a key holding the hint at `at` could be followed by a separator _ASSIGNMENT redacts.

    The key runs to the end of its key characters; then an optional quote, spaces, and `:` or `=`.
    Spaces alone separate only `--flag value`, so then the key must hold a `-` before the hint.
    """
    end, size = at, len(lowered)
    while end < size and _is_key_char(lowered[end]):
        end += 1
    if end < size and lowered[end] in "\"'":
        end += 1
    after = end
    while after < size and lowered[after].isspace():
        after += 1
    if after < size and lowered[after] in ":=":
        return True
    if after == end:
        return False
    start = at
    while start > 0 and _is_key_char(lowered[start - 1]):
        start -= 1
    return "-" in lowered[start:at]


def _may_assign(lowered: str) -> bool:
    """A cheap necessary condition for _ASSIGNMENT to redact anything in `lowered`."""
    for hint in _KEY_HINTS:
        at = lowered.find(hint)
        while at >= 0:
            if _assignment_after(lowered, at):
                return True
            at = lowered.find(hint, at + 1)
    return False


def _skip(text: str, at: int, allowed: Callable[[str], bool], most: int = 1 << 30) -> int:
    """The index after the run of at most `most` characters from `at` that `allowed` accepts."""
    end, stop = at, min(len(text), at + most)
    while end < stop and allowed(text[end]):
        end += 1
    return end


def _may_bear(lowered: str) -> bool:
    """A cheap necessary condition for _BEARER: `bearer`/`basic`, spaces, 16 token characters."""
    for word in ("bearer", "basic"):
        at = lowered.find(word)
        while at >= 0:
            value = _skip(lowered, at + len(word), str.isspace)
            if (
                value > at + len(word)
                and _skip(lowered, value, _BEARER_CHARS.__contains__, 16) == value + 16
            ):
                return True
            at = lowered.find(word, at + 1)
    return False


def _may_have_password(text: str) -> bool:
    """A cheap necessary condition for _URL_PASSWORD: `://user:password@`."""
    at = text.find("://")
    while at >= 0:
        user_end = _skip(text, at + 3, _user_char, 100)
        if user_end < len(text) and text[user_end] == ":":
            end = _skip(text, user_end + 1, _password_char, 200)
            if end > user_end + 1 and end < len(text) and text[end] == "@":
                return True
        at = text.find("://", at + 1)
    return False


def _user_char(char: str) -> bool:
    return char not in ":/@\"'<>[]" and not char.isspace()


def _password_char(char: str) -> bool:
    return char not in "@/\"'<>" and not char.isspace()


def _may_authorize(lowered: str) -> bool:
    """A cheap necessary condition for _AUTH_HEADER: `authorization`, a quote, spaces, `:`/`=`."""
    at = lowered.find("authorization")
    while at >= 0:
        end = at + len("authorization")
        if end < len(lowered) and lowered[end] in "\"'":
            end += 1
        end = _skip(lowered, end, str.isspace)
        if end < len(lowered) and lowered[end] in ":=":
            return True
        at = lowered.find("authorization", at + 1)
    return False


def redact_text(text: str) -> str:
    """`text` with every secret value replaced by `[REDACTED:kind]`."""
    if not text:
        return text
    for kind, hints, pattern in _TOKENS:
        if any(hint in text for hint in hints):
            import re

            text = re.sub(pattern, MARK.format(kind), text)
    if "PRIVATE KEY" in text:
        text = _redact_orphan_key_ends(text)
    if "://" in text and _may_have_password(text):
        import re

        text = re.sub(_URL_PASSWORD, _keep_prefix("password"), text)
    lowered = text.lower()
    if "authorization" in lowered and _may_authorize(lowered):
        import re

        text = re.sub(_AUTH_HEADER, _keep_prefix("auth"), text)
    if ("bearer" in lowered or "basic" in lowered) and _may_bear(lowered):
        import re

        text = re.sub(_BEARER, _keep_prefix("auth"), text)
    if "pass" in lowered and (" is " in lowered or " was " in lowered):
        import re

        text = re.sub(_PROSE_PASSWORD, _prose_password, text)
    if " -p" in text and ("mysql" in lowered or "mariadb" in lowered):
        import re

        text = re.sub(_MYSQL_PASSWORD, _keep_prefix("password"), text)
    # A password key followed by blanks alone (netrc, prose) is judged by the value's shape.
    if _may_assign(lowered) or "pass" in lowered or "pwd" in lowered:
        import re

        text = re.sub(_ASSIGNMENT, _redact_assignment, text)
    return text


PRECUT_FACTOR = 4  # a long text is cut to this many times the wanted length before redaction


def clip(text: str | None, cap: int) -> str:
    """Redacted, whitespace-collapsed, at most `cap` characters.

    Redaction runs before the final cut, so no half secret escapes it. A long text is first cut
    to a few times `cap` (redacting 8 kB to keep 300 characters is waste), at a word boundary:
    a secret cut in half there could escape its pattern, so the cut-off word is dropped.
    """
    raw = text or ""
    window = cap * PRECUT_FACTOR
    if len(raw) > window:
        raw = raw[:window].rsplit(None, 1)[0]
    flat = " ".join(redact_text(" ".join(raw.split())).split())
    return flat if len(flat) <= cap else flat[: cap - 1] + "…"
