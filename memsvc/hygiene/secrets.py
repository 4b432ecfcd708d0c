"""Secret redaction: credentials in a caller's text become ``[REDACTED:<rule>]``.

The token formats are the vendors' documented prefixes and lengths, as catalogued by the
gitleaks project's default rules (https://github.com/gitleaks/gitleaks, MIT licence) and
Yelp's detect-secrets plugins (Apache-2.0); the expressions here are written for this
module (prose, not source files) rather than copied.

Speed: every rule carries literal keywords; a rule's expression runs only when one of its
keywords occurs in the lower-cased text, so ordinary prose costs a few substring scans.
Rules that match a bare high-entropy string (AWS secret keys, Twilio auth tokens) also
need a keyword nearby and mixed character classes, so git SHAs, UUIDs, hex digests and
base64 of ordinary words are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RULES", "Finding", "find_secrets", "redact_secrets"]

_END = r"(?![A-Za-z0-9_-])"  # a token ends where its alphabet ends
_START = r"(?<![A-Za-z0-9_-])"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    """Lower-case literals, one of which must occur for the pattern to be tried (none:
    the pattern always runs, so it must be cheap: a literal prefix or a tight class)."""
    group: int = 0
    """The capture group holding the secret (0: the whole match)."""
    accept: Callable[[str], bool] | None = None
    """A last check on the captured secret (entropy, not a placeholder)."""
    trim: str = ""
    """Trailing characters given back to the sentence (a full stop after a password)."""


@dataclass(frozen=True)
class Finding:
    rule: str
    start: int
    end: int


def _mixed(value: str) -> bool:
    """Random keys mix upper case, lower case and digits; hashes and words do not."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


_PLACEHOLDERS = re.compile(
    r"(?i)^(?:\[?redacted.*|\*+|x{3,}|\.{3,}|<[^>]*>|\$\{?[\w.]+\}?|\{\{.*\}\}|%[\w]+%|"
    r"none|null|nil|true|false|empty|undefined|unset|required|optional|string|secret|"
    r"password|token|os\.environ.*|env\[.*|process\.env.*|getenv.*|"
    # auth schemes and paths are what "auth: …" and "pwd: …" name in ordinary config
    r"o?auth2?|basic|bearer|digest|jwt|saml|oidc|ldap|kerberos|ntlm|mtls|[/~].*)$"
)
# Words that follow "password is …" in ordinary prose about passwords.
_PROSE_TEXT = """a an the not never now still also only just being been stored kept saved set reset
    changed rotated managed hashed salted encrypted required needed missing wrong invalid
    correct incorrect expired empty optional same different too very in on at of for from
    to by with without inside under behind available shared secret secure unique strong
    weak long short there here known unknown given sent generated random mandatory used
    typed visible hidden case sensitive what which that this it ok fine"""
_PROSE_WORDS = frozenset(_PROSE_TEXT.split())


def _not_placeholder(value: str) -> bool:
    return _PLACEHOLDERS.match(value) is None


def _looks_like_password(value: str) -> bool:
    """A word after "password is" is a password when it could not be ordinary prose."""
    if not _not_placeholder(value) or value.lower() in _PROSE_WORDS:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_symbol = any(not c.isalnum() for c in value)
    inner_upper = any(c.isupper() for c in value[1:])
    return has_digit or has_symbol or inner_upper or len(value) >= 12


def _rule(
    name: str,
    pattern: str,
    keywords: tuple[str, ...],
    group: int = 0,
    accept: Callable[[str], bool] | None = None,
    flags: int = 0,
    trim: str = "",
) -> Rule:
    return Rule(name, re.compile(pattern, flags), keywords, group, accept, trim)


# The end of a key name (``DB_PASSWORD``, ``githubToken``): what comes before it does not
# matter, and leaving it out keeps the expression from retrying at every word.
_KEY_NAMES = (
    r"(?:password|passwd|passphrase|pwd|pw|secret|secret[_-]?key|token"
    r"|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret"
    r"|credentials?|auth)"
)

