"""Keyword matching for scripts without spaces and for emoji, through the service search
(the fake embedder's vectors carry no meaning, so the lexical side decides)."""

from __future__ import annotations

import pytest

from memsvc import Actor, MemoryService, ProjectCreate, SearchQuery
from memsvc.domain import Kind, MemoryDraft
from memsvc.retrieval.analysis import analyze

NOTES = [
    "我们决定使用数据库连接池来提高性能",  # "we decided to use a database connection pool"
    "部署之前必须运行所有测试",  # "all tests must run before deploying"
    "本番環境へのデプロイは金曜日に禁止です",  # "deploying to production is banned on Fridays"
    "ログはすべて東京リージョンに保存する",  # "all logs are kept in the Tokyo region"
    "release party 🎉 on friday after the deploy",
    "the on-call rota lives in the wiki 📟",
    "family night 👨\u200d👩\u200d👧 is every thursday",
    "thumbs up 👍🏽 means approved in code review",
    "plain english note about postgres indexes",
]


@pytest.fixture
def acme(service: MemoryService, actor: Actor) -> str:
    service.create_project(actor, ProjectCreate(id="acme"))
    for note in NOTES:
        service.add_memory(actor, "acme", MemoryDraft(kind=Kind.FACT, content=note))
    return "acme"


def test_cjk_runs_become_bigrams_and_emoji_stay_tokens() -> None:
    assert analyze("使用数据库") == ["使用", "用数", "数据", "据库"]
    assert analyze("库") == ["库"]
    assert "🎉" in analyze("party🎉time")
    assert analyze("❤️") == analyze("❤")  # presentation selectors do not matter
    assert analyze("user_id 数据") == ["user_id", "user", "id", "数据"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("数据库", NOTES[0]),  # "database", a 3-character word inside a sentence
        ("测试", NOTES[1]),  # "test"
        ("金曜日", NOTES[2]),  # "Friday" in Japanese kanji
        ("東京", NOTES[3]),  # "Tokyo"
        ("🎉", NOTES[4]),
        ("📟", NOTES[5]),
        ("👨\u200d👩\u200d👧", NOTES[6]),
        ("👍", NOTES[7]),  # the base emoji finds its skin-tone variant
    ],
)
def test_a_cjk_word_or_an_emoji_finds_its_memory_first(
    service: MemoryService, actor: Actor, acme: str, query: str, expected: str
) -> None:
    hits = service.search_memories(actor, acme, SearchQuery(query=query, limit=3))
    assert hits, query
    assert hits[0].memory.content == expected
    assert hits[0].parts["lexical_scaled"] == 1.0
