"""Recall: search queries and hits, context requests and packs, handoffs, opened projects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from memsvc.domain.memories import Change, Memory, Project
from memsvc.domain.vocabulary import CleanText, Kind, Status, _Wire

DEFAULT_MIN_RELEVANCE = 0.5
"""The relevance a hit needs by default: more likely relevant than not (``relevance``
estimates that probability). Agents pay for every token they read, so a weaker hit is
left out; pass ``min_relevance=0`` to see everything ranked."""


class SearchQuery(_Wire):
    """A recall request: the query text and its filters."""

    query: CleanText
    kinds: list[Kind] | None = None
    tags: list[CleanText] | None = None
    paths: list[CleanText] | None = None
    status: list[Status] | None = None
    """Default: active only."""
    as_of: datetime | None = None
    """Search the project as it was then; relative times in ``query`` are read from it."""
    limit: int = 10
    min_relevance: float = Field(default=DEFAULT_MIN_RELEVANCE, ge=0.0, le=1.0)
    """Leave out hits whose ``relevance`` is below this (0 keeps every ranked hit)."""

    def empty_hint(self) -> str:
        """What a door tells the caller when this query found nothing: an empty list
        means no memory is relevant enough, which is an answer, not an error."""
        return (
            f"No memory in this project is relevant to this query (min_relevance "
            f"{self.min_relevance:g}). Nothing about it has been stored here: go ahead "
            "without recalled memory, rephrase with the project's own words, or repeat "
            "the search with min_relevance=0 to see the weak matches."
        )


class SearchHit(BaseModel):
    """One search result: the memory and its score."""

    memory: Memory
    score: float
    """The ranking score: orders the hits of one query, not comparable across queries."""
    parts: dict[str, float | int | None]
    """Why it ranked: dense/lexical ranks and scores, fusion, kind/pin/importance/recency,
    and the absolute ``cosine`` and ``coverage`` that ``relevance`` is computed from."""
    relevance: float = 0.0
    """Estimated probability (0..1) that the memory is relevant to the query: comparable
    across queries and projects (see ``memsvc/retrieval/relevance.py``)."""
    provenance_line: str


class ContextRequest(_Wire):
    """A request for a context pack: the task and a token budget."""

    task: CleanText | None = None
    budget_tokens: int = 2000
    paths: list[CleanText] | None = None
    """Files being worked on: rules scoped to other paths are left out."""


class HandoffDraft(_Wire):
    """A session's closing summary, as REST and MCP take it (validated like every draft)."""

    summary: CleanText
    done: list[CleanText] = Field(default_factory=list)
    next: list[CleanText] = Field(default_factory=list)
    open_questions: list[CleanText] = Field(default_factory=list)


class Omitted(BaseModel):
    id: str
    kind: Kind
    reason: str
    tokens: int
    relevance: float | None = None
    """Set when it was left out for low relevance to the task."""


class ContextPack(BaseModel):
    """Memories packed into a token budget as one delimited text block."""

    project: str
    text: str
    items: list[Memory]
    omitted: list[Omitted]
    tokens: int
    budget_tokens: int
    min_relevance: float | None = None
    """The relevance task-matched memories needed (None: no task, nothing was ranked)."""
    omitted_more: int = 0
    """How many more were left out than ``omitted`` lists (it stops at ``OMITTED_LISTED``,
    so a project with thousands of rules does not answer with thousands of entries)."""


class OpenedProject(BaseModel):
    project: Project
    context: ContextPack
    since: list[Change]
    """What changed in the project since this agent identity was last active in it (other
    principals' and other agents' changes), within the token budget."""
    last_seen_at: datetime | None
    agent: str = ""
    """The agent identity the project was resolved for (``""``: none was given)."""
    since_omitted: int = 0
    """Changes left out of ``since`` to stay within the token budget."""
    workspace_project: str | None = None
    """The project whose root paths hold the caller's workspace, when one does (an agent
    started in a checkout almost always wants that one): offered, not opened."""
