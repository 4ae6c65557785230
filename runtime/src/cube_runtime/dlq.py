"""`cube dlq`: the messages held in the dead-letter topics, and sending them back, each once."""

import asyncio
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from cube_contracts.topics import DLQ_SUFFIX, dlq
from cube_runtime import db
from cube_runtime.consume import scenario_of
from cube_runtime.settings import ConfigError

# Where a message sat in its source topic, and a hash of it: what a replay is recorded under.
Place = tuple[str, int, int, str]


@dataclass(frozen=True)
class Held:
    """One copy in a dead-letter topic: the original message plus the dlq_* error headers."""

    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str, default: str = "") -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return default

    @property
    def source_topic(self) -> str:
        return self.header("dlq_source_topic") or self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def place(self) -> Place:
        digest = hashlib.sha256(self.value).hexdigest()
        return (
            self.source_topic,
            _int(self.header("dlq_partition")),
            _int(self.header("dlq_offset")),
            digest,
        )

    @property
    def scenario(self) -> UUID | None:
        return scenario_of(self.value, {k: v.decode(errors="replace") for k, v in self.headers})

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith("dlq_")]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


@dataclass
class Poison:
    """One source message and every copy of it: each consumer group dead-letters on its own."""

    copies: list[Held]
    replayed_at: datetime | None = None
    replayed_to: str = field(default="")

    @property
    def first(self) -> Held:
        return self.copies[0]

    @property
    def consumers(self) -> list[str]:
        return sorted({c.header("dlq_consumer", "?") for c in self.copies})

    def describe(self) -> str:
        topic, partition, offset, _ = self.first.place
        return f"{topic} partition {partition} offset {offset}"


def _kafka_error(bootstrap: str, exc: BaseException) -> ConfigError:
    return ConfigError(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach the broker at {bootstrap} ({exc!r})")


async def read_held(
    bootstrap: str, topic: str | None = None, *, timeout: float = 30
) -> tuple[list[Held], dict[str, int]]:
    """Every message in the `*.dlq` topics (or in `topic`'s), from the first to the current end,
    and the partition count of every topic on the broker."""
    # No group: nothing is committed, and every run reads the topics from their beginning.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        request_timeout_ms=10_000,
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
    except (KafkaError, OSError, TimeoutError) as exc:
        await consumer.stop()
        raise _kafka_error(bootstrap, exc) from None
    try:
        topics = await consumer.topics()
        partitions = {t: len(consumer.partitions_for_topic(t) or ()) for t in topics}
        wanted = sorted(t for t in topics if t.endswith(DLQ_SUFFIX))
        if topic is not None:
            name = topic if topic.endswith(DLQ_SUFFIX) else dlq(topic)
            if name not in topics:
                raise ConfigError(f"--topic: the broker has no dead-letter topic {name}")
            wanted = [name]
        held = await _read_to_end(consumer, wanted, partitions, timeout)
    except KafkaError as exc:
        raise _kafka_error(bootstrap, exc) from None
    finally:
        await consumer.stop()
    return held, partitions


async def _read_to_end(
    consumer: AIOKafkaConsumer, topics: list[str], partitions: dict[str, int], timeout: float
) -> list[Held]:
    tps = [TopicPartition(t, p) for t in topics for p in range(partitions[t])]
    if not tps:
        return []
    consumer.assign(tps)
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    await consumer.seek_to_beginning(*tps)
    # Read up to the end as it is now, so a busy topic cannot keep us here. Tansu reports the end
    # of a partition as one past the first offset of its last batch, so records past `end` that
    # come in that batch are kept: they are in the topic, and a position past `end` ends the read.
    remaining = {tp for tp in tps if end[tp] > begin[tp]}
    held: list[Held] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while remaining:
        if asyncio.get_running_loop().time() > deadline:
            raise ConfigError(
                f"KAFKA_BOOTSTRAP_SERVERS: the dead-letter topics were not read to their end within"
                f" {timeout:.0f} s"
            )
        batch = await consumer.getmany(*remaining, timeout_ms=200)
        for tp, records in batch.items():
            held.extend(
                Held(tp.topic, tp.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ()))
                for r in records
            )
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
                consumer.pause(tp)
    held.sort(key=lambda h: (h.dlq_topic, h.dlq_partition, h.dlq_offset))
    return held


def group(held: Iterable[Held], scenario: UUID | None = None) -> list[Poison]:
    """One Poison per source message, in the order of the source topics, optionally one scenario's."""
    by_place: dict[Place, Poison] = {}
    for h in held:
        if scenario is not None and h.scenario != scenario:
            continue
        by_place.setdefault(h.place, Poison([])).copies.append(h)
    return [by_place[p] for p in sorted(by_place)]


async def _replays(conn: asyncpg.Connection, poisons: list[Poison]) -> None:
    try:
        rows = await conn.fetch(
            "SELECT source_topic, source_partition, source_offset, payload_sha256, replayed_at,"
            " replay_partition, replay_offset FROM dlq_replays WHERE source_topic = ANY($1::text[])",
            sorted({p.first.source_topic for p in poisons}),
        )
    except asyncpg.UndefinedTableError:
        raise ConfigError(
            "DATABASE_URL: the table dlq_replays is missing; start the stack once (`cube up`) so the"
            " migrations run"
        ) from None
    done = {
        (r["source_topic"], r["source_partition"], r["source_offset"], r["payload_sha256"]): r for r in rows
    }
    for poison in poisons:
        row = done.get(poison.first.place)
        if row is not None:
            poison.replayed_at = row["replayed_at"]
            poison.replayed_to = _where(row["replay_partition"], row["replay_offset"])


