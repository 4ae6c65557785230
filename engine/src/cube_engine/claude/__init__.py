"""The `claude` engine: the simulation keeps every number, Claude writes names, stories and narrative.

Three calls per scenario step, each a forced tool call whose input schema is a pydantic model:
- master data (`write_company`): company name and story (-> company.name, company.description),
  the name and description of each product / room type / plan / supplier and the name of each
  employee / customer (first 40 per list), matched by id (-> Entity.name, Entity.description; a
  renamed person's e-mail follows), and the market parameters price_level and growth, clamped to
  the simulation's bounds; the simulation then runs with them, so every price is its own;
- trends (`write_year`): the year's theme and its notable events (-> plan["story"] of each month);
- month N (`write_month`): the month's headline and narrative (-> one `narrative` event) and the
  telling of its notable events (-> one `notable_event` event each); both move no money.
Numbers in text must be ledger values: answers citing others are repaired, then the sentences cut.

Environment (ClaudeSettings): ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, CUBE_CLAUDE_MODEL,
CUBE_CLAUDE_GLOBAL_CONCURRENCY, CUBE_CLAUDE_PROCESSES, CUBE_CLAUDE_CONCURRENCY, CUBE_CLAUDE_TIMEOUT,
CUBE_CLAUDE_MAX_ATTEMPTS, CUBE_CLAUDE_MAX_REPAIRS, CUBE_CLAUDE_STREAM.
"""

from cube_engine.claude.client import LlmClient, RetryPolicy, ToolCall
from cube_engine.claude.config import DEFAULT_MODEL, MISSING_KEY, ClaudeSettings, LlmCallFailed
from cube_engine.claude.engine import ClaudeEngine, NumbersEngine
from cube_engine.claude.factory import claude_engine_from, make_claude_engine
from cube_engine.claude.merge import TEXT_EVENT_TYPES
from cube_engine.claude.pricing import PRICES, cost_usd, price_of
from cube_engine.claude.schemas import TOOL_COMPANY, TOOL_MONTH, TOOL_YEAR

__all__ = [
    "DEFAULT_MODEL",
    "MISSING_KEY",
    "PRICES",
    "TEXT_EVENT_TYPES",
    "TOOL_COMPANY",
    "TOOL_MONTH",
    "TOOL_YEAR",
    "ClaudeEngine",
    "ClaudeSettings",
    "LlmCallFailed",
    "LlmClient",
    "NumbersEngine",
    "RetryPolicy",
    "ToolCall",
    "claude_engine_from",
    "cost_usd",
    "make_claude_engine",
    "price_of",
]
