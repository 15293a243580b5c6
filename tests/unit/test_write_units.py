"""The cost model's DynamoDB write units: item sizes by DynamoDB's rules, and writes from the log."""

from __future__ import annotations

from bench.write_units import Sizes, from_log, index_attributes, item_bytes
from transcoder_status.local.template import load_template


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_bytes({"jobId": {"S": "abc"}}) == 5 + 3
    assert item_bytes({"n": {"N": "12345"}}) == 1 + 3 + 1  # 5 digits: 3 bytes, plus 1
    assert item_bytes({"n": {"N": "-0.0012300"}}) == 1 + 2 + 1  # zeroes trimmed: 123
    assert item_bytes({"é": {"BOOL": True}}) == 2 + 1
    assert item_bytes({"w": {"SS": ["ab", "c"]}}) == 1 + 3
    assert item_bytes({"l": {"L": [{"S": "ab"}, {"NULL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_bytes({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)


def test_every_logged_write_is_charged_at_its_rows_size() -> None:
    written = [
        {"jobId": "a", "outcome": "applied", "messageIds": ["m1", "m2"]},
        {"jobId": "a", "outcome": "stale", "messageIds": ["m3"]},  # refused: still a write of a's size
        {"jobId": "b", "outcome": "duplicate", "messageIds": ["m4"]},  # b has no row here: 1 unit
        {"jobId": "a", "outcome": "stale", "warningsMerged": 2, "messageIds": ["m5"]},
    ]
    units = from_log(written, {"a": Sizes(row=2 * 1024 + 1, index_entry=300)})  # 3 units a write of a
    assert (units.notifications, units.writes, units.applied) == (5, 5, 2)
    assert units.table_units == 3 * 4 + 1
    assert units.index_units == 1 + 2  # a's entry put, then moved (deleted and put) by the merge
    assert units.per_notification == (13 + 3) / 5


def test_a_continued_entry_adds_notifications_but_no_write() -> None:
    written = [
        {"jobId": "j", "outcome": "applied", "messageIds": ["m1", "m2"]},
        {"jobId": "j", "continued": True, "messageIds": ["m3", "m4", "m5"]},
    ]
    units = from_log(written, {"j": Sizes(row=500, index_entry=200)})
    assert (units.notifications, units.writes, units.table_units, units.index_units) == (5, 1, 1, 1)


def test_the_index_is_charged_only_for_what_changes_its_entry() -> None:
    """Review of issue 10: the writes of one job in one invocation share one updatedAt, so merges after
    a write that landed do not move the index's entry; they were charged a delete and a put each."""
    small = {"j": Sizes(row=500, index_entry=200)}
    # A new job's state write with a progress and a warnings merge: a put, an in-place update, nothing.
    assert from_log([{"jobId": "j", "outcome": "applied", "progressMerged": True, "warningsMerged": 1,
                      "messageIds": ["m1", "m2", "m3"]}], small).index_units == 1 + 1 + 0  # fmt: skip
    # The same on a job already indexed: a move, then the same.
    later = [{"jobId": "j", "outcome": "applied", "messageIds": ["m0"]}] * 2
    assert from_log(later, small).index_units == 1 + 2
    # A stale state write: the first merge that lands moves the entry, the next leaves it.
    stale = {"jobId": "j", "outcome": "stale", "progressMerged": True, "warningsMerged": 1, "messageIds": ["m4"]}
    assert from_log([later[0], stale], small).index_units == 1 + 2 + 0
    # An entry past 1 KB (a long error message, projected) costs a unit per KB begun.
    assert from_log(later, {"j": Sizes(row=3000, index_entry=1025)}).index_units == 2 + 4


def test_an_index_entry_holds_the_keys_and_the_projected_attributes_of_the_template() -> None:
    indexed = index_attributes(load_template())
    assert {"jobId", "statusShard", "updatedAt", "status", "errorMessage"} <= indexed
    assert not {"warnings", "outputs", "userMetadata"} & indexed
    item = {"jobId": {"S": "j"}, "status": {"S": "SUCCESS"}, "warnings": {"SS": ["w" * 5000]}}
    assert Sizes.of(item, indexed) == Sizes(row=item_bytes(item), index_entry=5 + 1 + 6 + 7)
