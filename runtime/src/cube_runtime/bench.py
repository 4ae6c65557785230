"""`make bench`: POST → completed latency and throughput of the real stack, printed as numbers.

Starts the stack itself (embedded broker and database unless KAFKA_BOOTSTRAP_SERVERS /
DATABASE_URL are set), once with the engine's latency at 0 and once `seed-scaled`.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from cube_runtime.embedded import free_port
from cube_runtime.launcher import LauncherSettings, Stack
from cube_runtime.settings import load

CRITICAL_PATH = 0.66 + 0.17 + 0.30
SEQUENTIAL = 0.66 + 0.17 + 12 * 0.30
TYPES = ("bakery", "hotel", "tech_startup")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    resp = await client.post("/api/scenarios", json=body)
    resp.raise_for_status()
    sid = resp.json()["scenario_id"]
    while True:
        view = (await client.get(f"/api/scenarios/{sid}")).json()
        if view["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.02)  # a client that looks 50 times a second, not a load test of GET
    observed = time.perf_counter() - t0
    server = (
        datetime.fromisoformat(view["completed_at"]) - datetime.fromisoformat(view["created_at"])
    ).total_seconds()
    created = datetime.fromisoformat(view["created_at"])
    marks = {
        name: (datetime.fromisoformat(at) - created).total_seconds()
        for name, at in (view.get("timings") or {}).items()
        if name in MILESTONES and isinstance(at, str)
    }
    return {
        "type": body["business_type"],
        "status": view["status"],
        "observed": observed,
        "server": server,
        "events": view["event_count"] or 0,
        "marks": marks,
        "llm_ms": {k: v for k, v in (view.get("timings") or {}).items() if k.startswith("llm_")},
    }


# The status table's milestones, in pipeline order: where the time of a scenario goes.
MILESTONES = (
    "requested", "planning_started", "master_data_done", "trends_done", "months_started", "months_done",
    "validation_started", "completed",
)  # fmt: skip


SCALE = 1.0


def _body(i: int, seed: int) -> dict[str, Any]:
    return {"business_type": TYPES[i % 3], "seed": seed, "scale": SCALE}


async def _singles(url: str, n: int, warm_up: bool = True) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        if warm_up:  # connections, caches
            await _one(client, _body(0, 0))
        return [await _one(client, _body(i, 1000 + i)) for i in range(n)]


async def _burst(url: str, n: int) -> tuple[float, list[dict[str, Any]]]:
    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=httpx.Limits(max_connections=n * 2)
    ) as client:
        t0 = time.perf_counter()
        runs = await asyncio.gather(*(_one(client, _body(i, 2000 + i)) for i in range(n)))
        return time.perf_counter() - t0, list(runs)


def _milestones(runs: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{name} {statistics.median(r['marks'][name] for r in runs if name in r['marks']) * 1000:.0f}"
        for name in MILESTONES
        if any(name in r.get("marks", {}) for r in runs)
    )


def _report(label: str, runs: list[dict[str, Any]]) -> float:
    failed = [r for r in runs if r["status"] != "completed"]
    obs = [r["observed"] for r in runs]
    srv = [r["server"] for r in runs]
    p50 = statistics.median(srv)
    events = sum(r["events"] for r in runs) / max(1, len(runs))
    print(
        f"{label}: n={len(runs)} failed={len(failed)}, {events:,.0f} business events per scenario on average"
    )
    print(f"  POST->completed (server clock)  p50 {p50 * 1000:7.1f} ms  p95 {_pct(srv, 0.95) * 1000:7.1f} ms")
    print(f"  POST->completed (client polled) p50 {statistics.median(obs) * 1000:7.1f} ms"
          f"  p95 {_pct(obs, 0.95) * 1000:7.1f} ms")  # fmt: skip
    by_type = sorted({r["type"] for r in runs})
    if len(by_type) > 1:
        print("  POST->completed (server clock) p50 per business type: " + ", ".join(
            f"{t} {statistics.median(r['server'] for r in runs if r['type'] == t) * 1000:.0f} ms" for t in by_type
        ))  # fmt: skip
    print("  p50 ms after POST: " + _milestones(runs))
    if len(by_type) > 1:
        for t in by_type:
            print(f"    {t}: " + _milestones([r for r in runs if r["type"] == t]))
    llm = [r["llm_ms"] for r in runs if r.get("llm_ms")]
    if llm:
        print(
            "  LLM time per stage, p50 ms (months: sum of the month calls): "
            + ", ".join(
                f"{k[4:-3]} {statistics.median(x.get(k, 0) for x in llm):.0f}" for k in sorted(llm[0])
            )
        )
    return p50


def _cpu_ticks(pids: dict[int, str]) -> dict[str, int]:
    """CPU ticks (user + system) so far of the given processes and of all their descendants."""
    parents, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    out: dict[str, int] = {}
    for pid in ticks:
        ancestor = pid
        while ancestor not in pids and ancestor > 1:
            ancestor = parents.get(ancestor, 1)
        if ancestor in pids:
            out[pids[ancestor]] = out.get(pids[ancestor], 0) + ticks[pid]
    return out


def cpu_ms(stack: Stack) -> dict[str, float]:
    """CPU (user + system, ms) each part of a stack has used so far, its children included (Linux /proc)."""
    pids = {sup.child.proc.pid: sup.child.name for sup in stack.infra}
    for svc in stack.services:
        if svc.proc is not None:
            pids[svc.proc.pid] = svc.name.rstrip("0123456789").rstrip("-")
    per_tick = 1000 / os.sysconf("SC_CLK_TCK")
    return {name: ticks * per_tick for name, ticks in _cpu_ticks(pids).items()}


def _spent(before: dict[str, float], after: dict[str, float], per: float) -> dict[str, float]:
    return {name: (after[name] - before.get(name, 0)) / per for name in sorted(after)}


def idle_cpu(stack: Stack, seconds: float = 4.0) -> dict[str, float]:
    """CPU each part of a stack with nothing to do uses, in ms per second."""
    before, t0 = cpu_ms(stack), time.monotonic()
    time.sleep(seconds)
    return _spent(before, cpu_ms(stack), time.monotonic() - t0)


def run(
    latency: str,
    singles: int,
    burst: int,
    workers: int,
    env: dict[str, str] | None = None,
    label: str = "",
    factor: float = 1.0,
) -> None:
    base = load(LauncherSettings)
    home = Path(tempfile.mkdtemp(prefix=f"cube-bench-{latency}-"))
    settings = base.model_copy(update={"cube_home": home, "cube_http_port": free_port()})
    extra = {"CUBE_SIM_LATENCY": latency, "CUBE_LOG_LEVEL": "WARNING", **(env or {})}
    stack = Stack(settings, workers, extra_env=extra)
    try:
        stack.start()
        assert stack.wait_ready(lambda: False)
        time.sleep(3)  # let the consumer groups settle before timing
        print(f"\n== {label or f'CUBE_SIM_LATENCY={latency}'}, {workers} month-workers ==")
        before = cpu_ms(stack)
        runs = asyncio.run(_singles(stack.url, singles, warm_up=factor == 1))
        per_scenario = _spent(before, cpu_ms(stack), len(runs) + (1 if factor == 1 else 0))  # and the warm-up
        p50 = _report("one scenario at a time", runs)
        if latency == "seed-scaled" or label:
            critical, sequential = CRITICAL_PATH * factor, SEQUENTIAL * factor
            print(f"  p50 / critical path {critical:.2f} s = {p50 / critical:.2f};"
                  f" p50 / sequential {sequential:.2f} s = {p50 / sequential:.2f}")  # fmt: skip
        print(
            "  CPU per scenario, ms (the stack's, waits between them included): "
            + ", ".join(f"{k} {v:.0f}" for k, v in per_scenario.items())
            + f"; total {sum(per_scenario.values()):.0f}"
        )
        print("  idle CPU, ms per second: " + ", ".join(f"{k} {v:.0f}" for k, v in idle_cpu(stack).items()))
        if not burst:
            return
        wall, runs = asyncio.run(_burst(stack.url, burst))
        _report(f"{burst} scenarios posted at once", runs)
        events = sum(r["events"] for r in runs)
        print(
            f"  wall time for all {burst}: {wall:.2f} s; {events} business events, {events / wall:,.0f} events/s"
        )
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)  # its database and logs: a few hundred MB a run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", choices=["0", "seed-scaled", "both"], default="both")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="scale of every scenario (events grow with it)"
    )
    args = parser.parse_args()
    global SCALE
    SCALE = args.scale
    print(f"scenario scale {SCALE}")
    for latency in ("0", "seed-scaled") if args.latency == "both" else (args.latency,):
        run(latency, args.singles, args.burst, args.workers)


if __name__ == "__main__":
    main()
