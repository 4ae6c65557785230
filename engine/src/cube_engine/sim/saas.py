"""A tech startup selling subscriptions: plans (free tier, monthly, annual, trials), cohorts,
upgrades, downgrades, cancellations, reactivations, invoices and failed payments, funding,
hiring and payroll, cloud and marketing costs. MRR movements follow Stripe/ChartMogul."""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from cube_contracts import BusinessType, Company, Entity, MasterData, ScenarioSpec
from cube_engine.sim import common
from cube_engine.sim.builder import MonthBuilder
from cube_engine.sim.streams import at, month_bounds, person, poisson, stream

PARAMS = {
    "customers": common.Param(150.0, 5.0, 100000.0),
    "signups_per_month": common.Param(55.0, 0.0, 50000.0),
}

# id, name, interval, price (cents per interval), tier (for up/downgrades)
PLANS = [("PL-FREE", "Free", "month", 0, 0), ("PL-STARTER", "Starter", "month", 2900, 1),
         ("PL-PRO", "Pro", "month", 9900, 2), ("PL-PRO-ANNUAL", "Pro (annual)", "year", 99000, 2),
         ("PL-TEAM", "Team", "month", 29900, 3)]  # fmt: skip
CHURN = {1: 0.055, 2: 0.03, 3: 0.018}  # monthly voluntary churn by tier
TRIAL_DAYS = 14


def master(scenario_id: UUID, spec: ScenarioSpec) -> MasterData:
    params = common.resolve_params(spec, PARAMS)
    rng = stream(spec.seed, 0, "saas-master")
    location, tld = common.CURRENCIES[params["currency"]]
    plans = [Entity(id=i, name=n, interval=iv, price_cents=round(p * params["price_level"]), tier=t,
                    mrr_cents=round(p * params["price_level"]) // (12 if iv == "year" else 1),
                    trial_days=TRIAL_DAYS if p else 0) for i, n, iv, p, t in PLANS]  # fmt: skip
    first, end = spec.start, month_bounds(spec.start, spec.months)[1]
    customers: list[Entity] = []
    base = round(params["customers"] * spec.scale)
    for i in range(base):
        name, email = person(rng, f"client{i % 97}.{tld}")
        since = first - timedelta(days=rng.randint(20, 900))
        customers.append(Entity(id=f"C{len(customers) + 1:06d}", name=f"{name.split()[1]} {rng.choice(['Labs', 'Studio', 'GmbH', 'Ltd', 'SAS', 'Inc'])}",
                                contact=name, email=email, signed_up_on=since.isoformat(), cohort=since.strftime("%Y-%m")))  # fmt: skip
    for month in range(1, spec.months + 1):
        m_first, m_end = month_bounds(spec.start, month)
        signup_rng = stream(spec.seed, month, "saas-signups")
        trend = (1 + params["growth"]) ** ((month - 1) / 12)
        for _ in range(poisson(signup_rng, params["signups_per_month"] * spec.scale * trend)):
            name, email = person(signup_rng, f"mail.{tld}")
            day = m_first + timedelta(days=signup_rng.randrange((m_end - m_first).days))
            customers.append(Entity(id=f"C{len(customers) + 1:06d}", name=f"{name.split()[1]} {signup_rng.choice(['Labs', 'Studio', 'Co', 'Ltd'])}",
                                    contact=name, email=email, signed_up_on=day.isoformat(), cohort=day.strftime("%Y-%m")))  # fmt: skip
    staff_scale = max(1, round(spec.scale**0.7))
    staff = common.employees(rng, [("engineer", 5 * staff_scale, 520000, 780000), ("sales", 2 * staff_scale, 420000,
                             600000), ("customer success", staff_scale, 380000, 480000), ("founder", 2, 600000, 700000)],
                             first, end, f"startup.{tld}")  # fmt: skip
    suppliers = [Entity(id="S01", name="Cloudy Compute", supplies="cloud"),
                 Entity(id="S02", name="AdReach", supplies="marketing")]  # fmt: skip
    name = spec.name or rng.choice(["Metricly", "Stackwise", "Flowbase", "Ledgerly", "Pipelane"])
    company = Company(id="CO1", name=name, business_type=BusinessType.TECH_STARTUP, currency=params["currency"],
                      founded=date(first.year - rng.randint(1, 4), rng.randint(1, 12), 1), location=location,
                      description="A B2B SaaS for small teams: dashboards on top of their own data.")  # fmt: skip
    return MasterData(company=company, plans=plans, customers=customers, employees=staff, suppliers=suppliers)


class _Book:
    """Subscription state while the planner walks the months."""

    def __init__(self, plans: dict[str, Entity]) -> None:
        self.mrr_of = {pid: int(p.mrr_cents) for pid, p in plans.items()}  # type: ignore[attr-defined]
        self.active: dict[str, tuple[str, date]] = {}  # customer -> (plan, billing anchor)
        self.churned: dict[str, str] = {}  # customer -> last paid plan
        self.free: dict[str, date] = {}  # customer on the free plan -> day their trial ended

    def mrr(self, customer: str) -> int:
        return self.mrr_of[self.active[customer][0]] if customer in self.active else 0

    def total(self) -> int:
        mrr_of = self.mrr_of
        return sum(mrr_of[plan] for plan, _ in self.active.values())


