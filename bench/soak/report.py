"""What ``make soak`` prints, and the figures it keeps in a Markdown file (one row per configuration,
replaced when that configuration runs again) for the docs (docs/reliability.md) to quote."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .load import MALFORMED_REASONS, Kind, Route
from .run import CLIENT_BACKOFF, SoakResult

TEMPLATE_MAX_RECEIVE_COUNT = 5
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def faults_label(result: SoakResult) -> str:
    return ",".join(sorted(result.options.faults)) or "none"


def throughput(result: SoakResult) -> float | None:
    return None if not result.drained_s else result.sent / result.drained_s


def print_report(console: Console, result: SoakResult) -> None:
    options, load = result.options, result.load
    kinds = Counter(send.kind for send in load.sends)
    routes = Counter(send.route for send in load.sends if send.kind is Kind.ORIGINAL)
    after_terminal, out_of_order = load.disorder()
    summary = Table(show_header=False, box=None, padding=(0, 1))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column()
    receive = f"MaxReceiveCount {options.receive_count}"
    if options.receive_count != TEMPLATE_MAX_RECEIVE_COUNT:
        receive += (
            f" (the template's default is {TEMPLATE_MAX_RECEIVE_COUNT}: raised so that faults alone never"
            " dead-letter a good message)"
        )
    summary.add_row("Run", f"seed {options.seed}, faults: {faults_label(result)}; {receive}")
    summary.add_row(
        "Sent",
        f"{result.sent:,} notifications for {len(load.jobs):,} jobs: {kinds[Kind.ORIGINAL]:,} originals "
        f"({routes[Route.TOPIC]:,} Elastic Transcoder through SNS PublishBatch, {routes[Route.BUS]:,} MediaConvert "
        f"through EventBridge PutEvents), {kinds[Kind.REPUBLISHED]:,} duplicates published again, "
        f"{kinds[Kind.COPIED]:,} copied into the queue, {kinds[Kind.LATE_COPY]:,} copied last (late), "
        f"{kinds[Kind.MALFORMED]:,} malformed; shuffled: {after_terminal:,} after their job's terminal notification, "
        f"{out_of_order:,} MediaConvert events after a later one of their job",
    )
    right = len(load.jobs) - len(result.wrong)
    summary.add_row(
        "Rows",
        f"{right:,} right, {len(result.wrong):,} wrong, {result.stray_rows} stray (finishedAt of the "
        f"{load.republished_terminals():,} Elastic Transcoder jobs whose terminal notification was published "
        "more than once: any of its sends' times)",
    )
    found, others = result.dead_letter_tokens()
    reasons = Counter(send.malformed_reason for send in load.malformed if send.token in found)
    detail = ", ".join(f"{reasons[reason]} {reason}" for reason in MALFORMED_REASONS if reasons[reason])
    summary.add_row(
        "DLQ",
        f"{len(result.dead_letters):,} message(s): {len(found)} of the {len(load.malformed)} malformed ({detail}), "
        f"{others} other",
    )
    lost, extra = result.account()
    summary.add_row(
        "Lost",
        f"{len(lost):,} (sent, and carried by no SQS message the function handled or the DLQ holds, matched by ID)",
    )
    summary.add_row(
        "Extra",
        f"{len(extra):,} (SQS messages carrying nothing the soak sent, or what another message carried)"
        + (f": {', '.join(extra[:5])}" if extra else ""),
    )
    rate = throughput(result)
    summary.add_row(
        "Throughput",
        "the queue never emptied"
        if rate is None
        else f"{rate:,.0f} notifications/s: all {result.sent:,} handled in {result.drained_s:.1f} s "
        f"from the first send (sending took {result.publish_s:.1f} s)",
    )
    summary.add_row("Latency", latency_text(result))
    seen = f"saw {len(result.seen_finished):,} of {len(load.jobs):,} jobs finished"
    if unseen := result.unseen:
        seen = f"[red]{len(unseen):,} job(s) the client never saw finished: {', '.join(unseen[:5])}[/red]; {seen}"
    summary.add_row("Client", seen)
    counted, expected = result.counted_job_metrics, result.expected_job_metrics
    jobs = ", ".join(f"{name} {value:,}" for name, value in counted.items())
    summary.add_row(
        "Jobs counted",
        f"{jobs} by the publisher (its EMF log): each job once"
        if counted == expected
        else f"[red]{jobs} by the publisher (its EMF log), expected "
        + ", ".join(f"{name} {value:,}" for name, value in expected.items())
        + "[/red]",
    )
    poller = [f"{name.replace('_', ' ')} {value:,}" for name, value in result.log.poller.items()]
    summary.add_row("Poller", ", ".join([*poller, f"invocations {result.log.started:,}"]))
    for name, text in fault_lines(result):
        summary.add_row(name, text)
    for problem in result.problems:
        summary.add_row("[red]Problem[/red]", problem)
    if result.unsent:
        summary.add_row("Not sent", f"{result.unsent:,}: the time bound came first")
    if result.publish_errors:
        summary.add_row("Send errors", f"{len(result.publish_errors)}: {result.publish_errors[0]}")
    summary.add_row("Function log", str(result.log_path))
    console.print(summary)
    for job_id, differences in list(result.wrong.items())[:5]:
        console.print(f"[red]wrong row {job_id}[/red]: " + escape("; ".join(differences)))  # texts hold brackets
    if result.passed:
        console.print(
            "[bold green]PASS[/bold green]: every row right, nothing lost, only the malformed in the DLQ, "
            "every job seen finished."
        )
    else:
        console.print("[bold red]FAIL[/bold red]: see above.")


def latency_text(result: SoakResult) -> str:
    latencies = result.latencies_s
    client = (
        f"client: watch_jobs (BatchGetItem of the unfinished jobs), "
        f"backoff {CLIENT_BACKOFF.initial:g}-{CLIENT_BACKOFF.maximum:g} s"
    )
    if not latencies:
        return f"no job seen finished ({client})"
    figures = ", ".join(f"{name} {percentile(latencies, share):.1f} s" for name, share in PERCENTILES)
    return f"terminal notification sent -> client saw the job finished: {figures} ({client}; {len(latencies):,} jobs)"


def fault_lines(result: SoakResult) -> list[tuple[str, str]]:
    lines = []
    if result.proxy is not None:
        for service, label in (("dynamodb", "DynamoDB faults"), ("sqs", "SQS faults")):
            if service not in result.options.faults:
                continue
            calls = sum(n for (s, _), n in result.proxy.calls.items() if s == service)
            errors: Counter[str] = Counter()
            for (called, _, code), count in result.proxy.errors.items():
                if called == service:
                    errors[code] += count
            text = ", ".join(f"{code} {n:,}" for code, n in errors.most_common())
            late = result.proxy.after_forwarding[service]
            text += f"; {late:,} of them after the call took effect" if late else ""
            lines.append((label, f"{sum(errors.values()):,} of {calls:,} calls answered with an error ({text})"))
    chaos = result.chaos
    if "kill" in result.options.faults:
        missed = f"; {chaos.kills_missed} milestone(s) found no busy worker" if chaos.kills_missed else ""
        cut = result.log.started - result.log.ended
        lines.append(
            (
                "Workers killed",
                f"{len(chaos.kills)} by SIGKILL, {cut} of them mid-batch (a START without its END in the log){missed}",
            )
        )
    if "restart" in result.options.faults:
        downs = ", ".join(f"{seconds:.1f} s" for seconds in chaos.restarts)
        lines.append(("Runtime restarts", f"{len(chaos.restarts)} (SIGTERM, then a new runtime; down {downs})"))
    return lines


def fault_summary(result: SoakResult) -> str:
    """The faults injected, in a few words."""
    parts = []
    if result.proxy is not None:
        for service, label in (("dynamodb", "DynamoDB"), ("sqs", "SQS")):
            if service in result.options.faults:
                calls = sum(n for (s, _), n in result.proxy.calls.items() if s == service)
                errors = sum(n for (s, _, _), n in result.proxy.errors.items() if s == service)
                parts.append(f"{label} errors on {errors:,} of {calls:,} calls")
    if "kill" in result.options.faults:
        cut = result.log.started - result.log.ended
        parts.append(f"{len(result.chaos.kills)} workers killed ({cut} mid-batch)")
    if "restart" in result.options.faults:
        parts.append(f"{len(result.chaos.restarts)} runtime restarts")
    return "; ".join(parts) or "-"


# -- the figures file --------------------------------------------------------------------------

HEADER = """# Soak figures

