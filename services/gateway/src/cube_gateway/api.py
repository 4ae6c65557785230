"""HTTP routes: thin handlers over the repository."""

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import ValidationError

from cube_contracts import EngineName, ScenarioSpec, Stage, legacy_stage
from cube_gateway import cursor, repository
from cube_gateway.backpressure import Admission
from cube_gateway.schemas import (
    EventPage,
    LegacyGenerate,
    LegacyStarted,
    LegacyStatus,
    Problem,
    RetriedView,
    ScenarioList,
    ScenarioRequest,
    ScenarioView,
    ValidationView,
)
from cube_gateway.settings import GatewaySettings
from cube_runtime.redrive import Conflict

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    422: {"model": Problem},
    503: {"model": Problem},
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Problem}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "Request body too large."}
}
BUSY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "Too many scenarios are queued or processing; come back after Retry-After.",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again (at least 1).",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}
CREATED: dict[int | str, dict[str, Any]] = {
    202: {"headers": {"Location": {"description": "The scenario's URL.", "schema": {"type": "string"}}}},
    200: {"model": ScenarioView, "description": "A replayed Idempotency-Key: the scenario it created."},
}
STATIC = Path(__file__).parent / "static"


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def _admission(request: Request) -> Admission:
    return request.app.state.admission


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
Settings = Annotated[GatewaySettings, Depends(_settings)]
Admit = Annotated[Admission, Depends(_admission)]


def to_spec(body: ScenarioRequest, settings: GatewaySettings) -> ScenarioSpec:
    """The spec a request stands for, with the server's defaults filled in."""
    engine = body.engine or settings.cube_engine
    if engine is EngineName.CLAUDE and not settings.anthropic_api_key:
        raise HTTPException(422, "engine 'claude' needs ANTHROPIC_API_KEY, which is not set on this server")
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    try:
        spec = ScenarioSpec(**body.model_dump(exclude={"seed", "engine"}), seed=seed, engine=engine)
    except ValidationError as exc:
        raise HTTPException(422, f"spec: {exc.errors()[0]['msg']}") from None
    try:
        from cube_engine import validate_params
    except ImportError:
        return spec
    try:
        validate_params(spec)
    except ValueError as exc:
        raise HTTPException(422, f"params: {exc}") from None
    return spec


def legacy_current_stage(stage: str, months_done: int, months_total: int) -> str:
    """The first version's stage name (stage3_month_N) for a stage of the status table."""
    try:
        return legacy_stage(Stage(stage), months_done, months_total)
    except ValueError:  # a stage newer than this gateway: pass it through rather than fail the poll
        return stage


async def _view_or_404(pool: asyncpg.Pool, sid: UUID) -> ScenarioView:
    found = await repository.view(pool, sid)
    if found is None:
        raise HTTPException(404, f"no scenario {sid}")
    return found


@router.post(
    "/api/scenarios",
    status_code=202,
    response_model=ScenarioView,
    responses={**CREATED, **ERRORS, **CONFLICT, **TOO_LARGE, **BUSY},
)
async def create_scenario(
    body: ScenarioRequest,
    pool: Pool,
    settings: Settings,
    admission: Admit,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ScenarioView:
    """Accept a scenario; it is generated in the background."""
    spec = to_spec(body, settings)
    # A replayed Idempotency-Key adds no work, so it is answered even when the pipeline is full.
    if not (idempotency_key and await repository.known_key(pool, idempotency_key)):
        await admission.admit(pool)
    try:
        sid, created = await repository.create(pool, spec, idempotency_key, repository.request_hash(body))
    except repository.IdempotencyConflict as exc:
        raise HTTPException(409, str(exc)) from None
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/scenarios/{sid}"
    return await _view_or_404(pool, sid)


@router.get("/api/scenarios", response_model=ScenarioList, responses=ERRORS)
async def list_scenarios(
    pool: Pool,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor_: Annotated[str | None, Query(alias="cursor")] = None,
) -> ScenarioList:
    """Scenarios, newest first."""
    after = None
    if cursor_:
        try:
            created, sid = cursor.decode(cursor_, 2)
            after = (datetime.fromisoformat(created), UUID(sid))
        except ValueError as exc:
            raise HTTPException(422, f"cursor: {exc}") from None
    items = await repository.page(pool, limit, after)
    last = items[-1] if len(items) == limit else None
    return ScenarioList(
        items=items,
        next_cursor=cursor.encode(last.created_at.isoformat(), last.scenario_id) if last else None,
    )


@router.get("/api/scenarios/{scenario_id}", response_model=ScenarioView, responses=ERRORS)
async def get_scenario(scenario_id: UUID, pool: Pool) -> ScenarioView:
    """One scenario's status, progress and summary."""
    return await _view_or_404(pool, scenario_id)


@router.get("/api/scenarios/{scenario_id}/master-data", responses=ERRORS)
async def master_data(scenario_id: UUID, pool: Pool) -> dict:  # type: ignore[type-arg]
    """Company and catalogue of the scenario."""
    await _view_or_404(pool, scenario_id)
    data = await pool.fetchval("SELECT data FROM master_data WHERE scenario_id = $1", scenario_id)
    if data is None:
        raise HTTPException(404, "master data is not ready yet: the scenario has not been planned")
    return data  # type: ignore[no-any-return]


@router.get("/api/scenarios/{scenario_id}/events", response_model=EventPage, responses=ERRORS)
async def list_events(
    scenario_id: UUID,
    pool: Pool,
    month: Annotated[int | None, Query(ge=1, le=24)] = None,
    event_type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=200)] = None,
) -> EventPage:
    """Business events in (month, sequence) order."""
    await _view_or_404(pool, scenario_id)
    after = None
    if cursor_:
        try:
            m, seq = cursor.decode(cursor_, 2)
            after = (int(m), int(seq))
        except ValueError as exc:
            raise HTTPException(422, f"cursor: {exc}") from None
    rows = await repository.events(pool, scenario_id, limit, after, month, event_type)
    last = rows[-1] if len(rows) == limit else None
    return EventPage(
        items=[repository.event_json(r) for r in rows],
        next_cursor=cursor.encode(last["month"], last["seq"]) if last else None,
    )