def _pick_paid(rng: Any) -> str:
    roll = rng.random()
    return (
        "PL-STARTER"
        if roll < 0.55
        else "PL-PRO"
        if roll < 0.82
        else "PL-PRO-ANNUAL"
        if roll < 0.95
        else "PL-TEAM"
    )


def plan(spec: ScenarioSpec, md: MasterData) -> list[dict[str, Any]]:
    common.resolve_params(spec, PARAMS)  # validates
    plans = {p.id: p for p in md.plans}
    book = _Book(plans)
    first = spec.start
    rng = stream(spec.seed, 0, "saas-base")
    pending: list[tuple[date, str]] = []  # trial conversions (date, customer)
    # Plain values of what the walk reads over and over (entity attributes are slow to reach).
    signups = [(date.fromisoformat(c.signed_up_on), c.id) for c in md.customers]  # type: ignore[attr-defined]
    tiers = {pid: int(p.tier) for pid, p in plans.items()}  # type: ignore[attr-defined]
    yearly = {pid: p.interval == "year" for pid, p in plans.items()}  # type: ignore[attr-defined]
    prices = {pid: int(p.price_cents) for pid, p in plans.items()}  # type: ignore[attr-defined]
    for since, cid in signups:
        if since < first:
            book.active[cid] = (_pick_paid(rng), since)
    funding_month = stream(spec.seed, 0, "saas-funding").randint(
        min(3, spec.months), max(min(3, spec.months), min(9, spec.months))
    )
    out = []
    for month in range(1, spec.months + 1):
        m_first, m_end = month_bounds(spec.start, month)
        r = stream(spec.seed, month, "saas-lifecycle")
        opening_mrr, opening_subs = book.total(), len(book.active)
        last_move: dict[str, date] = {}  # customer -> day of this month's latest movement
        moves: list[
            list[Any]
        ] = []  # [date, customer, kind, plan_before, plan_after, mrr_before, mrr_after, reason]
        trials: list[list[Any]] = []

        def day_in(r: Any = r, m_first: date = m_first, m_end: date = m_end) -> date:
            return m_first + timedelta(days=r.randrange((m_end - m_first).days))

        def move(
            day: date,
            customer: str,
            kind: str,
            after: str | None,
            reason: str = "",
            moves: list[list[Any]] = moves,
            last_move: dict[str, date] = last_move,
        ) -> None:
            # A customer's movements keep the order they were decided in, whatever day was drawn.
            earlier = last_move.get(customer)
            if earlier is not None and earlier > day:
                day = earlier
            last_move[customer] = day
            before = book.active[customer][0] if customer in book.active else None
            mrr_before = book.mrr(customer)
            if after is None:
                book.churned[customer] = before or "PL-STARTER"
                del book.active[customer]
            else:
                anchor = (
                    book.active[customer][1] if customer in book.active and kind != "reactivation" else day
                )
                book.active[customer] = (after, anchor)
                book.churned.pop(customer, None)
            moves.append(
                [day.isoformat(), customer, kind, before, after, mrr_before, book.mrr(customer), reason]
            )

        for since, cid in signups:  # this month's sign-ups start a trial
            if m_first <= since < m_end:
                trials.append([since.isoformat(), cid])
                pending.append((since + timedelta(days=TRIAL_DAYS), cid))
        due = [x for x in pending if x[0] < m_end]
        pending = [x for x in pending if x[0] >= m_end]
        for when, customer in due:
            roll = r.random()
            if roll < 0.6:
                move(when, customer, "new", _pick_paid(r))
            elif roll < 0.82:
                book.free[customer] = when
        for customer in sorted(book.active):
            plan_id, anchor = book.active[customer]
            tier = tiers[plan_id]
            if customer in last_move:
                continue
            annual = yearly[plan_id]
            renews = anchor.month == m_first.month and anchor < m_first
            roll = r.random()
            if (annual and renews and roll < 0.12) or (not annual and roll < CHURN[tier]):
                move(day_in(), customer, "churn", None, "voluntary")
            elif roll < CHURN[tier] + 0.040 and tier < 3 and not annual:
                move(day_in(), customer, "expansion", "PL-PRO" if tier == 1 else "PL-TEAM")
            elif roll < CHURN[tier] + 0.045 and tier > 1 and not annual:
                move(day_in(), customer, "contraction", "PL-STARTER" if tier == 2 else "PL-PRO")
        for customer in sorted(book.churned):
            if customer not in last_move and r.random() < 0.02:
                move(day_in(), customer, "reactivation", book.churned[customer])
        for customer in sorted(book.free):
            if customer not in book.active and r.random() < 0.015:
                # never before the trial ended (and so never before the customer signed up)
                move(max(day_in(), book.free.pop(customer)), customer, "new", "PL-STARTER")
        invoices: list[list[Any]] = []  # [date, customer, plan, cents, failed, recovered_on]
        for customer in sorted(book.active):
            plan_id, anchor = book.active[customer]
            if yearly[plan_id] and not (anchor.month == m_first.month):
                continue
            when = m_first.replace(day=min(anchor.day, 28))
            if when < m_first or when >= m_end:
                continue
            failed = r.random() < 0.025
            recovered = None
            if failed and r.random() < 0.65:
                recovered = min(when + timedelta(days=r.randint(2, 5)), m_end - timedelta(days=1)).isoformat()
            invoices.append([when.isoformat(), customer, plan_id, prices[plan_id], failed, recovered])
        for inv in [i for i in invoices if i[4] and not i[5]]:
            if inv[1] in book.active:  # involuntary churn: the card kept failing
                move(date.fromisoformat(inv[0]) + timedelta(days=1) if date.fromisoformat(inv[0]) + timedelta(days=1) < m_end
                     else date.fromisoformat(inv[0]), inv[1], "churn", None, "payment_failed")  # fmt: skip
        moves.sort(key=lambda m: (m[0], m[1]))
        out.append({
            "opening_mrr_cents": opening_mrr, "opening_subscribers": opening_subs,
            "closing_mrr_cents": book.total(), "closing_subscribers": len(book.active),
            "moves": moves, "trials": trials, "invoices": invoices,
            "funding_cents": round(2_000_000_00 * spec.scale ** 0.5) if month == funding_month else 0,
            "cloud_cents": 40000 + 350 * len(book.active) + 60 * len(book.free),
            "marketing_cents": 6000 * len(trials) + 150000,
        })  # fmt: skip
    out[0]["opening_cash_cents"] = common.opening_cash_cents(spec, "saas", 25_000_000)
    return out


