"""`make bench`'s comparison with the old worker, scaled down: 1 and 3 jobs, both sides.

Checks what the benchmark's figures rest on: every job seen finished with its real outcome on both
sides, and call counts that add up (no timing is asserted).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import boto3
import pytest

from bench.emulator import bench_emulator
from bench.old_worker import CLIENT, FUNCTION, OLD_WORKER, SEED, Settings, SideRun, compare, plan
from bench.old_worker_report import markdown, plot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("bench"),
    pytest.mark.skipif(not SEED.is_file(), reason=f"the old worker is not at {SEED}"),
]

SETTINGS = Settings(
    sizes=(1, 3),
    visibility_timeout_s=1,
    bound_s=30,
    default_queue_bound_s=None,
    job_duration_s=0.5,
    spread_s=0.3,
)


def planned_notifications(jobs: int) -> int:
    schedule, _ = plan(jobs, SETTINGS, random.Random(0))
    return len(schedule)


def assert_every_job_seen_right(run: SideRun) -> None:
    assert run.stopped_by == "all finished", run
    assert run.finished == run.jobs and not run.wrong, run
    assert all(latency > 0 for latency in run.latency_s.values()), run.latency_s


def test_both_sides_see_every_job_finished_and_the_calls_add_up(tmp_path: Path) -> None:
    comparison = compare(SETTINGS, log=lambda line: None)

    assert [row.jobs for row in comparison.sized] == [1, 3]
    for row in comparison.sized:
        jobs, notifications = row.jobs, planned_notifications(row.jobs)
        new, old = row.new, row.old
        assert_every_job_seen_right(new)
        assert_every_job_seen_right(old)
        assert set(old.flag_latency_s) == set(old.latency_s)
        assert all(old.flag_latency_s[job] <= old.latency_s[job] for job in old.latency_s)
        # The same notifications were published to both sides.
        assert new.published == old.published == notifications

        # Old: one process per job, each looks the queue up once, and deletes its terminal message
        # at least (at most all of its own); it receives what the others leave, never less than its own.
        workers = old.calls[OLD_WORKER]
        assert set(workers) <= {"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage"}, workers
        assert workers["sqs:GetQueueUrl"] == jobs
        assert jobs <= workers["sqs:DeleteMessage"] <= notifications
        assert workers["sqs:ReceiveMessage"] >= jobs
        assert old.received >= workers["sqs:DeleteMessage"]

        # New: the function receives each notification once (none failed, none redelivered), writes
        # each job at least once, and deletes in batches; the
        # client only reads, at least once per job.
        function, client = new.calls[FUNCTION], new.calls[CLIENT]
        assert new.received == notifications
        assert set(function) == {"sqs:ReceiveMessage", "sqs:DeleteMessageBatch", "dynamodb:UpdateItem"}, function
        # A state write per job at least; per notification at most that and one merge (warnings, progress).
        assert jobs <= function["dynamodb:UpdateItem"] <= 2 * notifications
        assert 1 <= function["sqs:DeleteMessageBatch"] <= notifications
        assert set(client) == {"dynamodb:GetItem"} and client["dynamodb:GetItem"] >= jobs, client
        assert new.total_calls == sum(function.values()) + sum(client.values())
        assert old.total_calls == sum(workers.values())
        assert new.server_errors == 0

    # The report renders, with one row per job count, and the plot is a PNG.
    text = "\n".join(markdown(comparison))
    assert text.count("\n| 1 |") == 2 and text.count("\n| 3 |") == 2
    plot(comparison, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def test_counts_split_by_caller() -> None:
    with bench_emulator() as (emulator, counter):
        sessions = {
            name: boto3.Session(aws_access_key_id=name, aws_secret_access_key="x", region_name=emulator.region)
            for name in ("alice", "bob-1", "bob-2")
        }
        url = sessions["alice"].client("sqs").create_queue(QueueName="counted")["QueueUrl"]
        topic = sessions["alice"].client("sns").create_topic(Name="counted")["TopicArn"]
        before = counter.snapshot()
        sessions["bob-1"].client("sns").publish(TopicArn=topic, Message="{}")
        for name in ("bob-1", "bob-2"):
            sessions[name].client("sqs").send_message(QueueUrl=url, MessageBody=name)
        sessions["bob-2"].client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        counts = counter.snapshot() - before

    assert counts.of("alice") == Counter()
    assert counts.of("bob") == Counter({"sqs:SendMessage": 2, "sns:Publish": 1, "sqs:ReceiveMessage": 1})
    assert counts.of("bob-1") == Counter({"sqs:SendMessage": 1, "sns:Publish": 1})
    assert counts.received_by("bob") == counts.received_by("bob-2") == 2
