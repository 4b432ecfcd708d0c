"""REST v1 route of the fleet dashboard (the inspector's Fleet page): one read over every
project the caller may read. It parses, calls one service method, returns."""

from __future__ import annotations

from fastapi import APIRouter

from memsvc.api.deps import ActorDep, ServiceDep
from memsvc.domain import FleetDashboard

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["fleet"])


@router.get("/fleet/dashboard")
def fleet_dashboard(service: ServiceDep, actor: ActorDep, days: int = 14) -> FleetDashboard:
    """Per readable project: last activity, reads and writes per UTC day over ``days``
    (1-90), memories by kind and status, items waiting for review, agent identities and
    open quarantines. Projects the caller may not read never appear."""
    return service.fleet_dashboard(actor, days)
