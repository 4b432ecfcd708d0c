"""Text analysis for the lexical index: lower-cased ``\\w+`` words (identifiers also split at
``_``), English stop words dropped, Snowball (Porter 2) stems. Chinese, Japanese and Korean
runs, which have no spaces between words, become overlapping character bigrams (a lone
character stays a unigram), so a two-character word matches inside a longer sentence.
Emoji (with their modifiers and ZWJ sequences) are tokens of their own. Queries and
memories go through the same function."""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from typing import Any

__all__ = ["STOP_WORDS", "Analysed", "analyze", "analyze_batch", "analyze_many", "named_terms"]

# Scripts written without spaces between words: Han (with extensions and compatibility
# ideographs), Hiragana, Katakana (full and half width) and Hangul.
_CJK = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
# Emoji bases: pictographs, symbols, dingbats, regional indicators (flags come in pairs).
_EMOJI = "\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
# After a base: skin tones, variation selectors, the keycap mark, tags, or a ZWJ and
# another base (family, profession and flag sequences stay one token).
_EMOJI_TAIL = "[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f]"
_TOKEN = re.compile(
    f"(?P<cjk>[{_CJK}]+)"
    f"|(?P<emoji>[\U0001f1e6-\U0001f1ff]{{2}}|[{_EMOJI}]{_EMOJI_TAIL}*(?:\u200d[{_EMOJI}]{_EMOJI_TAIL}*)*)"
    f"|(?P<word>[^\\W{_CJK}]+)"
)
MAX_WORD_CHARS = 40

# A classic English stop list (function words only: no content words, nothing fitted).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "won",
    ]
)

_stemmer: Any = None
_load_lock = threading.Lock()
_use_lock = threading.Lock()


def _stemmer_instance() -> Any:
    global _stemmer
    if _stemmer is None:
        with _load_lock:
            if _stemmer is None:
                import Stemmer

                _stemmer = Stemmer.Stemmer("english")
    return _stemmer


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    with _use_lock:  # a PyStemmer object is not safe to share across threads
        return str(_stemmer_instance().stemWord(word))


def _is_flag(term: str) -> bool:
    return "\U0001f1e6" <= term[0] <= "\U0001f1ff"


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _emoji_terms(token: str) -> list[str]:
    # text and emoji presentation (U+FE0E/U+FE0F) are the same symbol to a reader
    term = token.replace("\ufe0f", "").replace("\ufe0e", "")[:MAX_WORD_CHARS]
    if len(term) > 1 and not _is_flag(term):
        return [term, term[0]]  # 👍🏽 is also found by 👍, a family by its first member
    return [term]


def _word_terms(token: str) -> list[str]:
    """A word's terms before stemming: identifiers count whole and by their parts
    (`user_id` also matches "user id"), stop words dropped, each cut to ``MAX_WORD_CHARS``."""
    core = token.strip("_")
    parts = [p for p in core.split("_") if p] if "_" in core else []
    return [term[:MAX_WORD_CHARS] for term in (core, *parts) if term and term not in STOP_WORDS]


