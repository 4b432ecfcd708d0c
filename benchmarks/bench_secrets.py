"""Secret redaction quality and speed on a generated corpus.

The corpus is synthesised here with a seeded RNG: for each credential format, random
secrets of the format's documented shape placed in several sentence contexts (prose,
shell, JSON, config); and look-alikes that must be left alone (git SHAs, UUIDs, sha256
digests, version strings, base64 of ordinary text, ULIDs, long identifiers, prose about
passwords). Nothing here is a real credential.

A secret counts as redacted when no 8-character window of it survives. A look-alike
counts as a false positive when its text changes at all.

    python benchmarks/bench_secrets.py [--seed 1] [--reps 4] [--out benchmarks/results/secrets.md]

``tests/hygiene/test_secrets.py`` runs a small slice of the same generator and asserts the
recall and false-positive bounds, so a regression fails CI.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import statistics
import string
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memsvc.hygiene.secrets import redact_secrets
from memsvc.hygiene.text import normalize

UPPER, LOWER, DIGITS = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Sample:
    fmt: str
    text: str
    secret: str
    """The part that must not survive (empty for look-alikes)."""


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random, but with upper, lower and digit present (as every real random key has)."""
    while True:
        v = _s(rng, alphabet, n)
        if all(any(f(c) for c in v) for f in (str.isupper, str.islower, str.isdigit)):
            return v


def _password(rng: random.Random) -> str:
    words = ["hunter", "winter", "dragon", "sunshine", "monkey", "falcon", "orange", "tiger"]
    style = rng.randrange(4)
    if style == 0:
        return rng.choice(words) + str(rng.randrange(1, 9999)) + rng.choice("!@#$%")
    if style == 1:
        return rng.choice(words).capitalize() + str(rng.randrange(1990, 2030))
    if style == 2:
        return _mixed(rng, ALNUM + "!@#%^&*", rng.randrange(10, 20))
    return "-".join(rng.sample(words, 4)) + str(rng.randrange(10))


def _pem(rng: random.Random, kind: str) -> tuple[str, str]:
    body = "\n".join(_s(rng, B64, 64) for _ in range(rng.randrange(4, 9)))
    head = f"-----BEGIN {kind}PRIVATE KEY-----"
    return f"{head}\n{body}\n-----END {kind}PRIVATE KEY-----", body