@router.get("/api/scenarios/{scenario_id}/validation", response_model=ValidationView, responses=ERRORS)
async def validation(scenario_id: UUID, pool: Pool) -> ValidationView:
    """Every check of the validator, and the KPIs per month."""
    await _view_or_404(pool, scenario_id)
    row = await pool.fetchrow(
        "SELECT passed, summary, checks, kpis FROM validations WHERE scenario_id = $1", scenario_id
    )
    if row is None or row["checks"] is None:
        raise HTTPException(404, "not validated yet")
    return ValidationView(
        scenario_id=scenario_id,
        passed=row["passed"],
        summary=row["summary"],
        checks=row["checks"],
        kpis=row["kpis"] or {},
    )


@router.post(
    "/api/generate",
    status_code=202,
    response_model=LegacyStarted,
    responses={**ERRORS, **TOO_LARGE, **BUSY},
)
async def legacy_generate(
    body: LegacyGenerate, pool: Pool, settings: Settings, admission: Admit
) -> LegacyStarted:
    """The first version's start call."""
    spec = to_spec(ScenarioRequest(business_type=body.scenarioType), settings)
    await admission.admit(pool)
    sid, _ = await repository.create(pool, spec, None)
    return LegacyStarted(scenarioId=sid, status="queued")


@router.get("/api/status/{scenarioId}", response_model=LegacyStatus, responses=ERRORS)
async def legacy_status(scenarioId: UUID, pool: Pool) -> LegacyStatus:
    """The first version's status call, with its stage names."""
    found = await _view_or_404(pool, scenarioId)
    stage = legacy_current_stage(found.current_stage, found.months_done, found.months_total)
    return LegacyStatus(
        scenarioId=found.scenario_id, status=found.status, progress=found.progress,
        currentStage=stage, errorMessage=found.error_message,
    )  # fmt: skip


@router.post(
    "/api/scenarios/{scenario_id}/cancel",
    status_code=202,
    response_model=ScenarioView,
    responses={**ERRORS, **CONFLICT},
)
async def cancel_scenario(scenario_id: UUID, pool: Pool) -> ScenarioView:
    """Cancel a queued or processing scenario; every service stops working on it.

    Cancelling a cancelled scenario changes nothing; a completed or failed one answers 409."""
    try:
        await repository.cancel(pool, scenario_id)
    except LookupError:
        raise HTTPException(404, f"no scenario {scenario_id}") from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return await _view_or_404(pool, scenario_id)


@router.post(
    "/api/scenarios/{scenario_id}/retry",
    status_code=202,
    response_model=RetriedView,
    responses={**ERRORS, **CONFLICT, **BUSY},
)
async def retry_scenario(scenario_id: UUID, pool: Pool, admission: Admit) -> RetriedView:
    """Re-run only what failed of a failed scenario; `requeued` names the work queued again.

    Anything but a failed scenario answers 409, and so does one that failed its checks (a retry
    would make the same data). A retry is new work: refused with 429 while the pipeline is full."""
    if await admission.full(pool):
        found = await _view_or_404(pool, scenario_id)
        if found.status == "failed":
            raise admission.refusal()
    try:
        requeued = await repository.retry(pool, scenario_id)
    except LookupError:
        raise HTTPException(404, f"no scenario {scenario_id}") from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    found = await _view_or_404(pool, scenario_id)
    return RetriedView(**found.model_dump(), requeued=requeued)


@router.delete("/api/scenarios/{scenario_id}", status_code=204, response_class=Response, responses=ERRORS)
async def delete_scenario(scenario_id: UUID, pool: Pool) -> Response:
    """Remove a scenario and all its data; a running one is cancelled first."""
    try:
        await repository.delete(pool, scenario_id)
    except LookupError:
        raise HTTPException(404, f"no scenario {scenario_id}") from None
    return Response(status_code=204)


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")