def analyze(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (they are term frequencies)."""
    _stemmer_instance()
    out: list[str] = []
    for m in _TOKEN.finditer(text.lower()):
        kind, token = m.lastgroup, m.group()
        if kind == "cjk":
            out.extend(_cjk_terms(token))
        elif kind == "emoji":
            out.extend(_emoji_terms(token))
        else:
            out.extend(map(_stem, _word_terms(token)))
    return out


Token = str | tuple[str, str, str]
"""A token of ``analyze_batch``: a word as itself, or ``_TOKEN``'s (cjk, emoji, word) groups
(the word group set for a word of a text that is not all ASCII)."""

_NOT_WORD = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))
_ASCII_WORDS = bytes.maketrans(
    _NOT_WORD + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b" " * len(_NOT_WORD) + b"abcdefghijklmnopqrstuvwxyz",
)
"""Lower-cases ASCII and blanks every ASCII character ``\\w`` does not match."""


def _tokens(text: str) -> list[Token]:
    """``_TOKEN``'s matches in lower-cased ``text``. An ASCII text holds neither CJK nor
    emoji, so its tokens are its runs of ``[0-9A-Za-z_]``, lower-cased: one
    ``bytes.translate`` and a split, several times faster than the regex, whose every
    position first tries the CJK and emoji classes (``benchmarks/results/lexical_load.md``)."""
    if not text.isascii():
        return _TOKEN.findall(text.lower())
    return text.encode().translate(_ASCII_WORDS).decode().split()  # type: ignore[return-value]


@dataclass(frozen=True)
class Analysed:
    """Many texts analysed at once: their tokens in order, how many each text has, and
    the terms of each distinct token (``analyze``'s terms of a text are its tokens' terms,
    concatenated). The tokens are one flat list, not a list per text: each such list is
    an object the garbage collector tracks that lives to the end of the batch, so a
    batch's lists set collections off and are walked by them (with a server's heap
    around, torch's objects included, that made ``analyze_batch`` up to twice as slow:
    ``benchmarks/results/lexical_load.md``)."""

    tokens: list[Token]
    counts: list[int]
    terms: dict[Token, tuple[str, ...]]
    """In the order the tokens first occur over the texts."""

    def each(self) -> list[list[str]]:
        """``[analyze(t) for t in texts]``."""
        of, at = self.terms.__getitem__, iter(self.tokens)
        return [list(chain.from_iterable(map(of, islice(at, k)))) for k in self.counts]


def analyze_batch(texts: Iterable[str]) -> Analysed:
    """``analyze`` of many texts (a project's rows on load): the same terms, but each
    distinct token is analysed once per batch, and the distinct words are stemmed in one
    ``stemWords`` call of a stemmer of this call's own, so no lock is taken (a PyStemmer
    object is not safe to share across threads) and searches analysing their queries
    meanwhile never wait for a bulk load. Its cache is off: the words are already
    distinct, and past ~10k words PyStemmer's cache made ``stemWords`` slower."""
    import Stemmer

    tokens: list[Token] = []
    counts = []
    for text in texts:
        found = _tokens(text)
        tokens += found
        counts.append(len(found))
    distinct = list(dict.fromkeys(tokens))
    unstemmed = [_unstemmed(token) for token in distinct]
    words = list(dict.fromkeys(chain.from_iterable(w for w in unstemmed if w)))
    stem = dict(zip(words, Stemmer.Stemmer("english", 0).stemWords(words), strict=True))
    terms = {
        token: tuple(map(stem.__getitem__, found)) if found is not None else _symbol_terms(token)
        for token, found in zip(distinct, unstemmed, strict=True)
    }
    return Analysed(tokens, counts, terms)


def _unstemmed(token: Token) -> list[str] | None:
    """A word token's terms before stemming; None for CJK and emoji, which are not stemmed."""
    if isinstance(token, str):
        return _word_terms(token)
    return _word_terms(token[2]) if token[2] else None


def _symbol_terms(token: Token) -> tuple[str, ...]:
    cjk, emoji = token[0], token[1]
    return tuple(_cjk_terms(cjk) if cjk else _emoji_terms(emoji))


def analyze_many(texts: Iterable[str]) -> list[list[str]]:
    """``[analyze(t) for t in texts]``, faster (``analyze_batch``)."""
    return analyze_batch(texts).each()


_NAME = re.compile(r"[^\W_]+(?:['\u2019.\-][^\W_]+)*")
_OPENS_SENTENCE = frozenset(".!?:;\"'(\u201c\u2018[\n")
_CALENDAR_WORDS = frozenset(
    w.lower()
    for w in (*calendar.month_name, *calendar.month_abbr, *calendar.day_name, *calendar.day_abbr)
    if w
)
TITLE_CASE_SHARE = 0.5
"""A text in which more than this share of the words after a sentence's first are
capitalised is written in title case: its capitals name nothing (``named_terms``)."""


@lru_cache(maxsize=1024)
def named_terms(text: str) -> frozenset[str]:
    """The index terms of the words ``text`` names as proper nouns: a word holding a
    capital letter that does not open a sentence ("What is *Nate*'s favourite book?",
    "did we move *Redis* to Frankfurt?"), or that opens one but has a capital after its
    first letter (an identifier: "*OpenSearch* tuning"). Acronyms ("SQL", "API", "EU")
    are left out: most name a kind of thing a project may well hold under another name
    ("a SQL migration" of a project that says PostgreSQL). Month and weekday names and "I"
    are not names; a title-case text names nothing. Used by relevance: a query naming
    something the project never mentions is seldom about any of its memories
    (``LexicalIndex.evidence``)."""
    named: list[str] = []
    later = capitalised = 0
    for m in _NAME.finditer(text):
        word = m.group()
        before = text[: m.start()].rstrip()
        opens = not before or before[-1] in _OPENS_SENTENCE
        capital = any(c.isupper() for c in word)
        if not opens:
            later += 1
            capitalised += capital
        bare = word.lower().split("'")[0].split("\u2019")[0]
        if not capital or bare in _CALENDAR_WORDS or bare == "i" or _acronym(word):
            continue
        if not opens or any(c.isupper() for c in word[1:]):
            named.append(word)
    if later >= 4 and capitalised > TITLE_CASE_SHARE * later:
        return frozenset()
    return frozenset(t for word in named for t in analyze(word))


def _acronym(word: str) -> bool:
    """Whether ``word`` is written in capitals alone ("SQL", "S3"), possessive aside."""
    letters = [c for c in word.split("'")[0].split("\u2019")[0] if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)
