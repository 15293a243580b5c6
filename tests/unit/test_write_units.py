"""The cost model's DynamoDB write units: item sizes by DynamoDB's rules, and writes from the log."""

from __future__ import annotations

import json

from bench.write_units import from_log, item_bytes


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_bytes({"jobId": {"S": "abc"}}) == 5 + 3
    assert item_bytes({"n": {"N": "12345"}}) == 1 + 3 + 1  # 5 digits: 3 bytes, plus 1
    assert item_bytes({"n": {"N": "-0.0012300"}}) == 1 + 2 + 1  # zeroes trimmed: 123
    assert item_bytes({"é": {"BOOL": True}}) == 2 + 1
    assert item_bytes({"w": {"SS": ["ab", "c"]}}) == 1 + 3
    assert item_bytes({"l": {"L": [{"S": "ab"}, {"NULL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_bytes({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)


def log_line(*jobs: dict[str, object]) -> str:
    return json.dumps({"level": "INFO", "message": "jobs written", "jobs": list(jobs)})


def test_every_logged_write_is_charged_at_its_rows_size_and_moves_the_index() -> None:
    lines = [
        "START RequestId: 1 Version: $LATEST",
        log_line({"jobId": "a", "outcome": "applied", "messageIds": ["m1", "m2"]}),  # creates a
        log_line(
            {"jobId": "a", "outcome": "stale", "messageIds": ["m3"]},  # refused: still a write of a's size
            {"jobId": "b", "outcome": "duplicate", "messageIds": ["m4"]},  # b has no row here
        ),
        log_line({"jobId": "a", "outcome": "stale", "warningsMerged": True, "messageIds": ["m5"]}),
        json.dumps({"message": "write failed; SQS will redeliver", "jobId": "c", "messageIds": ["m6"]}),
    ]
    units = from_log(lines, {"a": 2 * 1024 + 1})  # 3 units a write
    assert (units.notifications, units.writes, units.applied) == (5, 5, 2)
    assert units.table_units == 3 * 4 + 1  # four writes of a, one of b (at least 1 unit)
    assert units.index_units == 1 + 2  # a's entry put, then moved once by the merge
    assert units.per_notification == (13 + 3) / 5
