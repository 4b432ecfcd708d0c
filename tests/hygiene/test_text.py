"""Which text the doors refuse, and what normalisation keeps and strips."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from memsvc.hygiene.text import _SUSPECT, check_text, invalid_text, normalize, renderable

# Persian "mi-khaham" (I want): the ZWNJ separates the prefix from the verb within one word
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("bot-\ud83d", "surrogate"),
        ("\udc00tail", "surrogate"),
        ("nul\x00byte", "control"),
        ("bell\x07", "control"),
        ("esc\x1b[31m", "control"),
        ("\ufdd0", "non-character"),
        ("x\ufffe", "non-character"),
        ("x\uffff", "non-character"),
        ("x\U0001fffe", "non-character"),
        ("x\U0010ffff", "non-character"),
    ],
)
def test_invalid_text_is_named_and_refused(text: str, what: str) -> None:
    reason = invalid_text(text)
    assert reason is not None and what in reason
    with pytest.raises(ValueError, match=what):
        check_text(text)


@pytest.mark.parametrize(
    "text",
    ["tab\tnew\nline\r\n", PERSIAN, FAMILY, ENGLAND, "café ❤️ 東京", "\u200bzero width", ""],
)
def test_valid_text_passes_unchanged(text: str) -> None:
    assert invalid_text(text) is None
    assert check_text(text) is text


def test_normalisation_keeps_the_zwnj_of_persian_words() -> None:
    assert normalize(f"  {PERSIAN} ") == PERSIAN
    sentence = f"\u0627\u0648 {PERSIAN} \u0628\u0631\u0648\u062f"  # "he ... go"
    assert normalize(sentence) == sentence


def test_normalisation_keeps_emoji_zwj_sequences_and_variation_selectors() -> None:
    text = f"family {FAMILY} loves \u2764\ufe0f and \u263a\ufe0e, keycap 1\ufe0f\u20e3"
    assert normalize(text) == text


def test_normalisation_keeps_emoji_tag_sequences_but_strips_hidden_tags() -> None:
    assert normalize(f"go {ENGLAND}!") == f"go {ENGLAND}!"
    # tag characters spelling "ignore" outside a flag are hidden text aimed at a model
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore")
    assert normalize(f"fine{hidden} text") == "fine text"


def test_normalisation_strips_invisible_characters_that_never_mean_anything() -> None:
    assert normalize("pass\u200bword") == "password"
    assert normalize("\ufeffbom") == "bom"
    assert normalize("soft\u00adhyphen") == "softhyphen"
    # bidi overrides reorder what a reader sees ("Trojan Source")
    assert normalize("admin\u202e\u2066 check\u2069\u202c") == "admin check"
    # a joiner between two ASCII letters only hides a word from matching
    assert normalize("pass\u200dword and to\u200ck\u200cen") == "password and token"
    assert normalize("\u200dedge\u200c") == "edge"


def test_normalisation_unifies_line_ends_drops_controls_and_composes() -> None:
    assert normalize("a\r\nb\rc\x7f\x85") == "a\nb\nc"
    assert normalize("cafe\u0301") == "caf\u00e9"
    assert normalize("  keep\tinner  ") == "keep\tinner"


def test_stored_text_with_a_lone_surrogate_becomes_renderable() -> None:
    row = {"agent": "bot-\ud83d", "tags": ["ok", "x\x00"], "n": 3}
    fixed = renderable(row)
    assert fixed == {"agent": "bot-\ufffd", "tags": ["ok", "x\ufffd"], "n": 3}
    json.dumps(fixed, ensure_ascii=False).encode()  # what a JSON response does; no error
    clean = {"agent": "bot", "tags": ["a"]}
    assert renderable("fine") == "fine" and renderable(clean) == clean


def test_the_fast_path_knows_every_control_and_format_character() -> None:
    # normalize() skips its per-character pass when _SUSPECT finds nothing: a Unicode
    # update adding a format character must fail here, not slip through
    missing = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in ("Cc", "Cf") and not _SUSPECT.match(chr(cp))
    ]
    assert missing == []
