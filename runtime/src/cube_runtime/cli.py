"""The `cube` command: run the stack, generate scenarios, read their status, replay dead letters."""

import argparse
import json
import os
import sys
import time
from typing import Any
from uuid import UUID

import httpx

from cube_runtime.settings import ConfigError


def _url() -> str:
    return os.environ.get("CUBE_URL", "http://127.0.0.1:8080").rstrip("/")


def _client() -> httpx.Client:
    return httpx.Client(base_url=_url(), timeout=10.0)


def _bar(progress: int, width: int = 30) -> str:
    filled = width * max(0, min(progress, 100)) // 100
    return "[" + "#" * filled + "-" * (width - filled) + f"] {progress:3d}%"


def _generate(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"business_type": args.business_type, "months": args.months}
    if args.seed is not None:
        body["seed"] = args.seed
    if args.engine:
        body["engine"] = args.engine
    if args.scale is not None:
        body["scale"] = args.scale
    with _client() as client:
        resp = client.post("/api/scenarios", json=body)
        if resp.status_code >= 400:
            print(f"cube: {resp.status_code}: {resp.json().get('detail', resp.text)}", file=sys.stderr)
            return 2
        scenario = resp.json()
        sid = scenario["scenario_id"]
        if not args.wait:
            print(sid)
            return 0
        print(f"scenario {sid} ({args.business_type})")
        status: dict[str, Any] = scenario
        while True:
            status = client.get(f"/api/scenarios/{sid}").json()
            line = f"\r{_bar(status['progress'])}  {status.get('stage_message') or status['current_stage']}"
            sys.stdout.write(line[:120].ljust(120))
            sys.stdout.flush()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.25)
        print()
    if status["status"] == "completed":
        summary = (status.get("validation") or {}).get("summary", "")
        print(f"completed: {status['event_count']} events, {summary}")
        return 0
    print(f"{status['status']}: {status.get('error_message')}", file=sys.stderr)
    return 1


def _status(args: argparse.Namespace) -> int:
    with _client() as client:
        path = f"/api/scenarios/{args.id}" if args.id else "/api/scenarios"
        resp = client.get(path)
    if resp.status_code >= 400:
        print(f"cube: {resp.status_code}: {resp.json().get('detail', resp.text)}", file=sys.stderr)
        return 2
    data = resp.json()
    if args.id:
        print(json.dumps(data, indent=2))
        return 0
    for row in data["items"]:
        print(
            f"{row['scenario_id']}  {row['business_type']:<13} {row['status']:<10} {row['progress']:3d}%  "
            f"{row['current_stage']}"
        )
    return 0


def _schemas(_args: argparse.Namespace) -> int:
    from cube_runtime.schemas import write_schemas

    for path in write_schemas():
        print(path)
    return 0


def _realism(args: argparse.Namespace) -> int:
    from cube_engine.realism import render, report

    print(render(report(seeds=args.seeds)))
    return 0


def _dlq(args: argparse.Namespace) -> int:
    import asyncio

    from cube_runtime import dlq
    from cube_runtime.launcher import running_addresses
    from cube_runtime.settings import CubeSettings, load

    settings = load(CubeSettings)
    # A `cube up` on embedded infrastructure picked the addresses itself and left them in CUBE_HOME.
    bootstrap, dsn = running_addresses(settings.cube_home)
    settings.kafka_bootstrap_servers = settings.kafka_bootstrap_servers or bootstrap
    settings.database_url = settings.database_url or dsn
    broker, database = settings.require_broker(), settings.require_database()
    if args.dlq_command == "list":
        print(dlq.render(asyncio.run(dlq.held_messages(broker, database, args.topic, args.scenario))))
        return 0
    asyncio.run(dlq.replay(broker, database, args.topic, args.scenario, dry_run=args.dry_run))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cube", description="Telling Cube scenario engine")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole stack in the foreground")
    up.add_argument("--workers", type=int, default=None, help="month-worker processes (CUBE_WORKERS)")
    gen = sub.add_parser("generate", help="ask for a scenario")
    gen.add_argument("business_type", choices=["bakery", "hotel", "tech_startup"])
    gen.add_argument("--seed", type=int)
    gen.add_argument("--engine", choices=["simulated", "claude"])
    gen.add_argument("--months", type=int, default=12)
    gen.add_argument("--scale", type=float)
    gen.add_argument("--wait", action="store_true", help="show a progress bar until it ends")
    st = sub.add_parser("status", help="one scenario, or the list")
    st.add_argument("id", nargs="?")
    sub.add_parser("schemas", help="write JSON Schema and AsyncAPI into contracts/schemas/")
    real = sub.add_parser("realism", help="KPIs of each business type beside the industry figures")
    real.add_argument("--seeds", type=int, default=5)
    dlq = sub.add_parser("dlq", help="messages held in the dead-letter topics")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, text in (
        ("list", "every held message: where it came from, who rejected it, why, whether replayed"),
        ("replay", "send each held message back to its source topic, once"),
    ):
        cmd = dlq_sub.add_parser(name, help=text)
        cmd.add_argument("--topic", help="only this source topic (or its .dlq)")
        cmd.add_argument("--scenario", type=UUID, help="only this scenario's messages")
        if name == "replay":
            cmd.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            import logging

            from cube_runtime.launcher import up as run_up

            # The launcher talks to a person in a terminal; the services write JSON logs to files.
            logging.basicConfig(
                format="%(asctime)s cube up: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
            )
            for noisy in ("aiokafka", "asyncio", "httpx"):
                logging.getLogger(noisy).setLevel(logging.ERROR)
            return run_up(args.workers)
        if args.command == "generate":
            return _generate(args)
        if args.command == "status":
            return _status(args)
        if args.command == "realism":
            return _realism(args)
        if args.command == "dlq":
            return _dlq(args)
        return _schemas(args)
    except ConfigError as exc:
        print(f"cube: error: {exc}", file=sys.stderr)
        return 2
    except httpx.ConnectError:
        print(
            f"cube: error: CUBE_URL: no gateway answers at {_url()} (is `cube up` running?)", file=sys.stderr
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
