"""Write-path text hygiene: Unicode normalisation, invisible-character removal and secret
redaction, applied before anything is stored or embedded."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "normalize", "redact_secrets"]

# Format (Cf) characters hide text from humans and reorder it (zero-width, bidi overrides);
# other control characters are noise. Newlines and tabs stay.
_KEEP_CONTROL = {"\n", "\t"}

_SECRET_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
    ),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})")),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("openai_key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}")),
    ("stripe_key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    (
        "url_credentials",
        re.compile(r"(?<=://)[^/\s:@]{1,128}:[^/\s@]{1,256}(?=@)"),
    ),
    (
        "assigned_secret",
        re.compile(
            r"(?i)(?<![A-Za-z0-9])((?:api[_-]?key|secret|password|passwd|pwd|token|auth[_-]?token"
            r"|access[_-]?key|client[_-]?secret)[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED)([^\s\"',;]{6,})"
        ),
    ),
]


def normalize(text: str) -> str:
    """NFC, invisible and control characters removed, line ends unified, outer space trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(
        ch
        for ch in text
        if ch in _KEEP_CONTROL or unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co")
    )
    return text.strip()


def redact_secrets(text: str) -> tuple[str, int]:
    """Replace credentials with ``[REDACTED:<type>]``; returns the text and the count."""
    count = 0
    for name, pattern in _SECRET_PATTERNS:
        if name == "assigned_secret":

            def _keep_key(m: re.Match[str], name: str = name) -> str:
                return f"{m.group(1)}[REDACTED:{name}]"

            text, n = pattern.subn(_keep_key, text)
        else:
            text, n = pattern.subn(f"[REDACTED:{name}]", text)
        count += n
    return text, count


def clean_text(text: str) -> tuple[str, int]:
    """Normalise then redact: what the write path stores and embeds."""
    return redact_secrets(normalize(text))
