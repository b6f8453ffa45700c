"""A generated corpus of realistic secrets in the contexts they turn up in, and ordinary text.

Every secret is made here from a seeded random generator in its provider's published format, so
no real credential is ever in the repository. Each case is the text a tool, a user or git could
produce; `value` is what must never be stored, `keep` is a word next to it that must survive.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


@dataclass(frozen=True)
class Case:
    kind: str
    value: str  # the secret: must appear nowhere afterwards
    text: str  # the text carrying it, as a tool or a person would write it
    keep: str  # a neighbouring word that must be kept


def _pick(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps({"sub": _pick(rng, HEX, 12), "exp": 1900000000}).encode())
    return f"{head}.{body}.{_b64url(rng.randbytes(32))}"


def _key_block(rng: random.Random, label: str) -> tuple[str, str]:
    body = "\n".join(_pick(rng, B64, 64) for _ in range(6))
    block = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
    return block, body.split("\n")[2]  # a body line: what must not survive


def _tokens(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, value) of self-identifying tokens."""
    return [
        ("anthropic", f"sk-ant-api03-{_pick(rng, URLSAFE, 93)}AA"),
        ("openai", f"sk-proj-{_pick(rng, URLSAFE, 74)}"),
        ("openai-legacy", f"sk-{_pick(rng, ALNUM, 48)}"),
        ("aws-access-key", f"AKIA{_pick(rng, UPPER_DIGITS, 16)}"),
        ("github-classic", f"ghp_{_pick(rng, ALNUM, 36)}"),
        ("github-fine", f"github_pat_{_pick(rng, ALNUM, 22)}_{_pick(rng, ALNUM, 59)}"),
        ("github-app", f"ghs_{_pick(rng, ALNUM, 36)}"),
        ("gitlab", f"glpat-{_pick(rng, URLSAFE, 20)}"),
        ("slack-bot", f"xoxb-{_pick(rng, string.digits, 12)}-{_pick(rng, ALNUM, 24)}"),
        ("stripe", f"sk_live_{_pick(rng, ALNUM, 24)}"),
        ("google-api", f"AIza{_pick(rng, URLSAFE, 35)}"),
        ("npm", f"npm_{_pick(rng, ALNUM, 36)}"),
        ("pypi", f"pypi-AgEIcHlwaS5vcmc{_pick(rng, URLSAFE, 70)}"),
        ("huggingface", f"hf_{_pick(rng, ALNUM, 34)}"),
        ("sendgrid", f"SG.{_pick(rng, URLSAFE, 22)}.{_pick(rng, URLSAFE, 43)}"),
        ("jwt", _jwt(rng)),
    ]


def _token_cases(rng: random.Random) -> list[Case]:
    cases: list[Case] = []
    for index, (kind, value) in enumerate(_tokens(rng)):
        keep = f"deploystep{index}"
        shapes = [
            f"export {kind.upper().replace('-', '_')}_TOKEN={value} && ./{keep}.sh",
            f"{keep}: using credential {value} for the request",
            f'{{"{keep}": true, "value": "{value}"}}',
        ]
        cases.append(Case(kind, value, shapes[index % len(shapes)], keep))
    return cases


