"""What the soak reports and keeps (transcoder_status.local.soak_report), from results made up here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from transcoder_status.local.faults import FaultProxy
from transcoder_status.local.load import plan_load
from transcoder_status.local.soak import SoakOptions, SoakResult
from transcoder_status.local.soak_report import percentile, print_report, record


def result(faults: frozenset[str] = frozenset(), wrong: bool = False) -> SoakResult:
    load = plan_load(100, 10, seed=3, start_ms=1_764_000_000_000)
    made = SoakResult(SoakOptions(notifications=100, jobs=10, faults=faults), load, Path("function.log"))
    made.sent = len(load.sends)
    made.drained_s = 4.0
    made.dead_letters = [
        {"MessageId": f"dead-{n}", "Body": f'{{"x": "{send.token}"}}'} for n, send in enumerate(load.malformed)
    ]
    made.log.handled = {f"handled-{n}" for n in range(made.sent - len(load.malformed))}
    for number, job in enumerate(load.jobs):
        made.terminal_sent[job.job_id] = 1000.0
        made.seen_finished[job.job_id] = 1000.0 + number / 10
    if wrong:
        job = load.jobs[0]
        made.wrong[job.job_id] = (None, load.expected(job))
    return made


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert [percentile(values, share) for share in (0.5, 0.9, 0.99, 1.0)] == [50.0, 90.0, 99.0, 100.0]
    assert percentile([3.0], 0.5) == 3.0


def test_a_clean_run_passes_and_says_so() -> None:
    made = result()
    assert made.passed and made.lost == 0 and made.unsent == 0
    console = Console(record=True, width=200)
    print_report(console, made)
    text = console.export_text()
    assert "10 right, 0 wrong" in text and "Lost          0" in text and "PASS" in text
    assert "25 notifications/s" in text  # 100 sent, queue empty 4 s after the first send
    assert "p50 0.4 s, p90 0.8 s, p99 0.9 s, max 0.9 s" in text


def test_a_wrong_row_a_lost_message_or_a_good_one_in_the_dlq_fails_the_run() -> None:
    assert not result(wrong=True).passed
    lost = result()
    lost.log.handled.pop()
    assert lost.lost == 1 and not lost.passed
    good_in_dlq = result()
    good_in_dlq.dead_letters.append({"MessageId": "handled-0", "Body": "a good one"})
    assert good_in_dlq.dead_letter_tokens()[1] == 1 and not good_in_dlq.passed
    never_drained = replace(result(), drained_s=None)
    assert not never_drained.passed


def test_the_figures_file_keeps_one_row_per_configuration(tmp_path: Path) -> None:
    figures = tmp_path / "soak.md"
    record(figures, result())
    record(figures, result(frozenset({"kill"})))
    record(figures, result())  # the same configuration again: its row is replaced
    rows = [line for line in figures.read_text().splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == ["| `none`", "| `kill`"]
    assert figures.read_text().startswith("# Soak figures")


def test_injected_errors_are_summed_over_operations() -> None:
    made = result(frozenset({"sqs"}))
    made.proxy = FaultProxy("http://127.0.0.1:9", lambda call: None)
    made.proxy.calls.update({("sqs", "ReceiveMessage"): 100, ("sqs", "DeleteMessageBatch"): 50})
    made.proxy.errors.update(
        {("sqs", "ReceiveMessage", "InternalError"): 12, ("sqs", "DeleteMessageBatch", "InternalError"): 2}
    )
    console = Console(record=True, width=200)
    print_report(console, made)
    assert "14 of 150 calls answered with an error (InternalError 14)" in console.export_text()