def _jwt(rng: random.Random) -> str:
    def seg(obj: dict[str, object]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = seg({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
    payload = seg({"sub": str(rng.randrange(10**9)), "exp": rng.randrange(10**9, 2 * 10**9)})
    return f"{header}.{payload}.{_s(rng, URLSAFE, 43)}"


# Each format: secret generator -> (text to embed, the part that must vanish), and the
# contexts it appears in. Self-identifying tokens share the generic contexts.
GENERIC = [
    "Use {s} when calling the staging API.",
    "CI broke because {s} expired; rotate it.",
    "export DEPLOY_CRED={s}",
    '{{"name": "ci", "value": "{s}"}}',
    "{s} was pasted in #general by mistake",
    "The bot runs with `{s}` since Tuesday.",
]

Maker = Callable[[random.Random], tuple[str, str]]


def _same(make: Callable[[random.Random], str]) -> Maker:
    def inner(rng: random.Random) -> tuple[str, str]:
        v = make(rng)
        return v, v

    return inner


def _url(scheme: str, host: str) -> Maker:
    def inner(rng: random.Random) -> tuple[str, str]:
        pw = _mixed(rng, ALNUM, rng.randrange(10, 24))
        user = rng.choice(["app", "admin", "svc_api", "deploy"])
        return f"{scheme}://{user}:{pw}@{host}", pw

    return inner


def _webhook(base: str, ids: str, secret_len: int, id_chars: str = UPPER + DIGITS) -> Maker:
    """A webhook URL; the secret is its random tail (``{n}``: n random id characters)."""

    def inner(rng: random.Random) -> tuple[str, str]:
        path = re.sub(r"\{(\d+)\}", lambda m: _s(rng, id_chars, int(m.group(1))), ids)
        tail = _s(rng, URLSAFE, secret_len)
        return base + path + tail, tail

    return inner


def _gcp_service_account(rng: random.Random) -> tuple[str, str]:
    block, body = _pem(rng, "")
    doc = {
        "type": "service_account",
        "project_id": "acme-prod",
        "private_key": block,
        "client_email": "ci@acme-prod.iam.gserviceaccount.com",
    }
    return json.dumps(doc), body.split("\n")[0]


def _azure_conn(rng: random.Random) -> tuple[str, str]:
    key = base64.b64encode(rng.randbytes(64)).decode()
    text = (
        "DefaultEndpointsProtocol=https;AccountName=acmestore;"
        f"AccountKey={key};EndpointSuffix=core.windows.net"
    )
    return text, key


def _azure_sas(rng: random.Random) -> tuple[str, str]:
    sig = base64.b64encode(rng.randbytes(32)).decode().replace("+", "%2B").replace("=", "%3D")
    url = (
        "https://acmestore.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rl"
        f"&se=2026-12-31T00:00:00Z&sig={sig}"
    )
    return url, sig


FORMATS: dict[str, tuple[Maker, list[str]]] = {
    "aws_access_key_id": (
        _same(lambda r: r.choice(["AKIA", "ASIA"]) + _s(r, UPPER + "234567", 16)),
        GENERIC,
    ),
    "aws_secret_key": (
        _same(lambda r: _mixed(r, B64, 40)),
        [
            "The AWS secret access key is {s} for the prod account.",
            "aws_secret_access_key = {s}",
            "aws secret for the backup bucket: {s}",
            "Set AWS_SECRET_ACCESS_KEY to {s} in the runner.",
        ],
    ),
    "gcp_api_key": (_same(lambda r: "AIza" + _s(r, URLSAFE, 35)), GENERIC),
    "gcp_service_account": (_gcp_service_account, ["service account json: {s}", "{s}"]),
    "azure_storage_conn": (_azure_conn, GENERIC),
    "azure_sas_url": (_azure_sas, GENERIC),
    "github_pat_classic": (_same(lambda r: "ghp_" + _s(r, ALNUM, 36)), GENERIC),
    "github_oauth": (_same(lambda r: "gho_" + _s(r, ALNUM, 36)), GENERIC),
    "github_fine_grained": (
        _same(lambda r: "github_pat_" + _s(r, ALNUM, 22) + "_" + _s(r, ALNUM, 59)),
        GENERIC,
    ),
    "gitlab_pat": (_same(lambda r: "glpat-" + _s(r, URLSAFE, 20)), GENERIC),
    "bitbucket_app_password": (_same(lambda r: "ATBB" + _s(r, ALNUM, 32)), GENERIC),
    "slack_bot_token": (
        _same(lambda r: f"xoxb-{_s(r, DIGITS, 12)}-{_s(r, DIGITS, 13)}-{_s(r, ALNUM, 24)}"),
        GENERIC,
    ),
    "slack_webhook": (_webhook("https://hooks.slack.com/services/", "T{8}/B{10}/", 24), GENERIC),
    "discord_webhook": (
        _webhook("https://discord.com/api/webhooks/", "{18}/", 68, DIGITS),
        GENERIC,
    ),
    "stripe_secret": (_same(lambda r: "sk_live_" + _s(r, ALNUM, 24)), GENERIC),
    "stripe_restricted": (_same(lambda r: "rk_live_" + _s(r, ALNUM, 24)), GENERIC),
    "twilio_api_key": (_same(lambda r: "SK" + _s(r, HEX, 32)), GENERIC),
    "twilio_auth_token": (
        _same(lambda r: _s(r, HEX, 32)),
        ["twilio auth token {s}", "TWILIO_AUTH_TOKEN={s}", "Our Twilio token is {s}."],
    ),
    "sendgrid": (
        _same(lambda r: "SG." + _s(r, URLSAFE, 22) + "." + _s(r, URLSAFE, 43)),
        GENERIC,
    ),
    "mailgun": (_same(lambda r: "key-" + _s(r, HEX, 32)), GENERIC),
    "npm": (_same(lambda r: "npm_" + _s(r, ALNUM, 36)), GENERIC),
    "pypi": (_same(lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, URLSAFE, 60)), GENERIC),
    "huggingface": (_same(lambda r: "hf_" + _s(r, ALNUM, 34)), GENERIC),
    "openai": (
        _same(lambda r: "sk-proj-" + _mixed(r, URLSAFE, 48)),
        GENERIC,
    ),
    "anthropic": (_same(lambda r: "sk-ant-api03-" + _s(r, URLSAFE, 93) + "AA"), GENERIC),
    "jwt": (_same(_jwt), GENERIC),
    "pem_rsa": (lambda r: _pem(r, "RSA "), ["key for the box:\n{s}\nkeep it safe", "{s}"]),
    "pem_openssh": (lambda r: _pem(r, "OPENSSH "), ["{s}", "deploy key below\n{s}"]),
    "postgres_url": (_url("postgresql", "db.internal:5432/app"), GENERIC),
    "mysql_url": (_url("mysql", "10.0.0.5:3306/shop"), GENERIC),
    "amqp_url": (_url("amqps", "mq.internal:5671/vhost"), GENERIC),
    "redis_url": (_url("rediss", "cache.internal:6380/0"), GENERIC),
    "mongodb_url": (_url("mongodb+srv", "cluster0.abcde.mongodb.net/prod"), GENERIC),
    "password_assignment": (
        _same(_password),
        [
            "password={s}",
            "DB_PASSWORD: {s}",
            'secret: "{s}"',
            "token={s}",
            "api_key = '{s}'",
            "set client_secret={s} in the env",
            '{{"accessToken": "{s}"}}',
            "login pw: {s}",
        ],
    ),
    "password_in_prose": (
        _same(_password),
        [
            "the admin password is {s}",
            "The password for the staging db is {s}.",
            "fyi the root password on prod is now {s}",
            "wifi passphrase is {s}, don't share it",
            "Grafana admin password was reset to {s} yesterday.",
        ],
    ),
}


def _ulid(rng: random.Random) -> str:
    return _s(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26)


LOOKALIKES: dict[str, tuple[Callable[[random.Random], str], list[str]]] = {
    "git_sha": (
        lambda r: _s(r, HEX, 40),
        [
            "fixed in commit {s}",
            "the AWS deploy broke at {s}, revert it",
            "secret rotation landed in {s}",
        ],
    ),
    "short_sha": (lambda r: _s(r, HEX, 7), ["see {s} for the token refresh fix"]),
    "uuid": (
        lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
        ["request id {s} failed", "tenant {s} has its own api key"],
    ),
    "sha256": (
        lambda r: _s(r, HEX, 64),
        ["sha256 of the release tarball is {s}", "image digest sha256:{s}"],
    ),
    "md5_in_prose": (lambda r: _s(r, HEX, 32), ["the file's md5 is {s}"]),
    "version": (
        lambda r: (
            f"{r.randrange(10)}.{r.randrange(30)}.{r.randrange(100)}"
            + r.choice(["", "-rc1", "-beta.2+build.5", ".post1"])
        ),
        ["upgraded postgres to {s}", "token library pinned at {s}", "v{s} fixes the secret leak"],
    ),
    "base64_prose": (
        lambda r: base64.b64encode(
            r.choice(["hello world", "the quick brown fox", "deploy on friday", "ok then"]).encode()
        ).decode(),
        ["base64 of the greeting is {s}", "the header carries {s} as a sample"],
    ),
    "ulid": (_ulid, ["memory {s} supersedes the old rule", "see audit event {s}"]),
    "identifier": (
        lambda r: r.choice(
            [
                "getUserAccountSettingsByIdAndTenant",
                "MAX_RETRY_COUNT_FOR_BACKGROUND_JOBS",
                "refresh_token_expiry_seconds",
                "PasswordResetTokenRepository",
                "api_key_rotation_interval_days",
                "SecretsManagerClientFactory",
            ]
        ),
        ["rename {s} before the release", "{s} lives in the auth module"],
    ),
    "password_prose": (
        lambda r: r.choice(["stored", "required", "rotated", "hashed", "never", "missing"]),
        [
            "the password is {s} in vault",
            "the api key is {s} every 90 days",
            "the token is {s} for service accounts",
        ],
    ),
    "config_mention": (
        lambda r: r.choice(["${DB_PASSWORD}", "<your-token>", "os.environ['API_KEY']", "***"]),
        ["password={s}", "token: {s}", "set api_key = {s} locally"],
    ),
    "config_words": (
        lambda r: r.choice(
            [
                "auth: oauth2",
                "auth: basic",
                "pwd: /home/ci/app",
                "the token is valid for 3600 seconds",
                "the secret is in 1Password",
                "password must be at least 12 characters",
                "token: 3 retries then fail",
                "oauth: enabled for the admin console",
                "max_tokens=4096 and token_count: 512",
            ]
        ),
        ["{s}", "note: {s}"],
    ),
    "url_no_password": (
        lambda r: r.choice(
            [
                "https://user@example.com/repo.git",
                "postgres://db.internal:5432/app",
                "ssh://git@host",
            ]
        ),
        ["clone from {s}", "connect to {s} with your own creds"],
    ),
    "email_and_paths": (
        lambda r: r.choice(
            ["ops@acme.io", "/home/ci/.ssh/id_rsa.pub", "src/auth/token_store.py", "sk-learn"]
        ),
        ["ping {s} about the token rotation", "check {s} before the deploy"],
    ),
}


def generate(seed: int = 1, reps: int = 3) -> tuple[list[Sample], list[Sample]]:
    """``reps`` random secrets per format and context, and as many look-alikes per context."""
    rng = random.Random(seed)
    secrets: list[Sample] = []
    for fmt, (make, contexts) in FORMATS.items():
        for ctx in contexts:
            for _ in range(reps):
                embedded, secret = make(rng)
                secrets.append(Sample(fmt, ctx.format(s=embedded), secret))
    lookalikes: list[Sample] = []
    for fmt, (make_plain, contexts) in LOOKALIKES.items():
        for ctx in contexts:
            for _ in range(reps):
                lookalikes.append(Sample(fmt, ctx.format(s=make_plain(rng)), ""))
    return secrets, lookalikes


_MARKER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")


def leaked(sample: Sample, redacted: str) -> bool:
    """True when any 8-character window of the secret survives redaction (the markers,
    which name the rule, are not the secret)."""
    redacted = _MARKER.sub(" ", redacted)
    s = sample.secret
    if len(s) <= 8:
        return s in redacted
    return any(s[i : i + 8] in redacted for i in range(len(s) - 7))


@dataclass
class Scores:
    secrets: int
    missed: int
    lookalikes: int
    false_positives: int
    per_format: dict[str, tuple[int, int]]
    """format -> (samples, missed)"""
    misses: list[Sample]
    fps: list[Sample]

    @property
    def recall(self) -> float:
        return 1 - self.missed / self.secrets

    @property
    def fp_rate(self) -> float:
        return self.false_positives / self.lookalikes


def score(secrets: list[Sample], lookalikes: list[Sample]) -> Scores:
    """Recall over the secrets and the false-positive rate over the look-alikes."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses, fps = [], []
    for sample in secrets:
        out = redact_secrets(normalize(sample.text))[0]
        per[sample.fmt][0] += 1
        if leaked(sample, out):
            per[sample.fmt][1] += 1
            misses.append(sample)
    for sample in lookalikes:
        text = normalize(sample.text)
        if redact_secrets(text)[0] != text:
            per["lookalike:" + sample.fmt][1] += 1
            fps.append(sample)
        per["lookalike:" + sample.fmt][0] += 1
    return Scores(
        secrets=len(secrets),
        missed=len(misses),
        lookalikes=len(lookalikes),
        false_positives=len(fps),
        per_format={k: (v[0], v[1]) for k, v in per.items()},
        misses=misses,
        fps=fps,
    )


def _prose_kb(seed: int) -> str:
    from benchmarks.common import synthetic_memories

    return "\n".join(text for _, text in synthetic_memories(400, seed=seed))


def throughput(texts: list[str], repeats: int) -> tuple[float, float, float]:
    """Median, min and max CPU microseconds per KB of ``redact_secrets`` over ``texts``.
    CPU time (``process_time``), not wall time: the benchmark machine is shared, and wall
    time there mostly measures the neighbours."""
    size_kb = sum(len(t.encode()) for t in texts) / 1024
    runs = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(5):  # several passes per run: process_time ticks coarsely
            for t in texts:
                redact_secrets(t)
        runs.append((time.process_time() - t0) / 5 * 1e6 / size_kb)
    return statistics.median(runs), min(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=4, help="secrets per format and context")
    parser.add_argument("--repeats", type=int, default=15, help="timing repeats")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown here")
    args = parser.parse_args()

    from benchmarks.common import header

    secrets, lookalikes = generate(args.seed, args.reps)
    s = score(secrets, lookalikes)
    prose = [p for p in _prose_kb(args.seed).split("\n") if p]
    t_prose = throughput(prose, args.repeats)
    notes_changed = sum(redact_secrets(p)[0] != p for p in prose)
    t_corpus = throughput([x.text for x in secrets + lookalikes], args.repeats)
    big = "\n".join(prose)  # one ~40 KB document: cost per KB when a memory is large
    t_big = throughput([big], args.repeats)

    command = (
        f"python benchmarks/bench_secrets.py --seed {args.seed} --reps {args.reps} "
        f"--repeats {args.repeats}" + (f" --out {args.out}" if args.out else "")
    )
    lines = header("Secret redaction: recall, false positives, speed", command)
    secret_formats = [k for k in s.per_format if not k.startswith("lookalike:")]
    lines += [
        f"Generated corpus (seed {args.seed}): {s.secrets} secrets in {len(secret_formats)} "
        f"formats x {min(len(c) for _, c in FORMATS.values())}-"
        f"{max(len(c) for _, c in FORMATS.values())} sentence contexts x {args.reps}, and "
        f"{s.lookalikes} look-alikes in {len(LOOKALIKES)} kinds. A secret is missed when "
        "any 8-character window of it survives; a look-alike is a false positive when its "
        "text changes at all. Engine: `memsvc.hygiene.secrets.redact_secrets` after "
        "`normalize` (the write path).",
        "",
        "Caveat: the rules and this generator were written together, from the vendors' "
        "documented formats, so the recall below is in-distribution: it shows every listed "
        "format is covered in these contexts, not how the engine fares on variants nobody "
        "generated. Look-alikes were chosen to be hard (hex near `aws`/`secret`, prose "
        "about passwords, placeholders such as `${DB_PASSWORD}`).",
        "",
        "## Totals",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| recall | {s.recall:.4f} ({s.secrets - s.missed}/{s.secrets}) |",
        f"| false-positive rate on look-alikes | {s.fp_rate:.4f} "
        f"({s.false_positives}/{s.lookalikes}) |",
        f"| ordinary engineering notes changed | {notes_changed}/{len(prose)} |",
        "",
        f"## Speed (CPU µs per KB, median [min-max] of {args.repeats} runs of 5 passes)",
        "",
        "| text | µs/KB |",
        "|---|---:|",
        f"| ordinary engineering notes, one memory at a time (~{len(prose)} notes) "
        f"| {t_prose[0]:.1f} [{t_prose[1]:.1f}-{t_prose[2]:.1f}] |",
        f"| the generated corpus (secrets + look-alikes) "
        f"| {t_corpus[0]:.1f} [{t_corpus[1]:.1f}-{t_corpus[2]:.1f}] |",
        f"| one {len(big.encode()) // 1024} KB document "
        f"| {t_big[0]:.1f} [{t_big[1]:.1f}-{t_big[2]:.1f}] |",
        "",
        "## Per format",
        "",
        "| format | samples | missed | recall |",
        "|---|---:|---:|---:|",
    ]
    for fmt in secret_formats:
        n, missed = s.per_format[fmt]
        lines.append(f"| {fmt} | {n} | {missed} | {1 - missed / n:.3f} |")
    lines += ["", "## Look-alikes", "", "| kind | samples | redacted (false positive) |"]
    lines.append("|---|---:|---:|")
    for fmt, (n, fp) in s.per_format.items():
        if fmt.startswith("lookalike:"):
            lines.append(f"| {fmt.removeprefix('lookalike:')} | {n} | {fp} |")
    if s.misses or s.fps:
        lines += ["", "## Examples of misses and false positives", ""]
        for x in s.misses[:10] + s.fps[:10]:
            lines.append(f"- {x.fmt}: `{x.text[:100]!r}`")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