KIND_EVENT = {"new": "subscription_started", "expansion": "subscription_upgraded",
              "contraction": "subscription_downgraded", "churn": "subscription_cancelled",
              "reactivation": "subscription_reactivated"}  # fmt: skip


def render(
    scenario_id: UUID, spec: ScenarioSpec, md: MasterData, month: int, p: dict[str, Any]
) -> MonthBuilder:
    first, end = month_bounds(spec.start, month)
    b = MonthBuilder(scenario_id, month, md.company.currency)
    r = stream(spec.seed, month, "saas-times")
    for day_s, customer in p["trials"]:
        b.add(at(date.fromisoformat(day_s), 8 + r.random() * 12), "trial_started", None,
              {"trial_days": TRIAL_DAYS}, customer_id=customer)  # fmt: skip
    last_at: dict[str, Any] = {}
    for day_s, customer, kind, before, after, mrr_before, mrr_after, reason in p["moves"]:
        when = at(date.fromisoformat(day_s), 12 + r.random() * 6)
        if customer in last_at and when <= last_at[customer]:
            when = last_at[customer] + timedelta(minutes=1)
        last_at[customer] = when
        attrs = {"movement": kind, "mrr_before_cents": mrr_before, "mrr_after_cents": mrr_after,
                 "mrr_delta_cents": mrr_after - mrr_before, "plan_before": before}  # fmt: skip
        if reason:
            attrs["reason"] = reason
        b.add(when, KIND_EVENT[kind], None, attrs,
              customer_id=customer, plan_id=after or before)  # fmt: skip
    for day_s, customer, plan_id, cents, failed, recovered in p["invoices"]:
        day = date.fromisoformat(day_s)
        if failed:
            b.add(
                at(day, 3),
                "payment_failed",
                None,
                {"invoice_cents": cents},
                customer_id=customer,
                plan_id=plan_id,
            )
            if recovered:
                b.add(at(date.fromisoformat(recovered), 3), "invoice_paid", cents, {"retry": True},
                      customer_id=customer, plan_id=plan_id)  # fmt: skip
        else:
            b.add(at(day, 3), "invoice_paid", cents, {}, customer_id=customer, plan_id=plan_id)
    if p["funding_cents"]:
        b.add(at(first.replace(day=min(15, (end - first).days)), 10), "funding_received", p["funding_cents"],
              {"round": "Series A", "investor": "Northbridge Ventures"})  # fmt: skip
    b.add(at(first.replace(day=3), 9), "expense", -p["cloud_cents"], {"category": "cloud"}, supplier_id="S01")
    b.add(
        at(first.replace(day=10), 9),
        "expense",
        -p["marketing_cents"],
        {"category": "marketing"},
        supplier_id="S02",
    )
    common.render_staff_and_fixed_costs(
        b, md.employees, first, end, [("rent", 1, round(450000 * max(1.0, spec.scale**0.6)))]
    )
    common.render_bank_statement(b, first, end)
    return b