def _where(partition: int | None, offset: int | None) -> str:
    return f"partition {partition} offset {offset}" if offset is not None else ""


async def held_messages(
    bootstrap: str, dsn: str, topic: str | None = None, scenario: UUID | None = None
) -> list[Poison]:
    """The dead-lettered source messages, each with whether and when it was replayed."""
    held, _ = await read_held(bootstrap, topic)
    poisons = group(held, scenario)
    if poisons:
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await _replays(conn, poisons)
        finally:
            await pool.close()
    return poisons


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def render(poisons: list[Poison]) -> str:
    """The `cube dlq list` table: one row per source message."""
    rows = [("SOURCE TOPIC", "PARTITION", "OFFSET", "CONSUMER", "SCENARIO", "REPLAYED", "ERROR")]
    for p in poisons:
        topic, partition, offset, _ = p.first.place
        rows.append(
            (
                topic,
                str(partition),
                str(offset),
                ",".join(p.consumers),
                str(p.first.scenario or "-"),
                _when(p.replayed_at) if p.replayed_at else "no",
                p.first.header("dlq_error", "?"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]
    replayed = sum(p.replayed_at is not None for p in poisons)
    copies = sum(len(p.copies) for p in poisons)
    lines.append(f"{len(poisons)} dead-lettered message(s) ({copies} cop(ies)), {replayed} replayed")
    return "\n".join(lines)


@dataclass
class ReplayReport:
    """What one `cube dlq replay` did."""

    replayed: int = 0
    already: int = 0
    skipped: int = 0


async def replay(
    bootstrap: str,
    dsn: str,
    topic: str | None = None,
    scenario: UUID | None = None,
    *,
    dry_run: bool = False,
    out: Callable[[str], Any] = print,
) -> ReplayReport:
    """Send each held message back to its source topic, once: the replay is recorded first, in
    the transaction the send happens in, so a failed send records nothing and a second run skips."""
    held, partitions = await read_held(bootstrap, topic)
    poisons = group(held, scenario)
    report = ReplayReport()
    if not poisons:
        out("no dead-lettered messages to replay")
        return report
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=10_000,
    )
    try:
        await asyncio.wait_for(producer.start(), 30)
    except (KafkaError, OSError, TimeoutError) as exc:
        await producer.stop()
        await pool.close()
        raise _kafka_error(bootstrap, exc) from None
    try:
        async with pool.acquire() as conn:
            await _replays(conn, poisons)
            for poison in poisons:
                await _replay_one(conn, producer, poison, partitions, report, dry_run, out)
    finally:
        await producer.stop()
        await pool.close()
    verb = "would replay" if dry_run else "replayed"
    out(f"{report.replayed} {verb}, {report.already} already replayed, {report.skipped} skipped")
    return report


async def _replay_one(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    poison: Poison,
    partitions: dict[str, int],
    report: ReplayReport,
    dry_run: bool,
    out: Callable[[str], Any],
) -> None:
    msg = poison.first
    topic, partition, offset, digest = msg.place
    if poison.replayed_at is not None:
        report.already += 1
        out(f"already replayed: {poison.describe()} (at {_when(poison.replayed_at)})")
        return
    if topic not in partitions:
        report.skipped += 1
        out(f"skipped: {poison.describe()}: the broker has no topic {topic}")
        return
    if dry_run:
        report.replayed += 1
        out(f"would replay: {poison.describe()} (scenario {msg.scenario or '-'})")
        return
    async with conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO dlq_replays (source_topic, source_partition, source_offset, payload_sha256,"
            " scenario_id, error) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
            topic,
            partition,
            offset,
            digest,
            msg.scenario,
            msg.header("dlq_error"),
        )
        if claimed is None:  # another `cube dlq replay` got there first
            report.already += 1
            out(f"already replayed: {poison.describe()}")
            return
        # Back to the partition it came from, so it keeps its place among its key's messages.
        target = partition if 0 <= partition < partitions[topic] else None
        try:
            sent = await producer.send_and_wait(
                topic, msg.value, key=msg.key, partition=target, headers=msg.original_headers()
            )
        except KafkaError as exc:  # the transaction rolls back: nothing is recorded as replayed
            raise ConfigError(
                f"KAFKA_BOOTSTRAP_SERVERS: sending {poison.describe()} back failed ({exc!r});"
                " nothing was recorded, run the replay again"
            ) from None
        await conn.execute(
            "UPDATE dlq_replays SET replay_partition = $5, replay_offset = $6 WHERE source_topic = $1"
            " AND source_partition = $2 AND source_offset = $3 AND payload_sha256 = $4",
            topic,
            partition,
            offset,
            digest,
            sent.partition,
            sent.offset,
        )
    report.replayed += 1
    out(f"replayed: {poison.describe()} -> partition {sent.partition} offset {sent.offset}")