def _context_cases(rng: random.Random) -> list[Case]:
    """Secrets that only their context gives away: assignments, URLs, headers, key blocks."""
    pw = [_pick(rng, ALNUM, 10) + "!" + _pick(rng, ALNUM, 5) for _ in range(12)]
    opaque = [_pick(rng, ALNUM, 40) for _ in range(8)]
    hexes = [_pick(rng, HEX, 32) for _ in range(2)]
    rsa, rsa_line = _key_block(rng, "RSA PRIVATE KEY")
    ssh, ssh_line = _key_block(rng, "OPENSSH PRIVATE KEY")
    aws_secret = _pick(rng, B64, 40)
    return [
        Case("private-key", rsa_line, f"cat id_rsa\n{rsa}\nkeyfile0 done", "keyfile0"),
        Case("private-key", ssh_line, f"{ssh}\nsshkeyfile1 printed", "sshkeyfile1"),
        Case(
            "postgres-url",
            pw[0],
            f"DATABASE_URL=postgres://app:{pw[0]}@db.internal:5432/orders0",
            "orders0",
        ),
        Case(
            "mongodb-url",
            pw[1],
            f"mongosh mongodb+srv://admin:{pw[1]}@cluster0.example.net/shop1",
            "shop1",
        ),
        Case(
            "mysql-url",
            pw[2],
            f"connecting to mysql://root:{pw[2]}@127.0.0.1:3306/billing2",
            "billing2",
        ),
        Case("password-env", pw[3], f"DB_PASSWORD={pw[3]} ./manage3.py migrate", "manage3"),
        Case(
            "password-yaml", pw[4], f"database:\n  host: pg4\n  password: {pw[4]}\n  pool: 5", "pg4"
        ),
        Case("password-json", pw[5], f'{{"user": "svc5", "password": "{pw[5]}"}}', "svc5"),
        Case("password-flag", pw[6], f"mycli --user admin6 --password {pw[6]} --host db", "admin6"),
        Case("pgpassword", pw[7], f"PGPASSWORD='{pw[7]}' psql -h warehouse7", "warehouse7"),
        Case(
            "url-token",
            opaque[0],
            f"GET https://api.example.com/v2/items8?access_token={opaque[0]}&page=2",
            "items8",
        ),
        Case(
            "url-api-key",
            opaque[1],
            f"curl 'https://maps.example.com/geo9?api_key={opaque[1]}'",
            "geo9",
        ),
        Case(
            "bearer",
            opaque[2],
            f'curl -H "Authorization: Bearer {opaque[2]}" https://api.example.com/users10',
            "users10",
        ),
        Case(
            "auth-token", opaque[3], f"Authorization: token {opaque[3]}\nstatus11 200", "status11"
        ),
        Case(
            "x-api-key",
            opaque[4],
            f"curl -H 'X-API-Key: {opaque[4]}' https://svc.example.com/report12",
            "report12",
        ),
        Case("client-secret", opaque[5], f'client_secret = "{opaque[5]}"  # oauth13', "oauth13"),
        Case(
            "django-secret",
            opaque[6],
            f"SECRET_KEY = '{opaque[6]}'\nDEBUG = False  # settings14",
            "settings14",
        ),
        Case(
            "aws-secret",
            aws_secret,
            f"[default]\naws_access_key_id = AKIAEXAMPLE15\n"
            f"aws_secret_access_key = {aws_secret}\nregion15 = eu-west-1",
            "region15",
        ),
        Case("auth-token-hex", hexes[0], f"export TWILIO_AUTH_TOKEN={hexes[0]}  # sms16", "sms16"),
        Case(
            "webhook-secret",
            opaque[7],
            f"webhook_secret: {opaque[7]}\nendpoint17: /hooks",
            "endpoint17",
        ),
        Case(
            "git-remote-token",
            f"ghs_{hexes[1]}{hexes[1][:4]}",
            f"git push https://x-access-token:ghs_{hexes[1]}{hexes[1][:4]}@github.com/acme/repo18.git",
            "repo18",
        ),
        Case(
            "password-prompt",
            pw[8],
            f"my staging password is {pw[8]} - use it for deploy19",
            "deploy19",
        ),
        Case(
            "netrc", pw[9], f"machine api.example.com login deploy20 password {pw[9]}", "deploy20"
        ),
        Case(
            "redis-url",
            pw[10],
            f"REDIS_URL=redis://:{pw[10]}@cache.internal:6379/21 cache21",
            "cache21",
        ),
        Case("mysql-flag", pw[11], f"mysql -u root -p{pw[11]} inventory22", "inventory22"),
    ]


def secret_cases(seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    return _token_cases(rng) + _context_cases(rng)


# Ordinary code, logs and prose: none of it is a secret, none of it may be touched.
ORDINARY = [
    "def check_password(user, password):\n    return hasher.verify(password, user.password_hash)",
    "password = getpass.getpass('Password: ')",
    "token = request.headers.get('Authorization')",
    "self.api_key = api_key or os.environ['API_KEY']",
    "const secret = process.env.SECRET;",
    "if not token:\n    raise AuthError('token expired')",
    "FAILED tests/test_auth.py::test_login_with_bad_password - AssertionError: assert 401 == 200",
    "commit 3f9c2a71b0e4d8c6a5f1e2d3c4b5a6978877f1e0\nAuthor: Dev <dev@example.com>",
    "session_id = 8b2f6c1e-4d3a-4f0e-9c57-2a6d1e8b7f90",
    "git checkout -b feature/token-refresh",
    "npm ERR! code E404 npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padx",
    "Traceback (most recent call last):\n"
    "  File \"app/auth.py\", line 42, in login\nKeyError: 'password'",
    "ssh-keygen -t ed25519 -C 'me@example.com' -f ~/.ssh/id_ed25519",
    "docker run -e POSTGRES_PASSWORD=$POSTGRES_PASSWORD postgres:16",
    "password: ${{ secrets.DB_PASSWORD }}",
    "https://github.com/acme/widgets/blob/main/src/token_bucket.py#L10",
    "The key insight is that the cache key must include the locale.",
    "Error: session expired, please log in again",
    "api_key: str = Field(..., description='the provider key')",
    "for key, value in sorted(settings.items()):\n    print(key, value)",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "pip install passlib==1.7.4 python-jose[cryptography]",
    "PASSED tests/test_tokenizer.py::test_split_on_whitespace",
    "curl -s https://api.example.com/health | jq .status",
    "export NODE_ENV=production && npm run build",
    "const authHeader = `Bearer ${accessToken}`;",
    "bearer_token = get_token(scope='read')",
    "user:host mapping in /etc/hosts updated",
    "warning: LF will be replaced by CRLF in tokens.txt",
    "Run `make test`; 128 passed, 2 skipped in 4.21s",
    "postgres://localhost:5432/devdb",
    "SECRET_KEY = os.environ.get('SECRET_KEY')",
    "uuid: 123e4567-e89b-12d3-a456-426614174000",
    "id_token_hint is optional; see the OpenID spec",
    "password_reset_timeout = 3600",
    "The tokens are counted per request and the limit is 4096.",
    "git log --oneline | head -5\n1a2b3c4 fix auth retry\n5d6e7f8 add key rotation docs",
    'ERROR: relation "api_keys" does not exist at character 15',
    "authorization_url = f'{base}/oauth/authorize?client_id={client_id}'",
    "monkeypatch.setenv('ANTHROPIC_API_KEY', 'test-key')",
]
