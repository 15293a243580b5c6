"""What the soak reports and keeps (bench.soak.report), from results made up here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.soak.faults import FaultProxy
from bench.soak.load import Load, Outgoing, Route, plan_load
from bench.soak.report import percentile, print_report, record
from bench.soak.run import FunctionLog, SoakOptions, SoakResult


def sent(load: Load) -> None:
    """IDs as the services give them: SNS and EventBridge their own, SQS a message ID for a copy."""
    for number, send in enumerate(load.sends):
        send.message_id = {Route.TOPIC: "sns-", Route.BUS: "event-", Route.QUEUE: "sqs-copy-"}[send.route] + str(number)
        send.sent_ms = 1_764_000_000_000 + number


def delivered(send: Outgoing, number: int) -> tuple[str, str]:
    """The SQS message that carried a send: its ID, and the SNS or EventBridge ID its body holds."""
    assert send.message_id is not None
    if send.original is not None:  # a copy, with its original's body
        assert send.original.message_id is not None
        return send.message_id, send.original.message_id
    return f"sqs-{number}", send.message_id


def delivered_body(send: Outgoing) -> dict[str, Any]:
    """The SQS body a published notification arrives in: SNS's envelope, or the EventBridge event."""
    document = send.document
    if isinstance(document, str) or send.route is Route.TOPIC:
        message = document if isinstance(document, str) else json.dumps(document)
        return {"Type": "Notification", "MessageId": send.message_id, "Message": message}
    return {**document, "id": send.message_id}


def write_log(path: Path, deliveries: list[tuple[str, str]]) -> None:
    """The function's log line for these messages, one job written each."""
    jobs = [{"jobId": sqs_id, "messageIds": [sqs_id], "eventIds": [event_id]} for sqs_id, event_id in deliveries]
    path.write_text(json.dumps({"message": "jobs written", "jobs": jobs}) + "\n")


def handled(load: Load) -> list[tuple[str, str]]:
    return [delivered(send, n) for n, send in enumerate(load.sends) if send.token is None]


def result(tmp_path: Path, faults: frozenset[str] = frozenset(), wrong: bool = False) -> SoakResult:
    """A clean run: every well-formed notification handled by the function, every malformed one in the DLQ."""
    load = plan_load(100, 10, seed=3, start_ms=1_764_000_000_000)
    sent(load)
    made = SoakResult(SoakOptions(notifications=100, jobs=10, faults=faults), load, tmp_path / "function.log")
    made.sent = len(load.sends)
    made.drained_s = 4.0
    made.dead_letters = [
        {"MessageId": f"sqs-{n}", "Body": json.dumps(delivered_body(send))}
        for n, send in enumerate(load.sends)
        if send.token is not None
    ]
    write_log(made.log_path, handled(load))
    made.log = FunctionLog.read(made.log_path)
    for number, job in enumerate(load.jobs):
        made.terminal_sent[job.job_id] = 1000.0
        made.seen_finished[job.job_id] = 1000.0 + number / 10
    made.job_metrics = dict(made.expected_job_metrics)  # the publisher counted each job once
    if wrong:
        job = load.jobs[0]
        made.wrong[job.job_id] = ["no row"]
    return made


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert [percentile(values, share) for share in (0.5, 0.9, 0.99, 1.0)] == [50.0, 90.0, 99.0, 100.0]
    assert percentile([3.0], 0.5) == 3.0


def test_a_clean_run_passes_and_says_so(tmp_path: Path) -> None:
    made = result(tmp_path)
    assert made.passed and made.lost == 0 and made.unsent == 0
    console = Console(record=True, width=200)
    print_report(console, made)
    text = console.export_text()
    assert "10 right, 0 wrong" in text and "Lost          0" in text and "PASS" in text
    assert "25 notifications/s" in text  # 100 sent, queue empty 4 s after the first send
    assert "p50 0.4 s, p90 0.8 s, p99 0.9 s, max 0.9 s" in text
    assert "each job once" in text


def test_outcome_metrics_that_do_not_count_each_job_once_fail_the_run(tmp_path: Path) -> None:
    """Issue 20: a job finished by a redelivery (its write came back DUPLICATE) went uncounted."""
    made = result(tmp_path)
    expected = made.expected_job_metrics
    assert sum(expected.values()) == len(made.load.jobs)
    name = next(name for name, value in expected.items() if value)
    made.job_metrics = {**expected, name: expected[name] - 1}
    assert not made.passed
    console = Console(record=True, width=300)
    print_report(console, made)
    text = console.export_text()
    assert f"{name} {expected[name] - 1}" in text and "expected" in text


