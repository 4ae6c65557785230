"""Independent random streams and calendar helpers shared by every business simulation.

One stream per (seed, month, name), as TPC-H does per column: month 7 rendered alone equals
month 7 of a full run, and adding a stream changes no other.
"""

import hashlib
import math
import random
from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta


def stream(seed: int, month: int, name: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{month}|{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def month_bounds(start: date, month: int) -> tuple[date, date]:
    """First day of `month` (1-based from `start`) and first day of the next."""
    first = add_months(start, month - 1)
    return first, add_months(first, 1)


def days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((end - first).days)]


def at(day: date, hour: float) -> datetime:
    """A UTC datetime `hour` hours into `day`, to the second."""
    seconds = max(0, min(86399, int(hour * 3600)))
    return datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), UTC)


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw; normal approximation for large means keeps it fast."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def weighted_index(rng: random.Random, cumulative: list[float]) -> int:
    """Index drawn by cumulative weights (bisect on a uniform draw)."""
    return min(len(cumulative) - 1, bisect_right(cumulative, rng.random() * cumulative[-1]))


def cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def pareto_weights(rng: random.Random, n: int, alpha: float = 1.2) -> list[float]:
    """Heavy-tailed customer weights: a few customers carry much of the revenue."""
    return [rng.paretovariate(alpha) for _ in range(n)]


FIRST_NAMES = ["Emma", "Louis", "Chloé", "Hugo", "Léa", "Gabriel", "Manon", "Arthur", "Camille", "Jules",
               "Sarah", "Adam", "Inès", "Lucas", "Jade", "Nathan", "Alice", "Paul", "Zoé", "Noah",
               "Olivia", "Liam", "Sofia", "Ethan", "Mia", "Leo", "Ava", "Oscar", "Nora", "Felix"]  # fmt: skip
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
              "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Smith", "Müller", "Rossi",
              "Novak", "Jensen", "Costa", "Weber", "Fischer", "Conti", "Silva"]  # fmt: skip


def person(rng: random.Random, domain: str) -> tuple[str, str]:
    """A name and a matching e-mail address."""
    import unicodedata

    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    # Accents folded, not dropped: Inès Müller is ines.muller, not ins.mller.
    local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
    return f"{first} {last}", f"{local}{rng.randint(1, 99)}@{domain}"
