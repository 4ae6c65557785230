"""What a call costs: list prices per million tokens, by model."""

from cube_contracts.model import LlmUsage

# (input, output) US dollars per million tokens. Cache writes cost 1.25x the input price (5-minute
# cache), cache reads 0.1x. Longest matching prefix wins, so dated snapshots find their family.
PRICES: dict[str, tuple[float, float]] = {
    "claude-fable-5": (10.0, 50.0),
    "claude-mythos-5": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-0": (15.0, 75.0),
    "claude-opus-4-2": (15.0, 75.0),  # claude-opus-4-20250514
    "claude-opus": (5.0, 25.0),  # Opus 4.5 to 4.8
    "claude-sonnet-5": (2.0, 10.0),  # Sonnet 5 and 5.5
    "claude-sonnet": (3.0, 15.0),  # Sonnet 4 to 4.6
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-5": (0.10, 0.50),  # prompts up to 100k tokens, which every call here is
    "claude-haiku": (1.0, 5.0),  # Haiku 4.5
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}
FALLBACK = (3.0, 15.0)  # an unknown model is priced like Sonnet: an estimate, not a bill
CACHE_WRITE = 1.25
CACHE_READ = 0.1


def price_of(model: str) -> tuple[float, float]:
    """(input, output) dollars per million tokens of `model`."""
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else FALLBACK


def cost_usd(model: str, usage: LlmUsage) -> float:
    """Estimated cost of `usage` on `model`."""
    price_in, price_out = price_of(model)
    dollars = (
        usage.input_tokens * price_in
        + usage.output_tokens * price_out
        + usage.cache_creation_input_tokens * price_in * CACHE_WRITE
        + usage.cache_read_input_tokens * price_in * CACHE_READ
    ) / 1_000_000
    return round(dollars, 6)
