"""Numbers in text must be ledger values; prices turn tokens into dollars."""

from datetime import date
from decimal import Decimal

import pytest

from cube_contracts.model import Company, Entity, LlmUsage, MasterData
from cube_engine.claude.numbers import allowed_numbers, numbers_in, scrub, stray_numbers
from cube_engine.claude.pricing import cost_usd, price_of

MASTER = MasterData(
    company=Company(
        id="C",
        name="Crumb",
        business_type="bakery",
        currency="EUR",
        founded=date(2019, 4, 1),
        location="Lyon",
    ),
    products=[Entity(id="P-007", name="Baguette", price="1.20", margin=0.42, daily=350)],
)


def test_ledger_values_are_allowed_and_ids_are_not_mined() -> None:
    allowed = allowed_numbers(MASTER)
    assert {Decimal("1.2"), Decimal("350"), Decimal("2019"), Decimal("42")} <= allowed
    assert Decimal("7") not in allowed  # the digits of the id P-007 are no ledger value
    assert stray_numbers("A baguette costs 1.20, about 350 a day since 2019; margin 42%.", allowed) == []
    assert stray_numbers("Sales rose 17% to 1,234.50 EUR.", allowed) == ["17", "1,234.50"]
    assert stray_numbers("It opened in 2019 on Rue A4.", allowed) == []


def test_scrub_cuts_the_sentences_with_stray_numbers() -> None:
    allowed = numbers_in("revenue: 12,345.67 EUR")
    text = "A strong month. Revenue reached 12,345.67 EUR. Footfall rose 30%! Next month looks calm."
    assert scrub(text, allowed) == "A strong month. Revenue reached 12,345.67 EUR. Next month looks calm."


def test_cost_uses_the_model_price_and_cache_multipliers() -> None:
    assert price_of("claude-sonnet-4-6") == (3.0, 15.0)
    assert price_of("claude-haiku-4-5-20251001") == (1.0, 5.0)
    assert price_of("claude-opus-4-1-20250805") == (15.0, 75.0)
    assert price_of("claude-opus-4-6") == (5.0, 25.0)
    assert price_of("claude-sonnet-5-5") == (2.0, 10.0)
    assert price_of("some-future-model") == (3.0, 15.0)
    usage = LlmUsage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert cost_usd("claude-sonnet-4-6", usage) == pytest.approx(3 + 15 + 3.75 + 0.3)
