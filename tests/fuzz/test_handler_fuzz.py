"""Fuzz: the whole Lambda handler, against DynamoDB in moto's server over HTTP, a fresh table per batch.

Each batch mixes fuzzed bodies with real-shaped notifications and their mutations (several of the
same jobs), plus one valid notification of a job of its own. Whatever the batch:

- the handler returns, and ``batchItemFailures`` names exactly the records ``parse_body`` refuses: a
  record the parser accepts is written, so whatever DynamoDB would refuse, the parser refuses first;
- every accepted job ends in the row the transition rules give, the valid record's job included;
- every UpdateItem is within DynamoDB's documented limits and every row within 400 KB (checked here:
  moto accepts lone surrogates, numbers of 40 digits...);
- every log line can be written, and each refused record is logged once, with its message ID.

Time per record is measured and printed (``make fuzz``), not asserted.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import uuid
from collections import Counter
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from moto.core.model_instances import reset_model_data

from bench.write_units import item_bytes
from tests.fuzz.checks import (
    MAX_ITEM_BYTES,
    LogLines,
    RequestRecorder,
    check_notification,
    check_update_request,
)
from tests.fuzz.conftest import FIGURES
from tests.fuzz.figures import Figures
from tests.fuzz.strategies import VALID, Batch, batches
from tests.integration.conftest import failed_ids, invoke
from transcoder_status import handler
from transcoder_status.handler import StatusWriter
from transcoder_status.local.emulator import Emulator
from transcoder_status.notification import Notification
from transcoder_status.sources import Delivery, ParseError, parse_body
from transcoder_status.table import MAX_WARNINGS, StatusTable, fit_to_item, row_from_item
from transcoder_status.transitions import coalesce

FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def delivery_of(record: dict[str, Any]) -> Delivery:
    """What the handler should take from the record: its message ID, and SentTimestamp if usable."""
    try:
        sent_ms: int | None = int(record["attributes"].get("SentTimestamp") or "")
    except ValueError:
        sent_ms = None
    return Delivery(sent_ms=sent_ms, message_id=record["messageId"])


def parse_each(records: list[dict[str, Any]]) -> tuple[set[str], list[Notification]]:
    """The parser's verdict on each record, alone: the message IDs refused, the notifications accepted."""
    refused: set[str] = set()
    accepted: list[Notification] = []
    for record in records:
        try:
            notification = parse_body(record["body"], delivery_of(record))
        except ParseError:
            refused.add(record["messageId"])
            continue
        check_notification(notification)
        accepted.append(notification)
    return refused, accepted


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]


class HandlerFuzz:
    """One DynamoDB client (its UpdateItems recorded), one writer (its write pool), the function's log lines."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.client = boto3.client("dynamodb")
        self.requests = RequestRecorder()
        self.requests.attach(self.client)
        self.writer = StatusWriter(StatusTable("", self.client), max_writers=8)
        self.log = LogLines(handler.logger.registered_formatter)

    def run(self, batch: Batch) -> None:
        name = f"fuzz-{uuid.uuid4().hex[:12]}"
        self.client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            self.check(batch, name)
        finally:
            self.client.delete_table(TableName=name)
            # moto keeps every model it ever made (for its /moto-api/data.json): 10,000 batches of
            # items would take gigabytes, and the collector's time with them.
            reset_model_data()

    def check(self, batch: Batch, table: str) -> None:
        records = batch.records()
        refused, accepted = parse_each(records)
        assert VALID not in refused, "the valid record was refused by the parser"
        self.requests.take()
        self.log.take()

        writer = self.writer
        writer.table = StatusTable(table, self.client)  # a fresh table each batch, the pool kept as on Lambda
        gc.disable()  # the handler's time, not the pauses of this process's heap (hypothesis's grows)
        try:
            started = time.perf_counter()
            response = invoke(writer, {"Records": records})
            elapsed = time.perf_counter() - started
        finally:
            gc.enable()

        figures = self.figures
        figures.cases += 1
        figures.counts["records"] += len(records)
        figures.counts["refused"] += len(refused)
        figures.timings.append(elapsed / len(records))

        # Failed are exactly the records the parser refuses: no write of an accepted one failed.
        failed = failed_ids(response)
        assert failed == refused, f"failed but parsed: {failed - refused}; refused but not failed: {refused - failed}"

        # What was sent is what DynamoDB accepts; what was stored fits an item.
        requests = self.requests.take()
        figures.counts["UpdateItems"] += len(requests)
        for params in requests:
            check_update_request(params)
        items = scan(self.client, table)
        sizes = [item_bytes(item) for item in items]
        target(float(max(sizes, default=0)), label="largest row (bytes)")  # steer towards 400 KB
        for size in sizes:
            figures.size("row", size)
            assert size <= MAX_ITEM_BYTES, f"row of {size} bytes"

        # Every accepted job has the row the transition rules give (the table was empty).
        rows = {row.job_id: row for row in map(row_from_item, items)}
        updates = coalesce(fit_to_item(notification) for notification in accepted)
        assert set(rows) == set(updates)
        for job_id, update in updates.items():
            row = rows[job_id]
            winner = update.winner
            assert (row.status, row.finished, row.state) == (winner.status, winner.finished, winner.state), job_id
            assert set(row.warnings) == set(update.warnings[:MAX_WARNINGS]), job_id
            assert row.progress == (None if update.progress is None else update.progress.progress), job_id
        valid = rows.get(batch.valid_job_id)
        assert valid is not None, "the valid record's row is missing"
        (valid_record,) = (record for record in records if record["messageId"] == VALID)
        assert valid.status is parse_body(valid_record["body"], delivery_of(valid_record)).status

        # Every line can be written; each refused record is logged once, with its message ID.
        lines, unwritable = self.log.take()
        assert not unwritable, unwritable
        malformed = Counter(
            getattr(line, "messageId", None) for line in lines if line.getMessage().startswith("malformed")
        )
        assert malformed == Counter(refused), malformed


def fuzz_handler(name: str, strategy: st.SearchStrategy[Batch], record_property: Any) -> None:
    """Run the checks on batches of ``strategy``: half the active profile's examples (two tests share
    the handler's count); the function's log is read by the checks and kept out of pytest's output."""
    figures = Figures(name, unit="record")
    fuzz = HandlerFuzz(figures)
    logger = logging.getLogger(handler.logger.service)
    stream = handler.logger.registered_handler
    logger.addHandler(fuzz.log)
    propagate = logger.propagate
    logger.propagate = False  # the checks read every line: neither pytest nor the console need them
    with open(os.devnull, "w") as devnull:
        previous = stream.setStream(devnull)  # type: ignore[attr-defined]
        try:

            @settings(FUZZ_SETTINGS, max_examples=max(1, FUZZ_SETTINGS.max_examples // 2))
            @given(batch=strategy)
            def handle(batch: Batch) -> None:
                fuzz.run(batch)

            handle()
        finally:
            stream.setStream(previous)  # type: ignore[attr-defined]
            logger.propagate = propagate
            logger.removeHandler(fuzz.log)
            record_property(FIGURES, figures.line())


def test_handler_fails_exactly_the_records_the_parser_refuses(emulator: Emulator, record_property: Any) -> None:
    fuzz_handler("lambda_handler, hostile batches", batches(), record_property)


def test_handler_writes_what_the_rules_say_for_jobs_notified_many_times(
    emulator: Emulator, record_property: Any
) -> None:
    """Batches of mostly parsable notifications of one or two jobs: coalescing, warnings, progress."""
    fuzz_handler("lambda_handler, same-job batches", batches(same_jobs=True), record_property)
