"""Text hygiene: which strings a door refuses, how kept text is normalised, and the entry
point to secret redaction (the rules live in :mod:`memsvc.hygiene.secrets`).

Two different jobs:

* :func:`invalid_text` says why a string can never be accepted (lone surrogates, Unicode
  non-characters, C0 controls other than tab and line ends). Such text cannot be encoded
  as UTF-8, breaks JSON renderers, or is never produced by a sane client; the doors refuse
  it with a 422 naming the field, before anything is stored.
* :func:`normalize` cleans acceptable text: NFC, unified line ends, and removal of the
  invisible characters that are never meaningful (zero-width spaces, bidi overrides used
  for "Trojan Source" tricks, stray tag characters used to smuggle hidden instructions).
  Joiners (ZWJ/ZWNJ), variation selectors and emoji tag sequences are kept where they are
  part of the text: Persian and Indic words and emoji sequences need them.
"""

from __future__ import annotations

import re
import unicodedata

from memsvc.hygiene.secrets import redact_secrets

__all__ = [
    "check_text",
    "clean_text",
    "invalid_text",
    "normalize",
    "redact_secrets",
    "renderable",
]

# Non-characters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
_INVALID = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff{_NONCHARS}]")

ZWNJ = "\u200c"
ZWJ = "\u200d"
# Invisible format characters that carry meaning in real text, kept as they are:
# LRM/RLM/ALM mark direction in mixed Hebrew/Arabic text; the prepended concatenation
# marks (Arabic number signs and the like) are rendered glyphs.
_KEEP_FORMAT = frozenset(
    "\u200e\u200f\u061c\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd"
)
# An emoji tag sequence (subdivision flags such as England's): a base emoji, tag characters
# U+E0020..U+E007E and the cancel tag U+E007F. Tags anywhere else are hidden ASCII.
_TAG_SEQUENCE = re.compile("[\U0001f3f4][\U000e0020-\U000e007e]+\U000e007f")
_ASCII_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# Every control (Cc) and format (Cf) character of Unicode 14 (Python 3.11's tables), so
# text with none of them skips the per-character pass; a test checks the list still covers
# the running Python's tables.
_SUSPECT = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd"
    "\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)


def invalid_text(text: str) -> str | None:
    """Why ``text`` must be refused, or None when it is acceptable."""
    found = _INVALID.search(text)
    if found is None:
        return None
    ch = found.group()
    if "\ud800" <= ch <= "\udfff":
        what = "a lone UTF-16 surrogate (half of a character)"
    elif ch < " ":
        what = "a control character"
    else:
        what = "a Unicode non-character"
    return f"contains {what} U+{ord(ch):04X} at position {found.start()}"


def check_text(text: str) -> str:
    """``text`` unchanged when acceptable; ValueError saying why not (for pydantic)."""
    reason = invalid_text(text)
    if reason is not None:
        raise ValueError(f"text {reason}; send valid UTF-8 text")
    return text


def _joiner_is_part_of_text(prev: str, nxt: str) -> bool:
    # A joiner between two letters, marks or symbols, at least one of them outside ASCII,
    # shapes a word (Persian, Indic) or glues an emoji sequence. Between two ASCII letters,
    # doubled, or at an edge it does nothing visible and only hides text from matching.
    if not prev or not nxt or prev in (ZWJ, ZWNJ) or nxt in (ZWJ, ZWNJ):
        return False
    if prev.isascii() and nxt.isascii():
        return False
    return unicodedata.category(prev)[0] in "LMS" and unicodedata.category(nxt)[0] in "LMS"


def _drop(ch: str) -> bool:
    if ch in "\n\t":
        return False
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return True
    return cat == "Cf" and ch not in _KEEP_FORMAT


def normalize(text: str) -> str:
    """NFC, never-meaningful invisible and control characters removed, line ends unified,
    outer space trimmed. Joiners, variation selectors and emoji tag sequences stay."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():  # the common case, and ASCII has nothing invisible but controls
        return _ASCII_CONTROLS.sub("", text).strip()
    text = unicodedata.normalize("NFC", text)
    if _SUSPECT.search(text) is None:
        return text.strip()
    return _strip_invisible(text).strip()


def _strip_invisible(text: str) -> str:
    keep_spans = [m.span() for m in _TAG_SEQUENCE.finditer(text)] if "\U000e007f" in text else []
    out: list[str] = []
    span_i = 0
    for i, ch in enumerate(text):
        while span_i < len(keep_spans) and keep_spans[span_i][1] <= i:
            span_i += 1
        if span_i < len(keep_spans) and keep_spans[span_i][0] <= i:
            out.append(ch)
        elif ch in (ZWJ, ZWNJ):
            prev = out[-1] if out else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if _joiner_is_part_of_text(prev, nxt):
                out.append(ch)
        elif ch.isascii():
            if not _ASCII_CONTROLS.match(ch):
                out.append(ch)
        elif not _drop(ch):
            out.append(ch)
    return "".join(out)


def renderable(value: object) -> object:
    """``value`` (a str, or lists and dicts of them) with every character :func:`invalid_text`
    refuses replaced by U+FFFD, for rows stored before the doors refused them: JSON cannot
    encode a lone surrogate, so one such row would otherwise fail every read of a project.
    Returns ``value`` itself when nothing needs replacing (the common case costs a scan)."""
    if isinstance(value, str):
        return _INVALID.sub("\ufffd", value) if _INVALID.search(value) else value
    if isinstance(value, list):
        return [renderable(v) for v in value]
    if isinstance(value, dict):
        return {renderable(k): renderable(v) for k, v in value.items()}
    return value


def clean_text(text: str) -> tuple[str, int]:
    """Normalise then redact: what the write path stores and embeds."""
    return redact_secrets(normalize(text))
