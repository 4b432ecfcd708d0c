"""The fleet dashboard: one audited read over every project the caller may read.

Activity over time comes from the audit ledger, whose events name the caller (principal,
channel, client) but not the agent identity; agent identities come from ``agent_activity``
(last seen) and from memory provenance (what each one wrote). Both views are returned side
by side rather than guessing a join between them.
"""

from __future__ import annotations

from datetime import timedelta

from memsvc.clock import as_utc, utcnow
from memsvc.domain import (
    READ_ACTIONS,
    ActivityDay,
    Actor,
    DashboardAgent,
    DashboardCaller,
    DashboardProject,
    DashboardQuarantine,
    FleetDashboard,
    Status,
)
from memsvc.errors import InvalidInput
from memsvc.operations.calls import Calls
from memsvc.store import dashboard as dash_store
from memsvc.store import memories as mem_store
from memsvc.store import projects as proj_store
from memsvc.store.models import QuarantineRow

__all__ = ["FLEET_READS", "Dashboard", "is_read"]

FLEET_READS = READ_ACTIONS
"""Audited actions that change nothing; every other successful action counts as a write."""

MAX_DAYS = 90


def is_read(action: str) -> bool:
    """Whether an audited action is a read on the dashboard's chart."""
    return action in FLEET_READS


class Dashboard:
    """Builds ``FleetDashboard`` from SQL aggregates in one read transaction."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.db = calls.db

    def fleet(self, actor: Actor, days: int = 14) -> FleetDashboard:
        """The dashboard over the projects ``actor`` may read (none: an empty list)."""
        with self.calls.call(actor, "fleet_dashboard") as call, self.db.read() as s:
            call.detail["days"] = days
            if not 1 <= days <= MAX_DAYS:
                raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
            readable = self.calls.readable(actor, s)
            call.detail["projects"] = readable[:200]
            now = utcnow()
            first = (now - timedelta(days=days - 1)).date()
            since = now.replace(year=first.year, month=first.month, day=first.day, hour=0,
                                minute=0, second=0, microsecond=0)  # fmt: skip
            labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
            rows = {r.id: r for r in proj_store.list_project_rows(s) if r.id in set(readable)}
            events = dash_store.event_counts(s, readable, since)
            agent_rows = dash_store.agents(s, readable)
            written = dash_store.agent_memory_counts(s, readable)
            quarantines = dash_store.open_quarantines(s, readable)
            out = []
            for pid in readable:
                counts, _tags, review = mem_store.stats(s, pid, max_tags=0)
                held = [q for q in quarantines if q.project_id == pid]
                agents = [
                    DashboardAgent(
                        principal=a.principal,
                        agent=a.agent,
                        last_active_at=as_utc(a.last_active_at) or a.last_active_at,
                        memories=written.get((pid, a.principal, a.agent), {}),
                        quarantined=any(_holds(q, a.principal, a.agent) for q in held),
                    )
                    for a in agent_rows
                    if a.project_id == pid
                ]
                mine = [e for e in events if e[0] == pid]
                row = rows[pid]
                out.append(
                    DashboardProject(
                        project=pid,
                        name=row.name,
                        archived=row.archived_at is not None,
                        last_active_at=as_utc(row.last_active_at),
                        counts=counts,
                        review=review,
                        proposed=sum(counts.get(Status.PROPOSED.value, {}).values()),
                        agents=agents,
                        callers=_callers(mine, labels),
                        quarantines=[_quarantine(q) for q in held],
                        activity=_series(mine, labels),
                    )
                )
            return FleetDashboard(generated_at=now, days=days, projects=out)


def _holds(q: QuarantineRow, principal: str, agent: str) -> bool:
    """Whether an open quarantine was placed on this agent identity or its principal."""
    return (q.field == "agent" and q.value == agent and agent != "") or (
        q.field == "principal" and q.value == principal
    )


def _quarantine(q: QuarantineRow) -> DashboardQuarantine:
    return DashboardQuarantine(
        id=q.id,
        field=q.field,
        value=q.value,
        created_at=as_utc(q.created_at) or q.created_at,
        memories=len(q.memories),
    )


def _series(events: list[dash_store.EventCount], labels: list[str]) -> list[ActivityDay]:
    """Reads and writes per day, every day of the window present (zeros included)."""
    reads = dict.fromkeys(labels, 0)
    writes = dict.fromkeys(labels, 0)
    for _p, day, _pr, _ch, _cl, action, n, _last in events:
        if day in reads:
            (reads if is_read(action) else writes)[day] += n
    return [ActivityDay(day=d, reads=reads[d], writes=writes[d]) for d in labels]


def _callers(events: list[dash_store.EventCount], labels: list[str]) -> list[DashboardCaller]:
    """One series per (principal, channel, client), most recently active first."""
    groups: dict[tuple[str, str, str | None], list[dash_store.EventCount]] = {}
    for e in events:
        groups.setdefault((e[2], e[3], e[4]), []).append(e)
    out = []
    for (principal, channel, client), mine in groups.items():
        days = _series(mine, labels)
        out.append(
            DashboardCaller(
                principal=principal,
                channel=channel,
                client=client,
                last_event_at=max(as_utc(e[7]) or e[7] for e in mine),
                reads=sum(d.reads for d in days),
                writes=sum(d.writes for d in days),
                days=days,
            )
        )
    return sorted(out, key=lambda c: c.last_event_at, reverse=True)
