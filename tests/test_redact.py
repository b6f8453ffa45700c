"""Secret redaction: each family goes, ordinary code and log text stays as it was."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfdistill import capture
from selfdistill.redact import clip, redact_field, redact_text

# Test secrets are assembled from pieces so that no scanner mistakes this file for a leak.
ANTHROPIC = "sk-ant-" + "api03-" + "Zx8Qk2Lm9Pw4Rt7Yv1Bn6Cd3Fg5Hj0Kl2Mn4Pq6Rs8"
OPENAI = "sk-" + "proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78"
AWS_ID = "AKIA" + "Q3EXAMPLE7XYZ2WB"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
GITLAB = "glpat-" + "xY9wV8uT7sR6qP5oN4mL"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
NPM = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PYPI = "pypi-" + "AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + "."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
KEY_BLOCK = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2VfXxC9Mg0Ivqx\n"
    "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9zxcvbnmQWERT\n"
    "-----END RSA PRIVATE KEY-----"
)

FAMILIES = [
    ("anthropic", f"export ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC, "export ANTHROPIC_API_KEY="),
    ("openai", f"client = OpenAI(api_key='{OPENAI}')", OPENAI, "client = OpenAI("),
    ("aws_access_key", f"aws configure set aws_access_key_id {AWS_ID}", AWS_ID, "aws configure"),
    ("secret", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws_secret_access_key = "),
    ("github", f"git clone https://{GITHUB}@github.com/o/r.git", GITHUB, "git clone https://"),
    ("github", f"GH_TOKEN={GITHUB_PAT} gh pr list", GITHUB_PAT, "gh pr list"),
    ("gitlab", f"curl --header 'PRIVATE-TOKEN: {GITLAB}' https://gitlab.com/api", GITLAB, "curl"),
    ("slack", f"SLACK_BOT={SLACK}", SLACK, "SLACK_BOT="),
    ("slack", f"post to {SLACK_HOOK} now", SLACK_HOOK, "post to "),
    ("stripe", f"stripe.api_key = '{STRIPE}'", STRIPE, "stripe.api_key"),
    ("google", f"maps?key={GOOGLE}&q=x", GOOGLE, "maps?key="),
    ("npm", f"//registry.npmjs.org/:_authToken={NPM}", NPM, "//registry.npmjs.org/"),
    ("pypi", f"twine upload -p {PYPI} dist/*", PYPI, "twine upload"),
    ("jwt", f"token: {JWT}", JWT, "token: "),
    ("private_key", f"cat id_rsa\n{KEY_BLOCK}\ndone", "MIIEpAIBAAKCAQEA3Tz2mr7SZ", "cat id_rsa"),
    (
        "password",
        "psql postgres://admin:Tr0ub4dor3@db.internal:5432/app",
        "Tr0ub4dor3",
        "@db.internal",
    ),
    ("password", "DB_PASSWORD=correcthorsebattery ./run", "correcthorsebattery", "./run"),
    ("password", 'config = {"password": "hunter2!x"}', "hunter2!x", '{"password": "'),
    ("password", "mysql --password=s3cr3tpw -u root", "s3cr3tpw", "-u root"),
    (
        "secret",
        "client_secret: 8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
        "8f7a6b5c4d3e2f1a",
        "client_secret: ",
    ),
    (
        "auth",
        "curl -H 'Authorization: Bearer abc123def456ghi789jkl' x",
        "abc123def456ghi789",
        "curl -H",
    ),
    ("auth", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Authorization: "),
    (
        "secret",
        "SESSION_COOKIE=Qm9vdHN0cmFwUGFzc3dvcmQxMjM0NTY3",
        "Qm9vdHN0cmFwUGFzc3dvcmQx",
        "SESSION",
    ),
]


@pytest.mark.parametrize(("kind", "text", "secret", "kept"), FAMILIES)
def test_each_secret_family_is_redacted_and_the_text_around_it_kept(
    kind: str, text: str, secret: str, kept: str
) -> None:
    clean = redact_text(text)
    assert secret not in clean
    assert f"[REDACTED:{kind}]" in clean
    assert kept in clean


ORDINARY = [
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f (HEAD -> main)",
    "session 550e8400-e29b-41d4-a716-446655440000 started",
    "session_id: 550e8400-e29b-41d4-a716-446655440000",
    "cache_key = 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f",
    "/home/user/project/src/auth/token_store.py:42: in test_refresh",
    "FAILED tests/test_auth.py::test_token_refresh - AssertionError: expected 2",
    "max_tokens=1024, temperature=0.2",
    "def login(self, password: str) -> bool:",
    "token = get_token(config)",
    "login(user=user, password=password)",
    "self.secret = config.secret",
    "the token expired, retrying",
    "for key in keys:",
    "author = 'Ada Lovelace'",
    "PWD=/home/user/project",
    "password = os.environ['DB_PASSWORD']",
    "export API_KEY=$API_KEY",
    "if passed == total: print('ok')",
    "git@github.com:owner/repo.git",
    "https://example.com:8080/path/to/page?q=1",
    "npm ERR! code E401 Unable to authenticate",
    'Exit code 1\nerror: could not compile `app` (bin "app") due to 2 previous errors',
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "basic usage: run the tests",
    "keyboard_layout = 'us'",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_code_and_log_lines_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_a_value_is_judged_by_the_key_it_is_stored_under() -> None:
    assert redact_field("password", "hunter2") == "[REDACTED:password]"
    assert redact_field("api_key", "plainword") == "[REDACTED:secret]"
    assert redact_field("command", "ls -la") == "ls -la"
    assert redact_field("session_id", "550e8400-e29b-41d4-a716-446655440000").startswith("550e")
    assert redact_field("command", f"echo {GITHUB}") == "echo [REDACTED:github]"


def test_redaction_reaches_every_string_nested_in_tool_input() -> None:
    payload = {
        "tool_name": "Bash",
        "tool_input": {
            "command": f"curl -H 'Authorization: Bearer {GITHUB}' https://api.github.com",
            "env": [{"name": "KEY", "value": AWS_ID}, {"password": "hunter2"}],
        },
        "tool_response": {"stdout": f"using {ANTHROPIC}", "stderr": ""},
    }
    record = capture.build("PostToolUse", payload)
    line = capture.encode(record).decode()
    for secret in (GITHUB, AWS_ID, "hunter2", ANTHROPIC):
        assert secret not in line
    assert record["tool_input"]["env"][1]["password"] == "[REDACTED:password]"
    assert record["output"].startswith("using [REDACTED:anthropic]")


def test_a_secret_across_the_cut_is_redacted_before_the_cut() -> None:
    limit = capture.LIMITS["tool_input"]
    value = "x" * (limit - 8) + " " + AWS_ID + " " + "y" * 10_000
    record = capture.build("PostToolUse", {"tool_input": {"content": value}})
    kept = record["tool_input"]["content"]
    assert AWS_ID[:6] not in kept
    assert record["truncated"]["tool_input.content"] == len(value)


def test_a_key_block_whose_start_was_cut_away_is_still_redacted() -> None:
    tail = KEY_BLOCK.split("\n", 1)[1]  # a tail of output: the BEGIN line is gone
    clean = redact_text("output:\n" + tail + "\nnext line")
    assert "MIIEpA" not in clean
    assert clean.startswith("output:")
    assert clean.endswith("[REDACTED:private_key]\nnext line")


def test_key_block_without_end_is_redacted_to_the_end() -> None:
    clean = redact_text("before\n" + KEY_BLOCK.rsplit("\n", 1)[0])
    assert clean == "before\n[REDACTED:private_key]"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redaction_never_fails_and_is_stable(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


# --- the literal pre-checks that keep `re` off the hook's hot path --------------------------------


def redact_with_every_pattern(text: str) -> str:
    """redact_text without its pre-checks: every pattern runs on every text, in the same order."""
    import re

    from selfdistill import redact

    if not text:
        return text
    for kind, _, pattern in redact._TOKENS:
        text = re.sub(pattern, redact.MARK.format(kind), text)
    text = redact._redact_orphan_key_ends(text)
    text = re.sub(redact._URL_PASSWORD, redact._keep_prefix("password"), text)
    text = re.sub(redact._AUTH_HEADER, redact._keep_prefix("auth"), text)
    text = re.sub(redact._BEARER, redact._keep_prefix("auth"), text)
    text = re.sub(redact._PROSE_PASSWORD, redact._prose_password, text)
    text = re.sub(redact._MYSQL_PASSWORD, redact._keep_prefix("password"), text)
    return re.sub(redact._ASSIGNMENT, redact._redact_assignment, text)


# Pieces that come near the patterns' edges; texts are built from them and from free characters.
EDGES = [*" \t\n\u00a0\u2028'\"`,;=:-_./\\@($éΩ…", "  ", "Zx8Qk2Lm9Pw4Rt7Yv1Bn6Cd3", "hunter2"]
PIECES = {
    "assignment": "password PassWord pwd secret token api_key x-api-key key auth session cookie"
    " salt --token -p := self.value 0123456789abcdef passphrase is was mysql mariadb Xy7!pQ2#z",
    "bearer": "Bearer bearer basic Basic token dXNlcjpwYXNzd29yZDEyMzQ1 abc=",
    "url": "https:// :// db+x:// admin user: : :pw p4ss @ @host [x]",
    "header": "authorization Authorization proxy- Bearer digest tok3nvalue99",
    "tokens": " ".join(secret for _, _, secret, _ in FAMILIES)
    + " sk- sk_test_ gl glpat- xoxb- AKIA eyJ hf_ SG. npm_ PRIVATE KEY"
    " -----END RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2VfXxC9Mg0Ivqx\n",
}
# Left out: the characters that case-fold into ASCII letters (long s, Kelvin sign, dotted and
# dotless i). With them a case-blind pattern can match where the lower-case hints, which decided
# before these pre-checks too, find nothing: a known gap, not what this test is about.
FOLDING = "\u017f\u212a\u0130\u0131"
FREE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters=FOLDING),
    max_size=3,
)


def texts(family: str) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(PIECES[family].split(" ")), st.sampled_from(EDGES), FREE)
    return st.lists(piece, max_size=10).map("".join)


@pytest.mark.parametrize("family", sorted(PIECES))
def test_the_pre_checks_never_skip_a_pattern_that_would_redact(family: str) -> None:
    @settings(max_examples=500, deadline=None, database=None)
    @given(texts(family))
    def check(text: str) -> None:
        assert redact_text(text) == redact_with_every_pattern(text)

    check()


@pytest.mark.parametrize(
    "text",
    [
        "curl https://admin:s3cretPassw0rd@example.com/x",
        "Authorization : Bearer abcdefghijklmnop1234",
        '"authorization"= "Basic dXNlcjpwYXNzd29yZDEyMzQ1"',
        "curl -H 'bearer\tAbCdEfGhIjKlMnOpQrSt'",
        "mysql --password hunter2secret -u root",
        "config.api_key\u00a0= 'Zx8Qk2Lm9Pw4Rt7Yv1Bn6Cd3'",
    ],
)
def test_credentials_in_context_still_redacted_past_the_pre_checks(text: str) -> None:
    assert "[REDACTED:" in redact_text(text)
    assert redact_text(text) == redact_with_every_pattern(text)


def test_ordinary_text_is_redacted_without_importing_re() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from selfdistill.redact import redact_text\n"
        "text = 'basic usage: the key points, https://example.com/session/1, the token list'\n"
        "assert redact_text(text) == text\n"
        "print('re' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_clip_redacts_before_it_cuts_and_collapses_whitespace():
    clipped = clip("deploy\n\n  with " + GITHUB + " and then " + "more words " * 20, 60)
    assert (
        clipped.startswith("deploy with [REDACTED:github] and then more") and GITHUB not in clipped
    )
    assert len(clipped) == 60 and clipped.endswith("…")
    assert clip(None, 10) == "" and clip("short  text", 10) == "short text"


def test_clip_drops_the_word_its_precut_splits():
    # A long text is cut to 4x the cap before redaction; collapsing the blanks can then bring a
    # token cut in half (too short for its pattern) within the cap.
    assert clip("see" + " " * 180 + GITHUB + " done", 50) == "see"
