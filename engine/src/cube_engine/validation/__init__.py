"""The validator's checks (REALISM.md): identities fail a scenario, industry bands warn."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from cube_contracts import BusinessEvent, BusinessType, CheckResult, MasterData, ScenarioSpec
from cube_engine.validation import bakery, hotel, identity, ledger, quality, saas, text
from cube_engine.validation.context import Ctx

BY_TYPE = {BusinessType.BAKERY: bakery, BusinessType.HOTEL: hotel, BusinessType.TECH_STARTUP: saas}


class ValidationReport(BaseModel):
    """Every check with its outcome, and the KPIs per month."""

    passed: bool = Field(description="No check of severity error failed.")
    checks: list[CheckResult] = Field(description="Every check run.")
    kpis: dict[str, Any] = Field(description="KPIs per month and for the whole scenario.")
    summary: str = Field(description="One line for a person.")


def validate(
    spec: ScenarioSpec, master: MasterData, plans: list[dict[str, Any]], events: list[BusinessEvent]
) -> ValidationReport:
    """Run every check that applies to the scenario's business type: the numbers' checks, then
    the text events' (`check_numbers` and `with_text`, which may run apart, in that order)."""
    numbers, told = text.split(events)
    return with_text(check_numbers(spec, master, plans, numbers), spec, told, {e.event_id for e in numbers})


def check_numbers(
    spec: ScenarioSpec, master: MasterData, plans: list[dict[str, Any]], numbers: list[BusinessEvent]
) -> ValidationReport:
    """The report on a scenario's numbers: every event but its text events."""
    ctx = Ctx(spec, master, plans, numbers)
    module = BY_TYPE[spec.business_type]
    monthly = module.kpis(ctx)
    cash, staff = ledger.cash(ctx), ledger.headcount(ctx)
    for k, extra in zip(monthly, ledger.kpis(ctx, cash, staff), strict=True):
        k.update(extra)
    results = [
        identity.keys_unique(ctx), identity.references_resolve(ctx), identity.event_in_month(ctx),
        identity.amount_direction(ctx), module.cardinality(ctx), ledger.header_totals(ctx),
        ledger.entities_active(ctx), identity.payroll_matches_salaries(ctx),
        ledger.headcount_roll_forward(ctx, staff), ledger.cash_roll_forward(ctx, cash),
        *module.checks(ctx, monthly), *quality.checks(ctx, monthly),
    ]  # fmt: skip
    kpis: dict[str, Any] = {"monthly": monthly}
    if hasattr(module, "year_kpis"):
        kpis["year"] = module.year_kpis(monthly)
    return _report(results, kpis)


def with_text(
    numbers: ValidationReport, spec: ScenarioSpec, told: list[BusinessEvent], numbers_ids: set[UUID]
) -> ValidationReport:
    """The report on the whole scenario: `numbers`' checks and the check of its text events."""
    return _report([*numbers.checks, text.text_events(spec, told, numbers_ids)], numbers.kpis)


def _report(results: list[CheckResult], kpis: dict[str, Any]) -> ValidationReport:
    failed = [c for c in results if not c.passed and c.severity == "error"]
    warned = [c for c in results if not c.passed and c.severity == "warning"]
    summary = f"{len(results) - len(failed) - len(warned)} of {len(results)} checks passed"
    if failed:
        summary += f", {len(failed)} failed ({', '.join(c.name for c in failed)})"
    if warned:
        summary += (
            f", {len(warned)} warning{'s' if len(warned) > 1 else ''} ({', '.join(c.name for c in warned)})"
        )
    return ValidationReport(passed=not failed, checks=results, kpis=kpis, summary=summary)