RULES: tuple[Rule, ...] = (
    # --- keys and blocks ---------------------------------------------------------------
    _rule(
        "private_key",
        r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        ("private key",),
        flags=re.S,
    ),
    # --- cloud providers -----------------------------------------------------------------
    _rule(
        "aws_access_key",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        ("akia", "asia", "abia", "acca", "a3t"),
    ),
    _rule(
        "aws_secret_key",
        r"(?i)(?:aws|secret[ _-]?(?:access[ _-]?)?key)[^\n]{0,60}?"
        r"(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        ("aws", "secret"),
        group=1,
        accept=_mixed,
    ),
    _rule("gcp_api_key", r"\bAIza[0-9A-Za-z_-]{35}" + _END, ("aiza",)),
    _rule("google_oauth_secret", r"\bGOCSPX-[A-Za-z0-9_-]{28}" + _END, ("gocspx-",)),
    _rule("google_oauth_token", r"\bya29\.[0-9A-Za-z_-]{30,}", ("ya29.",)),
    _rule(
        "azure_storage_key",
        r"(?i)\b(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})",
        ("accountkey", "sharedaccesskey"),
        group=1,
    ),
    _rule(
        "azure_sas_signature",
        r"(?i)(?:[?&;]|\b)sig=([A-Za-z0-9%+/]{20,}(?:%3D|=){0,2})",
        ("sig=",),
        group=1,
    ),
    _rule(
        "azure_ad_client_secret",
        r"(?<![A-Za-z0-9_~.])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
        ("q~",),
    ),
    _rule("digitalocean_token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", ("_v1_",)),
    _rule("alibaba_access_key", r"\bLTAI[A-Za-z0-9]{20}\b", ("ltai",)),
    # --- code hosts and CI ---------------------------------------------------------------
    _rule(
        "github_token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _rule("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{22,}", ("github_pat_",)),
    _rule(
        "gitlab_token",
        r"\bgl(?:pat|dt|rt|ptt|soat|cbt|ft|imt|agent|oas|ffct|wt)-[A-Za-z0-9_.-]{20,}",
        tuple(
            f"gl{p}-"
            for p in (
                "pat",
                "dt",
                "rt",
                "ptt",
                "soat",
                "cbt",
                "ft",
                "imt",
                "agent",
                "oas",
                "ffct",
                "wt",
            )
        ),
    ),
    _rule("bitbucket_app_password", r"\bATBB[A-Za-z0-9_=.-]{20,}", ("atbb",)),
    _rule("atlassian_token", r"\bAT(?:ATT|CTT)3[A-Za-z0-9_=+/.-]{40,}", ("atatt3", "atctt3")),
    _rule("hashicorp_vault_token", r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr.")),
    _rule("pulumi_token", r"\bpul-[a-f0-9]{40}\b", ("pul-",)),
    _rule("sentry_token", r"\bsntry[su]_[A-Za-z0-9+/=_-]{40,}", ("sntry",)),
    _rule("supabase_token", r"\bsbp_[a-f0-9]{40}\b", ("sbp_",)),
    _rule("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b", ("dapi",)),
    _rule("doppler_token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}", ("dp.",)),
    _rule(
        "grafana_token",
        r"\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})",
        ("glsa_", "glc_"),
    ),
    _rule("linear_api_key", r"\blin_api_[A-Za-z0-9]{40}\b", ("lin_api_",)),
    _rule("postman_api_key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b", ("pmak-",)),
    _rule("newrelic_key", r"\bNR(?:AK|II|JS)-[A-Za-z0-9]{20,}", ("nrak-", "nrii-", "nrjs-")),
    _rule("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", ("shp",)),
    # --- chat ----------------------------------------------------------------------------
    _rule("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", ("xox",)),
    _rule("slack_app_token", r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+", ("xapp-",)),
    _rule(
        "slack_webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{10,}",
        ("hooks.slack.com",),
    ),
    _rule(
        "discord_webhook",
        r"discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
        ("/api/webhooks/",),
    ),
    _rule("telegram_bot_token", r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}" + _END, (":aa",)),
    # --- payment and mail ----------------------------------------------------------------
    _rule(
        "stripe_key",
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
    ),
    _rule("stripe_webhook_secret", r"\bwhsec_[A-Za-z0-9]{20,}", ("whsec_",)),
    _rule("square_token", r"\bsq0(?:atp|csp)-[0-9A-Za-z_-]{22,}", ("sq0",)),
    _rule("twilio_api_key", r"\bSK[0-9a-fA-F]{32}\b", ()),
    _rule(
        "twilio_auth_token",
        r"(?i)twilio[^\n]{0,60}?\b([0-9a-f]{32})\b",
        ("twilio",),
        group=1,
    ),
    _rule("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}", ("sg.",)),
    _rule("mailgun_key", r"\bkey-[0-9a-zA-Z]{32}\b", ("key-",)),
    _rule("mailgun_private_key", r"\b[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}\b", ()),
    _rule("mailchimp_key", r"\b[0-9a-f]{32}-us\d{1,2}\b", ("-us",)),
    # --- package registries --------------------------------------------------------------
    _rule("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    _rule("pypi_token", r"\bpypi-[A-Za-z0-9_-]{50,}", ("pypi-",)),
    _rule("rubygems_key", r"\brubygems_[a-f0-9]{48}\b", ("rubygems_",)),
    _rule("nuget_key", r"\boy2[a-z0-9]{43}\b", ("oy2",)),
    _rule("docker_hub_token", r"\bdckr_pat_[A-Za-z0-9_-]{27,}", ("dckr_pat_",)),
    # --- AI providers --------------------------------------------------------------------
    _rule("huggingface_token", r"\b(?:hf_|api_org_)[A-Za-z0-9]{30,}\b", ("hf_", "api_org_")),
    _rule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _rule(
        "openai_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        ("sk-",),
        accept=lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v),
    ),
    _rule("groq_key", r"\bgsk_[A-Za-z0-9]{40,}\b", ("gsk_",)),
    _rule("replicate_token", r"\br8_[A-Za-z0-9]{37}\b", ("r8_",)),
    _rule("perplexity_key", r"\bpplx-[A-Za-z0-9]{40,}\b", ("pplx-",)),
    _rule("xai_key", r"\bxai-[A-Za-z0-9]{60,}\b", ("xai-",)),
    # --- tokens in general ---------------------------------------------------------------
    _rule("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", ("eyj",)),
    _rule("mapbox_token", r"\b[sp]k\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}", ("k.eyj",)),
    _rule(
        "bearer_token",
        r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{24,})",
        ("bearer", "token"),
        group=1,
        accept=lambda v: _mixed(v) or (len(v) >= 32 and any(c.isdigit() for c in v)),
    ),
    _rule(
        "basic_auth",
        r"(?i)\bauthorization:\s*basic\s+([A-Za-z0-9+/]{8,}={0,2})",
        ("basic",),
        group=1,
    ),
    # --- connection strings --------------------------------------------------------------
    _rule(
        "connection_password",
        # anchored on "://" (a literal the engine scans for fast); the scheme is irrelevant
        r"://[^/\s:@]{0,128}:([^/\s@]{1,256})@",
        ("://",),
        group=1,
        accept=lambda v: _not_placeholder(v),
    ),
    # --- assignments and prose -----------------------------------------------------------
    _rule(
        "assigned_secret",
        # the key starts a word or a camelCase hump (DB_PASSWORD, accessToken), never the
        # middle of one ("oauth: enabled" names no secret)
        r"(?:(?<![a-z])|(?=[A-Z]))(?i:" + _KEY_NAMES + r")[\"']?\s*(?:=|:=|=>|:)\s*"
        r"(?:\"([^\"\n]{3,200})\"|'([^'\n]{3,200})'|([^\s\"',;]{4,200}))",
        ("pass", "pw", "secret", "token", "key", "credential", "auth"),
        group=-1,  # whichever of the three value groups matched
        accept=lambda v: _not_placeholder(v) and (len(v) >= 6 or not v.isalpha()),
    ),
    _rule(
        "password_in_prose",
        r"(?i)\b(?:password|passphrase|passcode|passwd|pwd|pin|secret|token|api key)"
        r"(?:\s+(?:for|of|on|to|at)\s+(?:the\s+|our\s+|my\s+)?[\w.@-]+(?:\s+[\w.@-]+)?){0,2}"
        r"\s+(?:(?:is|was|are|has been|becomes)(?:\s+(?:now|still|currently|actually|also))?"
        r"(?:\s+(?:set|reset|changed|updated|rotated)\s+to)?|=|(?:set|reset|changed|updated)\s+to)"
        r":?\s+"
        r"[\"'`“]?([^\s\"'`”]{3,128})",
        ("pass", "pwd", "pin", "secret", "token", "api key"),
        group=1,
        accept=_looks_like_password,
        trim=".,;:)",
    ),
)


def _trie_pattern(words: list[str]) -> str:
    """An alternation factored by prefix (``a(?:kia|sia)|…``): Python's ``re`` tries the
    alternatives of a flat list one by one at every position; a trie tries one branch."""
    if "" in words and len(words) == 1:
        return ""
    groups: dict[str, list[str]] = {}
    for w in words:
        if w:
            groups.setdefault(w[0], []).append(w[1:])
    branches = [re.escape(c) + _trie_pattern(rest) for c, rest in sorted(groups.items())]
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # a keyword ending here while longer ones go on: the longer ones are tried first
    return f"(?:{body})?" if "" in words else body


def _keyword_index(rules: tuple[Rule, ...]) -> tuple[re.Pattern[str], dict[str, set[int]]]:
    """One alternation of every keyword (found in a single scan of the text) and, for each
    keyword as matched, the rules it enables: a match also enables the rules of every
    keyword inside it, since the scan reports only the longest at a position."""
    keywords = sorted({k for r in rules for k in r.keywords}, key=len, reverse=True)
    enables: dict[str, set[int]] = {}
    for k in keywords:
        enables[k] = {i for i, r in enumerate(rules) if any(kw in k for kw in r.keywords)}
    return re.compile(_trie_pattern(keywords)), enables


_KEYWORDS, _ENABLES = _keyword_index(RULES)
_ALWAYS = frozenset(i for i, r in enumerate(RULES) if not r.keywords)


def _secret_span(rule: Rule, m: re.Match[str]) -> tuple[int, int] | None:
    if rule.group == -1:
        for g in range(1, (m.lastindex or 0) + 1):
            if m.group(g) is not None:
                return m.span(g)
        return None
    return m.span(rule.group)


def find_secrets(text: str) -> list[Finding]:
    """Every secret in ``text``, overlaps merged, in order of position."""
    enabled = set(_ALWAYS)
    for k in set(_KEYWORDS.findall(text.lower())):
        enabled |= _ENABLES[k]
    found: list[Finding] = []
    for i in sorted(enabled):  # rule order: specific rules first, ties go to them
        found.extend(_rule_findings(RULES[i], text))
    return _merged(found)


def _rule_findings(rule: Rule, text: str) -> list[Finding]:
    out = []
    for m in rule.pattern.finditer(text):
        span = _secret_span(rule, m)
        if span is not None and rule.trim:
            start, end = span
            while end > start and text[end - 1] in rule.trim:
                end -= 1
            span = (start, end)
        if span is None or span[1] - span[0] < 3:
            continue
        value = text[span[0] : span[1]]
        if "[REDACTED" in value or (rule.accept is not None and not rule.accept(value)):
            continue
        out.append(Finding(rule.name, span[0], span[1]))
    return out


def _merged(found: list[Finding]) -> list[Finding]:
    """The earliest, longest span wins; rule order breaks ties (specific rules first)."""
    if not found:
        return found
    found.sort(key=lambda f: (f.start, -f.end))
    merged = [found[0]]
    for f in found[1:]:
        last = merged[-1]
        if f.start < last.end:
            if f.end > last.end:
                merged[-1] = Finding(last.rule, last.start, f.end)
            continue
        merged.append(f)
    return merged


def redact_secrets(text: str) -> tuple[str, int]:
    """Replace credentials with ``[REDACTED:<rule>]``; returns the text and the count."""
    findings = find_secrets(text)
    if not findings:
        return text, 0
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(f"[REDACTED:{f.rule}]")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), len(findings)