Written by `make soak` (one row per configuration, replaced when it runs again). Each run: a fresh
embedded stack from template.yaml on this machine, the whole pipeline end to end. Latency: from a
job's terminal notification sent to a client polling the table with `watch_jobs` seeing the job
finished. Throughput: notifications sent / time from the first send until the queue was empty.

"""
COLUMNS = (
    ("faults", "---"),
    ("notifications", "---:"),
    ("jobs", "---:"),
    ("rows right", "---:"),
    ("wrong", "---:"),
    ("DLQ (malformed)", "---:"),
    ("lost", "---:"),
    ("throughput /s", "---:"),
    *((f"{name} s", "---:") for name, _ in PERCENTILES),
    ("injected", "---"),
    ("MaxReceiveCount", "---:"),
    ("date", "---"),
)
TABLE_HEADER = "| " + " | ".join(name for name, _ in COLUMNS) + " |\n|" + "|".join(a for _, a in COLUMNS) + "|\n"
_ROW = re.compile(r"^\| `([^`]+)` \| (\d[\d,]*) \|")


def record(path: Path, result: SoakResult) -> None:
    """Put this run's row in the figures file, replacing the row of the same faults and size."""
    key = (faults_label(result), f"{result.sent:,}")
    kept = []
    if path.exists():
        for line in path.read_text().splitlines():
            match = _ROW.match(line)
            if match and (match.group(1), match.group(2)) != key:
                kept.append(line)
    kept.append(_row(result))
    path.write_text(HEADER + TABLE_HEADER + "\n".join(sorted(kept, key=_order)) + "\n")


def _order(line: str) -> tuple[int, str]:
    return (0 if line.startswith("| `none`") else 1, line)


def _row(result: SoakResult) -> str:
    latencies = result.latencies_s
    figures = [f"{percentile(latencies, share):.1f}" if latencies else "-" for _, share in PERCENTILES]
    found, others = result.dead_letter_tokens()
    rate = throughput(result)
    injected = fault_summary(result)
    others_text = f", {others} other" if others else ""
    cells = [
        f"`{faults_label(result)}`",
        f"{result.sent:,}",
        f"{len(result.load.jobs):,}",
        f"{len(result.load.jobs) - len(result.wrong):,}",
        f"{len(result.wrong):,}",
        f"{len(result.dead_letters)} ({len(found)} of {len(result.load.malformed)}{others_text})",
        f"{result.lost:,}",
        "-" if rate is None else f"{rate:,.0f}",
        *figures,
        injected,
        str(result.options.receive_count),
        datetime.now(UTC).strftime("%Y-%m-%d"),
    ]
    return "| " + " | ".join(cells) + " |"
