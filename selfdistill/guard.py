"""The safety gate: a lesson that may carry planted instructions or a secret is held, not published.

Lessons are distilled partly from tool output, and whoever controls a web page, a file or an error
message controls that text. A published lesson lands in CLAUDE.md, where the agent treats it as the
user's own instruction, so the gate is deliberately strict: holding a good lesson costs little (the
user can read the reason in `selfdistill lessons` and rephrase it); publishing a planted one is an
injection that persists across every later session.

Matching runs on a normalized copy (NFKC, accents stripped, common look-alikes mapped to Latin,
invisible characters removed, defanged URLs re-fanged), so disguises meet the same rules.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from selfdistill.model import Lesson
from selfdistill.redact import redact_text

MAX_FIELD_CHARS = 600
MAX_STEPS = 20

# Cyrillic, Greek and Latin-extension letters that look like ASCII ones (NFKC keeps them apart).
CONFUSABLES = str.maketrans(
    {
        **dict.fromkeys("\u0430\u0251\u03b1", "a"),
        **dict.fromkeys("\u0410\u0391", "A"),
        **dict.fromkeys("\u0412\u0392", "B"),
        **dict.fromkeys("\u0441\u03f2", "c"),
        **dict.fromkeys("\u0421\u03f9", "C"),
        **dict.fromkeys("\u0501", "d"),
        **dict.fromkeys("\u0435\u0454", "e"),
        **dict.fromkeys("\u0415\u0395", "E"),
        **dict.fromkeys("\u0261", "g"),
        **dict.fromkeys("\u04bb", "h"),
        **dict.fromkeys("\u041d\u0397", "H"),
        **dict.fromkeys("\u0456\u03b9\u0269", "i"),
        **dict.fromkeys("\u0406\u0399", "I"),
        **dict.fromkeys("\u0458", "j"),
        **dict.fromkeys("\u0408\u037f", "J"),
        **dict.fromkeys("\u03ba", "k"),
        **dict.fromkeys("\u041a\u039a", "K"),
        **dict.fromkeys("\u04cf", "l"),
        **dict.fromkeys("\u041c\u039c", "M"),
        **dict.fromkeys("\u039d\u054c", "N"),
        **dict.fromkeys("\u043e\u03bf\u0585", "o"),
        **dict.fromkeys("\u041e\u039f", "O"),
        **dict.fromkeys("\u0440\u03c1", "p"),
        **dict.fromkeys("\u0420\u03a1", "P"),
        **dict.fromkeys("\u051b", "q"),
        **dict.fromkeys("\u0455", "s"),
        **dict.fromkeys("\u0405\u054f", "S"),
        **dict.fromkeys("\u0422\u03a4", "T"),
        **dict.fromkeys("\u03c5\u057d", "u"),
        **dict.fromkeys("\u03bd\u0475", "v"),
        **dict.fromkeys("\u051d", "w"),
        **dict.fromkeys("\u0445\u03c7", "x"),
        **dict.fromkeys("\u0425\u03a7", "X"),
        **dict.fromkeys("\u0443\u04af", "y"),
        **dict.fromkeys("\u04ae\u03a5", "Y"),
        **dict.fromkeys("\u0396", "Z"),
    }
)
# Leetspeak, applied only to the squashed form used for key phrases.
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)

INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\ufe00-\ufe0f\U000e0000-\U000e007f]"
)


@dataclass(frozen=True)
class Rule:
    """One reason to hold a lesson: a name for logs and tests, the reason the user reads."""

    name: str
    reason: str
    test: Callable[[str, str], bool]  # (raw text, normalized text) -> matched


def _regex(pattern: str, raw: bool = False) -> Callable[[str, str], bool]:
    compiled = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    if raw:
        return lambda original, _normal: bool(compiled.search(original))
    return lambda _original, normal: bool(compiled.search(normal))


def normalize(text: str) -> str:
    """The form rules match on: disguises undone, case kept (rules ignore case)."""
    text = INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKD", text.translate(CONFUSABLES))
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = unicodedata.normalize("NFKC", text).translate(CONFUSABLES)
    text = re.sub(r"h[xX*]{2}p(s?)", r"http\1", text, flags=re.IGNORECASE)
    text = re.sub(
        r"\s*(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\s+dot\s+)\s*", ".", text, flags=re.I
    )
    return re.sub(r"\[:\]|\[://\]", lambda m: m.group(0)[1:-1], text)


def squash(normal: str) -> str:
    """Letters only, lower case, leetspeak undone: 'I-g n 0 r e' becomes 'ignore'."""
    return re.sub(r"[^a-z]", "", normal.lower().translate(LEET))


SQUASHED_PHRASES = (
    "ignorepreviousinstructions",
    "ignoreallpreviousinstructions",
    "ignorepriorinstructions",
    "ignoreallinstructions",
    "ignoretheaboveinstructions",
    "ignoreyourinstructions",
    "disregardpreviousinstructions",
    "disregardallprevious",
    "disregardyourinstructions",
    "forgetallpreviousinstructions",
    "forgetyourinstructions",
    "dangerouslyskippermissions",
    "bypasspermissions",
)


def _squashed_phrase(_original: str, normal: str) -> bool:
    flat = squash(normal)
    return any(phrase in flat for phrase in SQUASHED_PHRASES)


UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)


def _entropy(token: str) -> float:
    counts = {char: token.count(char) for char in set(token)}
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _encoded_blob(_original: str, normal: str) -> bool:
    """Long base64/hex runs: a payload the reader cannot see, whatever it decodes to."""
    normal = UUID.sub("UUID", normal)  # session and request ids are not payloads
    if re.search(r"(?<![0-9a-f])(?:0x)?[0-9a-f]{32,}(?![0-9a-f])", normal, re.I):
        return True
    for run in re.finditer(r"(?:\b[0-9a-f]{2,}\b[\s:,]*){4,}", normal, re.I):
        flat = re.sub(r"[\s:,]", "", run.group(0))  # hex split into groups: "6967 6e6f ..."
        if len(flat) >= 24 and re.search(r"[a-f]", flat, re.I) and re.search(r"\d", flat):
            return True
    tokens = re.findall(r"[A-Za-z0-9+/=_-]{24,}", normal)
    pieces = [piece for token in tokens for piece in (token, *re.split(r"[/_-]", token))]
    return any(_looks_base64(piece) for piece in pieces if len(piece) >= 24)


def _looks_base64(piece: str) -> bool:
    if not (re.search(r"\d", piece) and re.search(r"[a-z]", piece) and re.search(r"[A-Z]", piece)):
        return False
    # Names (camelCase, SHOUTING_CASE) are mostly runs of one case; encodings are not.
    # Counted over letters and digits only: separators in paths and names are not evidence.
    alnum = sum(char.isalnum() for char in piece)
    wordlike = sum(map(len, re.findall(r"[a-z]{3,}|[A-Z]{3,}", piece))) / max(alnum, 1)
    limit = 0.65 if len(piece) < 48 else 0.8  # long names are rarer than long blobs
    return wordlike < limit and _entropy(piece) >= 4.0


def _oversized(original: str, _normal: str) -> bool:
    return len(original) > MAX_FIELD_CHARS


STARTUP_FILES = r"\.(?:bashrc|zshrc|bash_profile|zprofile|profile|zshenv|bash_login)\b"
PIPE_TARGET = r"(?:sudo\s+)?(?:env\s+\S*\s*)?(?:ba|z|k|da|fi|c|tc)?sh\b"
INTERPRETER = (
    r"(?:sudo\s+)?(?:python[\d.]*|perl|ruby|node|php|lua|osascript)(?:\s+-[ce]?)?\s*"
    r"(?:$|[;&|)`'\"])"
)
SECRET_NOUNS = (
    r"(?:secrets?|credentials?|tokens?|api[\s_-]*keys?|passwords?|passwd|\.env\b|env(?:ironment)?"
    r"\s+var|ssh|private\s+keys?|cookies?|id_rsa|aws|keychain|\.netrc|shell\s+history)"
)
EXFIL_SINKS = (
    r"(?:servers?|endpoints?|webhooks?|remote|external|attacker|pastebin|gist|discord|telegram|"
    r"slack|ngrok|requestbin|burp|collaborator|dns)"
)

# A hook (Claude Code's PreToolUse, a git hook) blocking something, and a way to do it regardless.
HOOK_BLOCK = re.compile(
    r"pre\w*tool\s*use|\bhooks?\b.{0,80}?\b(?:block\w*|den(?:y|ies|ied)|refus\w*|reject\w*|"
    r"prevent\w*|stop\w*|error)|\b(?:block\w*|den(?:y|ies|ied)|refus\w*|reject\w*|prevent\w*)"
    r".{0,80}?\bhooks?\b",
    re.IGNORECASE,
)
WORKAROUND = re.compile(
    r"\b(?:instead|rather\s+than|work(?:s|ed|ing)?\s+around|get(?:s|ting)?\s+(?:around|past)|"
    r"circumvent\w*|sidestep\w*|evad\w*|dodg\w*|bypass\w*)\b",
    re.IGNORECASE,
)


def _hook_workaround(_original: str, normal: str) -> bool:
    """A hook's block is the user's safety rule: a lesson offering another way to do what it
    blocks ("blocked by a hook; use `mv` instead") teaches the agent around it."""
    return bool(HOOK_BLOCK.search(normal) and WORKAROUND.search(normal))


RULES: tuple[Rule, ...] = (
    Rule(
        "invisible_characters",
        "contains invisible or bidirectional control characters (text hidden from the reader)",
        lambda original, _normal: bool(INVISIBLE.search(original)),
    ),
    Rule(
        "control_characters",
        "contains terminal escape or control characters",
        _regex(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]", raw=True),
    ),
    Rule("html_comment", "contains an HTML comment (hidden text)", _regex(r"<!--|-->|<!\[CDATA\[")),
    Rule(
        "html_markup",
        "contains active HTML (script, iframe, image, link, style or event handler)",
        _regex(
            r"<\s*/?\s*(?:script|iframe|img|object|embed|svg|style|link|meta|form|a\s)|"
            r"<[^>]*\bon[a-z]+\s*="
        ),
    ),
    Rule(
        "markdown_image",
        "contains a Markdown image (fetched when rendered)",
        _regex(r"!\[[^\]]*\]\("),
    ),
    Rule(
        "url",
        "contains a URL or web address (lessons must not point the agent at remote content)",
        _regex(
            # loopback addresses are this machine ("the dev server is http://localhost:3000")
            r"\b(?:https?|s?ftps?|file|wss?|git|ssh|smb)\s*:\s*//"
            r"(?!(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?:[:/\s`'\"]|$))|"
            r"\bdata:[a-z]+/[\w.+-]+[;,]|"
            r"\bjavascript:|\bwww\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|ru|cn|xyz|biz|"
            r"tk|co|su|ly|gg|site|online|onion)\b(?![.\w])"
        ),
    ),
    Rule(
        "ip_address",
        "contains a network address outside this machine",
        _regex(r"(?<![\d.])(?!127\.)(?!0\.0\.0\.0)(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"),
    ),
    Rule(
        "pipe_to_interpreter",
        "pipes text into a shell or interpreter",
        _regex(rf"\|\s*{PIPE_TARGET}|\|\s*{INTERPRETER}|(?:ba|z)?sh\s+<\(|\$\(\s*(?:curl|wget)\b"),
    ),
    Rule(
        "download_execute",
        "downloads something and runs it",
        _regex(
            r"\b(?:curl|wget|invoke-webrequest|iwr|irm|invoke-expression|iex)\b.{0,120}"
            r"(?:&&|;|\|)\s*(?:sudo\s+)?(?:sh|bash|zsh|python\S*|chmod|\./)"
        ),
    ),
    Rule(
        "eval",
        "evaluates generated code (eval/exec)",
        _regex(
            r"(?<![.\w])eval\s*[(\"'$`]|(?<![.\w])exec\s*\(|\bsource\s+<\(|\bnew\s+Function\s*\(|"
            r"\bos\.(?:system|popen|exec\w*)\s*\(|__import__\s*\(|\bpty\.spawn\b"
        ),
    ),
    Rule(
        "decode_payload",
        "decodes an encoded payload (base64/hex/char codes)",
        _regex(
            r"\bbase64\s+(?:-\w*d\w*|--decode)\b|\bb64decode\b|\batob\s*\(|frombase64string|"
            r"\bxxd\s+-r|\bunhexlify\b|fromcharcode|(?:\\x[0-9a-f]{2}){6,}|(?:%[0-9a-f]{2}){6,}|"
            r"(?:\\u[0-9a-f]{4}){4,}|\bchr\s*\(\s*\d+\s*\)\s*\+|"
            r"\b(?:decode|deobfuscate)\w*\b.{0,40}\b(?:and|then)\s+(?:run|execute|eval)"
        ),
    ),
    Rule("encoded_blob", "contains a long encoded blob (base64 or hex)", _encoded_blob),
    Rule(
        "permission_change",
        "changes permissions, ownership or privileges",
        _regex(
            r"\b(?:chmod|chown|chgrp|setfacl|sudo|doas|visudo|setuid|setcap)\b|\bsu\s+(?:-|root)\b|"
            r"/etc/(?:sudoers|passwd|shadow)|\brunas\b"
        ),
    ),
    Rule(
        "agent_settings",
        "changes the agent's permissions, settings or hooks, or skips safety checks",
        _regex(
            r"dangerously|skip[\s_-]*permissions|bypass\s*permissions|permission[\s_-]*mode|"
            r"allowed[\s_-]*tools|\bsettings(?:\.local)?\.json|\.claude/(?:settings|hooks)\b|"
            r"\.git/hooks|core\.hookspath|--no-verify\b|\bauto[\s-]*approve|"
            r"(?:disable|turn\s+off|bypass|skip|remove)\s+(?:the\s+|all\s+|any\s+)?"
            r"(?:sandbox|permission|hook|safety|guard|security|confirmation|approval)|"
            r"(?:never|don'?t|do\s+not|without)\s+ask(?:ing)?\s+(?:the\s+user\s+)?for\s+"
            r"(?:permission|approval)|"
            # variables that redirect the agent's traffic or inject code into every process
            r"\b(?:anthropic_\w+|https?_proxy|all_proxy|node_options|ld_preload|"
            r"dyld_insert_libraries|pythonstartup)\s*="
        ),
    ),
    Rule(
        "hook_workaround",
        "offers a way around what a hook blocks (a hook is the user's safety rule)",
        _hook_workaround,
    ),
    Rule(
        "persistence",
        "edits shell start-up files, scheduled jobs or SSH keys",
        _regex(
            # reading them (`source ~/.zshrc`) is harmless; writing them persists a payload
            rf"(?:>>?|\btee\b(?:\s+-a)?)\s*\S*{STARTUP_FILES}|\b(?:edit|append|add|write|modify|"
            rf"change|update|put|insert)\b.{{0,60}}{STARTUP_FILES}|\bcrontab\b|authorized_keys|"
            r"~/\.ssh\b|\.ssh/|launchctl|systemctl\s+enable"
        ),
    ),
    Rule(
        "destructive",
        "runs a destructive command",
        _regex(
            r"\brm\s+-[a-z]*[rf][a-z]*\s+(?:-\S+\s+)*(?:/|~/?|\$home/?|\*|\.{1,2}/?)(?:\s|$|[;&|])|"
            r"\bmkfs\b|\bdd\s+[^\n]*of=/dev|:\(\)\s*\{|\bgit\s+push\s+[^\n]*(?:-f\b|--force)|"
            r"\bshred\b|>\s*/dev/sd"
        ),
    ),
    Rule(
        "override_instructions",
        "tries to override the agent's instructions",
        _regex(
            r"\b(?:ignore|disregard|forget|override|overrule|skip|bypass|discard|drop|abandon|"
            r"pay\s+no\s+attention\s+to|set\s+aside|do\s+not\s+(?:follow|obey)|don'?t\s+(?:follow|obey)"
            r")\s+(?:\w+\s+){0,3}?"
            r"(?:instructions?|directives?|prompts?|guidelines|guardrails|rules\s+(?:above|before|you)|"
            r"(?:previous|prior|above|earlier|preceding|original|initial|system)\s+"
            r"(?:rules|context|messages?|orders|commands|guidance|text))|"
            r"\b(?:previous|prior|above|earlier|original)\s+instructions?\s+(?:are|is|were|was)\s+"
            r"(?:void|cancell?ed|obsolete|invalid|outdated|revoked|superseded|no\s+longer)|"
            r"\bnew\s+instructions?\s*:|\bupdated\s+instructions?\s*:|\binstead\s+follow\s+these|"
            r"\b(?:ignore|forget)\s+(?:everything|all)\s+(?:above|before|you\s+were\s+told)"
        ),
    ),
    Rule("override_phrase", "tries to override the agent's instructions", _squashed_phrase),
    Rule(
        "role_override",
        "tries to change the agent's role or system prompt",
        _regex(
            r"\byou\s+are\s+(?:now|no\s+longer)\b|\bpretend\s+(?:to\s+be|you(?:'re|\s+are))|"
            r"\brole[\s-]?play|\bsystem\s+prompt|\bsystem\s+message|^\s*(?:system|assistant|developer)"
            r"\s*:|<\s*/?\s*(?:system|assistant|instructions?)\s*>|\[\s*/?\s*(?:system|inst)\s*\]|"
            r"<\|im_(?:start|end)\|>|\bjailbr[eo]ak|\bdeveloper\s+mode|(?-i:\bDAN\b)|\bact\s+as\s+(?:an?\s+)?"
            r"(?:unrestricted|unfiltered|evil|different|new)|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must)"
            r"|\bhuman\s*:\s|\bacting\s+as\s+(?:the\s+)?(?:admin|root|system)"
        ),
    ),
    Rule(
        "exfiltration",
        "sends data somewhere outside the project",
        _regex(
            rf"\b(?:send|sends|sending|sent|upload\w*|post(?!-)|posts|posting|exfiltrat\w*|"
            rf"transmit\w*|forward\w*|leak\w*|e-?mail\w*|paste|beacon\w*)\b"
            rf".{{0,80}}\b(?:{SECRET_NOUNS}|{EXFIL_SINKS})|"
            rf"\b(?:{SECRET_NOUNS}).{{0,60}}\b(?:to|into)\s+(?:an?\s+|the\s+|my\s+)?{EXFIL_SINKS}|"
            r"\b(?:nc|ncat|netcat|socat)\s+-|/dev/(?:tcp|udp)/|\bcurl\b[^\n]*\s(?:-d|--data\S*|-F|"
            r"--form|-T|--upload-file)\b|\bwget\b[^\n]*--post|\bprintenv\b|\benv\s*\||"
            r"\bcat\s+[^\n]*(?:\.env\b|id_rsa|\.aws|\.netrc|credentials)"
        ),
    ),
    Rule(
        "secret",
        "contains what looks like a secret (key, token or password)",
        # or one already redacted: a lesson about a credential's value tells the agent nothing
        # it may use, and invites it to go looking for the value
        lambda original, _normal: "[REDACTED:" in original or redact_text(original) != original,
    ),
    Rule(
        "oversized",
        "is too long for a lesson (a lesson is one short line or a few steps)",
        _oversized,
    ),
)


def lesson_fields(lesson: Lesson) -> list[str]:
    """The lesson text a reader (and the agent) will see."""
    return [lesson.trigger, lesson.action, *lesson.steps]


def check_text(text: str) -> Rule | None:
    """The first rule this text breaks, or None."""
    normal = normalize(text)
    for rule in RULES:
        if rule.test(text, normal):
            return rule
    return None


def check_lesson(lesson: Lesson) -> str | None:
    """A short reason to hold this lesson, or None when it may be published."""
    if len(lesson.steps) > MAX_STEPS:
        return f"held by the safety gate (oversized): more than {MAX_STEPS} steps"
    for field in lesson_fields(lesson):
        rule = check_text(field)
        if rule is not None:
            return f"held by the safety gate ({rule.name}): {rule.reason}"
    return None
