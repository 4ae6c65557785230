"""The claude engine: the simulation owns every number, Claude writes the text around them."""

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel

from cube_contracts.model import BusinessEvent, LlmUsage, MasterData, ScenarioSpec
from cube_engine.base import Engine, Keep, Later, Replanned
from cube_engine.claude import calls, merge, numbers, params
from cube_engine.claude.client import LlmClient, ToolCall
from cube_engine.claude.config import LlmCallFailed
from cube_engine.claude.facts import month_facts
from cube_engine.claude.prompts import scenario_context
from cube_engine.claude.usage import UsageBook

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
MAX_REMEMBERED = 10_000


# What the claude engine needs of the simulation: the same three steps.
NumbersEngine = Engine


class Prepared(NamedTuple):
    """What every call of a scenario shares, made once per process: the master data as stored
    (see `_canonical`), its fingerprint, and the scenario context text of the cached system prompt."""

    given: MasterData
    master: MasterData
    context: str
    fingerprint: str


class ClaudeEngine:
    """An `Engine` that wraps the simulated one; see DESIGN.md, "Engines"."""

    name = "claude"

    def __init__(self, llm: LlmClient, simulated: NumbersEngine, max_named: int = 40) -> None:
        self.llm = llm
        self.simulated = simulated
        self.max_named = max_named  # entities per list the model names; the rest keep simulated names
        self.book = UsageBook()
        self._params: dict[UUID, dict[str, Any]] = {}  # master_data's parameters, for plan_months
        self._prepared: OrderedDict[UUID, Prepared] = OrderedDict()
        self._calls = CallsFirst()

    def usage(self, scenario_id: UUID, step: str) -> LlmUsage:
        """Usage of `step` ("master_data", "trends" or "month:N") of a scenario, then forgotten."""
        return self.book.pop(scenario_id, step)

    async def master_data(self, scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
        base = await self.simulated.master_data(scenario_id, spec)
        req = calls.company_call(spec, base, self.max_named)
        draft: Any = await self._call(scenario_id, "master_data", req)
        proposal = {name: getattr(draft.company, name) for name in params.PROPOSED}
        effective = params.effective_params(spec, proposal)
        self._params[scenario_id] = effective
        while len(self._params) > MAX_REMEMBERED:
            self._params.pop(next(iter(self._params)))
        # The simulation owns the numbers: it runs again with the clamped parameters; ids stay.
        sim_spec = params.with_params(spec, effective)
        master = base if sim_spec is spec else await self.simulated.master_data(scenario_id, sim_spec)
        return merge.merge_master(master, draft, spec, calls.company_allowed(spec, master))

    async def plan_months(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> list[dict[str, Any]]:
        _, full = await self.plan_early(scenario_id, spec, master)
        return await full

    async def plan_early(
        self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData
    ) -> tuple[list[dict[str, Any]], "asyncio.Future[list[dict[str, Any]]]"]:
        """The simulation's plans, marked as waiting for their story, as soon as they are made;
        and the full plans once the year's story is written (see PlansEarly)."""
        # The planner asks for master data, then the plan, in one go; a plan without master data
        # from this process (not the planner's way) runs with the spec's own parameters.
        effective = self._params.get(scenario_id) or dict(spec.params)
        prepared = self._prepare(scenario_id, spec, master)
        # The year's story needs master data only, so it is written while the simulation plans.
        story = asyncio.ensure_future(
            self._call(scenario_id, "trends", calls.year_call(spec, prepared.master, prepared.context))
        )
        try:
            plans = await self.simulated.plan_months(scenario_id, params.with_params(spec, effective), master)
        except BaseException:
            story.cancel()
            raise
        mark = {"params": effective, merge.MASTER: prepared.fingerprint, merge.PENDING: True}
        early = [{**p, merge.STORY_KEY: mark} for p in plans]

        async def full() -> list[dict[str, Any]]:
            try:
                draft = await story
            finally:
                story.cancel()  # when the caller cancels this
            allowed = numbers.Ledger(prepared.master, spec.months)
            return merge.merge_year(plans, draft, spec, allowed, effective, prepared.fingerprint)

        return early, asyncio.ensure_future(full())

    async def render_month(
        self,
        scenario_id: UUID,
        spec: ScenarioSpec,
        master: MasterData,
        month: int,
        plan: dict[str, Any],
        later: Later | None = None,
        keep: Keep | None = None,
    ) -> list[BusinessEvent]:
        """Raises Replanned when `plan` (or the story `later` gives) was made from other master data."""
        story = plan.get(merge.STORY_KEY) or {"theme": "", "notable": []}
        prepared = self._prepare(scenario_id, spec, master)
        made_from = story.get(merge.MASTER)
        if made_from and made_from != prepared.fingerprint:
            raise Replanned(f"month {month} was planned from other master data than the stored one")
        numbers_plan = {k: v for k, v in plan.items() if k != merge.STORY_KEY}
        sim_spec = params.with_params(spec, story.get("params"))
        self._calls.enter()
        try:
            ledger = await self.simulated.render_month(scenario_id, sim_spec, master, month, numbers_plan)
            # The numbers are kept (stored) while the text is written, once no month of this
            # process is still to send its call: storing holds up no call. A month whose answer
            # comes back first stores its numbers with its text.
            kept = _Kept(keep, ledger, self._calls) if keep is not None else None
            try:
                told = await self._tell(
                    scenario_id, spec, month, story, made_from, prepared, ledger, later, self._calls.leave
                )
            except BaseException:
                if kept is not None:
                    await kept.abandon()
                raise
        finally:
            self._calls.leave()
        if kept is not None:
            await kept.done()
        return ledger + told

    async def _tell(
        self,
        scenario_id: UUID,
        spec: ScenarioSpec,
        month: int,
        story: dict[str, Any],
        made_from: str | None,
        prepared: Prepared,
        ledger: list[BusinessEvent],
        later: Later | None,
        sent: Callable[[], None],
    ) -> list[BusinessEvent]:
        """The month's text events: its story (awaited from `later` if pending), then its call
        (`sent` is called once the call is under way)."""
        master = prepared.master
        facts = month_facts(ledger, master)  # while the story may still be being written
        if story.get(merge.PENDING):
            if later is None:
                raise RuntimeError(f"month {month} was requested before its story, and nothing waits for it")
            story = (await later()).get(merge.STORY_KEY) or {}
            if story.get(merge.MASTER) != made_from or story.get(merge.PENDING):
                raise Replanned(f"the story of month {month} was written for other master data")
        notable = merge.link_related(story.get("notable", []), ledger)
        told = [*facts.values(), *(n.get("related", "") for n in notable)]
        allowed = _month_allowed(master, ledger, told, spec, month)
        month_story = {**story, "notable": notable}
        req = calls.month_call(spec, month, month_story, facts, allowed, prepared.context)
        call = asyncio.ensure_future(self._call(scenario_id, f"month:{month}", req))
        sent()
        draft = await call
        theme = story.get("theme", "")
        return merge.month_events(scenario_id, spec, month, draft, notable, theme, ledger, allowed)

    def _prepare(self, scenario_id: UUID, spec: ScenarioSpec, master: MasterData) -> Prepared:
        """The scenario's Prepared for this master data object; months of a scenario share it."""
        found = self._prepared.get(scenario_id)
        if found is None or found.given is not master:
            canonical = _canonical(master)
            found = Prepared(master, canonical, scenario_context(spec, canonical), fingerprint(canonical))
            self._prepared[scenario_id] = found
            while len(self._prepared) > 64:
                self._prepared.popitem(last=False)
        self._prepared.move_to_end(scenario_id)
        return found

    async def _call(self, scenario_id: UUID, step: str, req: ToolCall[T]) -> T:
        try:
            value, usage = await self.llm.call(req)
        except LlmCallFailed as exc:
            self.book.add(scenario_id, step, exc.usage)
            raise
        self.book.add(scenario_id, step, usage)
        log.info("llm step done", extra={"scenario_id": str(scenario_id), "step": step, **usage.model_dump()})
        return value


def fingerprint(master: MasterData) -> str:
    """Names master data the same in every process, whatever order storage gave its keys."""
    dumped = orjson.dumps(master.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(dumped).hexdigest()[:16]


def _canonical(master: MasterData) -> MasterData:
    """Master data as every process sees it after storage (a JSON round trip), so the planner and
    the month-workers render the same scenario context and share its cached prompt."""
    return MasterData.model_validate_json(master.model_dump_json())


def _month_allowed(
    master: MasterData, ledger: list[BusinessEvent], told: list[str], spec: ScenarioSpec, month: int
) -> numbers.Ledger:
    """Master data's values, the month's amounts, and the numbers of the month's request (its
    label, its facts, the ledger events its notable events explain)."""
    amounts = [e.amount for e in ledger if e.amount is not None]
    in_request = numbers.numbers_in(calls.month_label(spec, month), *told)
    return numbers.Ledger(master, amounts, month, spec.months, extra=in_request)


class CallsFirst:
    """Months of this process that have yet to send their call; work that can wait for them
    (storing a month's numbers ahead) waits until there are none."""

    def __init__(self) -> None:
        self._months: set[asyncio.Task[Any] | None] = set()
        self._quiet = asyncio.Event()
        self._quiet.set()

    def enter(self) -> None:
        self._months.add(asyncio.current_task())
        self._quiet.clear()

    def leave(self) -> None:
        """The current month's call is out (or the month is over); a second call does nothing."""
        self._months.discard(asyncio.current_task())
        if not self._months:
            self._quiet.set()

    async def quiet(self) -> None:
        await self._quiet.wait()


class _Kept:
    """A month's numbers, stored by `keep` once no call waits on this process."""

    def __init__(self, keep: Keep, ledger: list[BusinessEvent], calls: CallsFirst) -> None:
        self._started = False
        self._task = asyncio.ensure_future(self._run(keep, list(ledger), calls))

    async def _run(self, keep: Keep, ledger: list[BusinessEvent], calls: CallsFirst) -> None:
        await calls.quiet()
        self._started = True
        await keep(ledger)

    async def done(self) -> None:
        """Wait for the store if it has begun; otherwise it is not needed any more."""
        if self._started:
            await self._task
        else:
            await self.abandon()

    async def abandon(self) -> None:
        """Stop a store that has not begun; one that has is not cut off mid-write, and its
        outcome no longer matters."""
        if not self._started:
            self._task.cancel()
        await asyncio.wait([self._task])
        if not self._task.cancelled():
            self._task.exception()  # looked at: a failed store of an abandoned month is no news
