"""A month's ledger facts, computed from the simulated events: the only numbers its narrative may cite."""

from collections import Counter, defaultdict
from decimal import Decimal

from cube_contracts.model import BusinessEvent, MasterData

_TOP_BY = {"product_id": "products", "room_type_id": "room_types", "plan_id": "plans"}


def month_facts(events: list[BusinessEvent], master: MasterData) -> dict[str, str]:
    """Named facts of the month, formatted as the narrative should cite them."""
    currency = master.company.currency
    money_in = sum((e.amount for e in events if e.amount is not None and e.amount > 0), Decimal(0))
    money_out = -sum((e.amount for e in events if e.amount is not None and e.amount < 0), Decimal(0))
    facts = {
        "money in": f"{money_in:,.2f} {currency}",
        "money out": f"{money_out:,.2f} {currency}",
        "net": f"{money_in - money_out:,.2f} {currency}",
        "customers served": str(len({e.customer_id for e in events if e.customer_id})),
    }
    for kind, count in sorted(Counter(e.event_type for e in events).items()):
        facts[f"{kind} events"] = str(count)
    names = {e.id: e.name for kind in _TOP_BY.values() for e in getattr(master, kind)}
    for field, kind in _TOP_BY.items():
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        for e in events:
            ref = getattr(e, field)
            if ref and e.amount is not None and e.amount > 0:
                revenue[ref] += e.amount
        if revenue:
            best = max(sorted(revenue), key=lambda ref: revenue[ref])
            facts[f"top {kind[:-1].replace('_', ' ')} by revenue"] = (
                f"{names.get(best, best)} ({revenue[best]:,.2f} {currency})"
            )
    return facts