def test_a_wrong_row_a_lost_message_or_a_good_one_in_the_dlq_fails_the_run(tmp_path: Path) -> None:
    assert not result(tmp_path, wrong=True).passed
    lost = result(tmp_path)
    write_log(lost.log_path, handled(lost.load)[1:])
    lost.log = FunctionLog.read(lost.log_path)
    assert lost.lost == 1 and not lost.passed
    good_in_dlq = result(tmp_path)
    good_in_dlq.dead_letters.append({"MessageId": "sqs-0", "Body": "a good one"})
    assert good_in_dlq.dead_letter_tokens()[1] == 1 and not good_in_dlq.passed
    never_drained = replace(result(tmp_path), drained_s=None)
    assert not never_drained.passed


def test_a_lost_message_is_found_by_its_id_even_beside_an_extra_one(tmp_path: Path) -> None:
    """Lost was a count: messages sent minus the distinct IDs handled, so one extra hid a loss."""
    made = result(tmp_path)
    deliveries = handled(made.load)
    published = next(d for d in deliveries if d[1].startswith("sns-"))
    write_log(made.log_path, [d for d in deliveries if d != published] + [("sqs-extra", "sns-nobody-sent")])
    made.log = FunctionLog.read(made.log_path)
    assert made.lost == 1 and not made.passed


def test_a_copy_and_its_original_are_told_apart_by_their_sqs_message_ids(tmp_path: Path) -> None:
    """Both bodies carry the original's SNS or EventBridge ID: only the copy's SQS ID is the copy's."""
    made = result(tmp_path)
    copy = next(n for n, send in enumerate(made.load.sends) if send.original is not None)
    original = made.load.sends.index(made.load.sends[copy].original)  # type: ignore[arg-type]
    deliveries = handled(made.load)
    lost = delivered(made.load.sends[original], original)
    write_log(made.log_path, [d for d in deliveries if d != lost] + [("sqs-extra", "sns-nobody-sent")])
    made.log = FunctionLog.read(made.log_path)
    assert made.lost == 1 and not made.passed


def test_a_message_that_carried_nothing_the_soak_sent_fails_the_run(tmp_path: Path) -> None:
    made = result(tmp_path)
    write_log(made.log_path, [*handled(made.load), ("sqs-extra", "sns-nobody-sent")])
    made.log = FunctionLog.read(made.log_path)
    assert made.lost == 0 and not made.passed


def test_a_job_the_client_never_saw_finished_fails_the_run(tmp_path: Path) -> None:
    """Its latency was left out of the percentiles, and the run passed."""
    made = result(tmp_path)
    unseen = made.load.jobs[0].job_id
    del made.seen_finished[unseen]
    assert not made.passed
    console = Console(record=True, width=200)
    print_report(console, made)
    assert f"1 job(s) the client never saw finished: {unseen}" in console.export_text()


def test_the_figures_file_keeps_one_row_per_configuration(tmp_path: Path) -> None:
    figures = tmp_path / "soak.md"
    record(figures, result(tmp_path))
    record(figures, result(tmp_path, frozenset({"kill"})))
    record(figures, result(tmp_path))  # the same configuration again: its row is replaced
    rows = [line for line in figures.read_text().splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == ["| `none`", "| `kill`"]
    assert figures.read_text().startswith("# Soak figures")


def test_injected_errors_are_summed_over_operations(tmp_path: Path) -> None:
    made = result(tmp_path, frozenset({"sqs"}))
    made.proxy = FaultProxy("http://127.0.0.1:9", lambda call: None)
    made.proxy.calls.update({("sqs", "ReceiveMessage"): 100, ("sqs", "DeleteMessageBatch"): 50})
    made.proxy.errors.update(
        {("sqs", "ReceiveMessage", "InternalError"): 12, ("sqs", "DeleteMessageBatch", "InternalError"): 2}
    )
    console = Console(record=True, width=200)
    print_report(console, made)
    assert "14 of 150 calls answered with an error (InternalError 14)" in console.export_text()


def test_a_wrong_row_is_printed_as_its_differences_brackets_and_all(tmp_path: Path) -> None:
    made = result(tmp_path)
    job_id = made.load.jobs[0].job_id
    made.wrong[job_id] = ["errorMessage: 'Video codec [indeo4] is not supported', expected None"]
    console = Console(record=True, width=200)
    print_report(console, made)
    assert f"wrong row {job_id}: errorMessage: 'Video codec [indeo4] is not supported', expected None" in (
        console.export_text()
    )
