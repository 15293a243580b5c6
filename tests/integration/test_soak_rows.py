"""The soak's count of the rows a table holds, against the emulator."""

from __future__ import annotations

import moto.dynamodb.models.table as moto_table
import pytest

from bench.soak.run import _row_count
from transcoder_status.table import StatusTable


def test_rows_are_counted_over_every_page_of_a_scan(table: StatusTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of issue 9: one Scan page was counted; a page ends at 1 MB (about 1,600 soak rows), so a
    larger soak saw fewer rows than it checked and failed with a negative count of stray rows."""
    monkeypatch.setattr(moto_table, "RESULT_SIZE_LIMIT", 10_000)  # a page of 10 KB: 1 MB scaled down
    for n in range(30):
        table.client.put_item(TableName=table.name, Item={"jobId": {"S": f"job-{n}"}, "pad": {"S": "x" * 1_000}})
    assert table.client.scan(TableName=table.name, Select="COUNT")["Count"] < 30  # the page really ends early
    assert _row_count(table.client, table.name) == 30
