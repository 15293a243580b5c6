"""Numbers the docs (README.md and docs/**/*.md) quote from the code, held to the code: each claim is
found in the pages, and every time it appears it says what the code does now. (The README once said
the client gives up after 3 s connecting and 5 s reading; the code said 2, 2 and 2 attempts.)"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docs_blocks import text
from transcoder_status import client, handler, table
from transcoder_status.cli.jobs import list_jobs_command
from transcoder_status.client import BATCH_GET_LIMIT, CLIENT_CONFIG, Backoff
from transcoder_status.local import demo, stream_mapping
from transcoder_status.local.template import load_template
from transcoder_status.sources._fields import MAX_JOB_ID
from transcoder_status.table import DEFAULT_RETENTION_DAYS


def _template() -> dict[str, object]:
    return load_template()


def _resource(name: str) -> dict[str, object]:
    return _template()["Resources"][name]["Properties"]  # type: ignore[index,no-any-return]


def _default(parameter: str) -> str:
    return str(_template()["Parameters"][parameter]["Default"])  # type: ignore[index]


def _writer_timeout() -> int:
    return int(_resource("StatusWriterFunction")["Timeout"])  # type: ignore[call-overload]


def _window_max() -> int:
    window = _template()["Parameters"]["MaximumBatchingWindowInSeconds"]  # type: ignore[index]
    return int(re.fullmatch(r"must be a whole number from 0 to (\d+)", window["ConstraintDescription"])[1])  # type: ignore[index]


def _visibility_timeout() -> tuple[str, ...]:
    """The timeout, its multiple of the function's timeout once the window is taken off (the docs' 6x,
    AWS's advice, true only while the template's figures make it so), the timeout, the window."""
    visibility = int(_resource("NotificationQueue")["VisibilityTimeout"])  # type: ignore[call-overload]
    times = (visibility - _window_max()) / _writer_timeout()
    return str(visibility), f"{times:g}", str(_writer_timeout()), str(_window_max())


def _alarms() -> str:
    """The alarms every stack has (the multi-account block adds its own, named beside the count)."""
    resources = _template()["Resources"].values()  # type: ignore[attr-defined]
    count = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm" and "Condition" not in r)
    return {10: "ten", 11: "eleven", 12: "twelve"}.get(count, str(count))


def _finished_events_cost() -> str:
    """The cost table's finished-events line: bench/cost.py's model, at the template's memory size,
    for the notifications per job bench/results.md measured."""
    from bench import cost

    results = (Path(__file__).resolve().parents[2] / "bench" / "results.md").read_text()
    per_job = float(re.search(r"Measured in this run: ([\d.]+) notifications per job", results)[1])  # type: ignore[index]
    memory_gb = int(_default("WriterMemorySize")) / 1024
    invocation = cost.LAMBDA_REQUEST + memory_gb * cost.PUBLISHER_INVOCATION_MS / 1000 * cost.LAMBDA_ARM_GB_SECOND
    return f"{1e6 / per_job * (invocation + cost.EVENTBRIDGE_EVENT):.2f}"


def _cost_assumptions() -> tuple[str, ...]:
    from bench import cost

    return (str(cost.PUBLISHER_INVOCATION_MS), f"{cost.EVENTBRIDGE_EVENT * 1e6:.2f}")


def _lambda_gb_seconds(function: str, memory_mb: int) -> float:
    """GB-s per 1,000 from bench/results.md's Lambda CPU table: a function's row at one memory size."""
    results = (Path(__file__).resolve().parents[2] / "bench" / "results.md").read_text()
    row = re.search(rf"^\| {function} \| {memory_mb:,} MB .*\| ([\d.]+) \|$", results, flags=re.MULTILINE)
    assert row, f"bench/results.md has no row for {function} at {memory_mb:,} MB"
    return float(row[1])


def _writer_saving() -> tuple[str, ...]:
    """512 MB's GB-s against the whole vCPU's, and how much less that is."""
    small, whole = _lambda_gb_seconds("the status writer", 512), _lambda_gb_seconds("the status writer", 1769)
    return f"{small:.2f}", f"{whole:.2f}", f"{(1 - small / whole) * 100:.0f}"


def _publisher_mapping() -> dict[str, int]:
    events = _resource("FinishedEventPublisherFunction")["Events"]
    (mapping,) = (event["Properties"] for event in events.values() if event["Type"] == "DynamoDB")  # type: ignore[attr-defined]
    return mapping  # type: ignore[no-any-return]


def _shipped_modules() -> tuple[str, ...]:
    """How many of the project's modules each function's artifact holds (src/function_modules.py)."""
    import importlib.util

    src = Path(__file__).resolve().parents[2] / "src"
    spec = importlib.util.spec_from_file_location("function_modules", src / "function_modules.py")
    assert spec is not None and spec.loader is not None
    modules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(modules)
    functions = ("StatusWriterFunction", "StuckCheckFunction", "FinishedEventPublisherFunction")
    handlers = [str(_resource(function)["Handler"]) for function in functions]
    return tuple(str(len(modules.closure(src, [modules.handler_module(handler, src)]))) for handler in handlers)


def _figures(*numbers: float) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(f"{number:g}" for number in numbers)


LIST_LIMIT = inspect.signature(list_jobs_command).parameters["limit"].default


def _schedule_minutes() -> str:
    events = _resource("StuckCheckFunction")["Events"]
    (schedule,) = (event for event in events.values() if event["Type"] == "Schedule")  # type: ignore[attr-defined]
    return re.fullmatch(r"rate\((\d+) minutes\)", schedule["Properties"]["Schedule"])[1]  # type: ignore[index]


def _demo_sample_time() -> str:
    """How long the run in docs/samples/demo.txt took, as its PASS line says (`make samples` reruns it)."""
    sample = (Path(__file__).resolve().parents[2] / "docs" / "samples" / "demo.txt").read_text()
    return re.search(r"PASS in ([\d.]+) s:", sample)[1]  # type: ignore[index]


# (what the docs say, a pattern whose groups hold the numbers, what the code says they are)
CLAIMS: list[tuple[str, str, Callable[[], tuple[str, ...]]]] = [
    (
        "the client's timeouts",
        r"gives up on a silent endpoint after (\d+) s \(connect\) and (\d+) s \(read\), (\d+) attempts",
        lambda: (
            str(CLIENT_CONFIG.connect_timeout),
            str(CLIENT_CONFIG.read_timeout),
            str(CLIENT_CONFIG.retries["total_max_attempts"]),  # type: ignore[index]
        ),
    ),
    ("jobs per BatchGetItem", r"(\d+) jobs per BatchGetItem", lambda: (str(BATCH_GET_LIMIT),)),
    ("the demo sample's time", r"\(([\d.]+) s in the sample below", lambda: (_demo_sample_time(),)),
    (
        "the client's default backoff",
        r"the library's default ([\d.]+) to ([\d.]+) s",
        lambda: (f"{Backoff().initial:g}", f"{Backoff().maximum:g}"),
    ),
    ("the stuck check's schedule", r"stuck check \(every (\d+) minutes\)", lambda: (_schedule_minutes(),)),
    ("the stuck check's schedule, on AWS", r"the rule's (\d+) minutes", lambda: (_schedule_minutes(),)),
    (
        "the local stuck check",
        r"`transcoder-status local` every (minute), `make demo`\s+every (\d+) s with a (\d+)-second threshold",
        lambda: (
            {60.0: "minute"}[demo.LOCAL_CHECK_EVERY_S],
            f"{demo.DEMO_CHECK_EVERY_S:g}",
            f"{demo.DEMO_STUCK_AFTER_MINUTES * 60:g}",
        ),
    ),
    (
        "the queue's visibility timeout",
        r"visibility timeout, (\d+) s\*\*, is (\d+)x the function's (\d+) s timeout plus the longest "
        r"batching window allowed \((\d+) s\)",
        _visibility_timeout,
    ),
    ("a wait's last call past its deadline", r"given (\d+) s more at most", _figures(client.LAST_READ_S)),
    ("keys per BatchGetItem (migration table)", r"`BatchGetItem` per (\d+) jobs", _figures(BATCH_GET_LIMIT)),
    ("the warnings cap", r"a string set of at most (\d+)", _figures(table.MAX_WARNINGS)),
    (
        "the warnings caps",
        r"\((\d+) warnings per notification, (\d+) per row",
        _figures(table.MAX_WARNINGS_PER_NOTIFICATION, table.MAX_WARNINGS),
    ),
    ("the outputs' bytes in a row", r"to about (\d+) KB of them", _figures(table.MAX_OUTPUTS_BYTES / 1000)),
    ("tries of a warnings merge", r"gave up after (\d+) refusals", _figures(table.MERGE_ATTEMPTS)),
    (
        "the function's timeouts",
        r"client gives up after (\d+) s connecting and (\d+) s reading",
        _figures(handler.CONNECT_TIMEOUT_S, handler.READ_TIMEOUT_S),
    ),
    ("the handler's margin", r"stops waiting (\d+) s before", _figures(handler.DEADLINE_MARGIN_S)),
    ("rows `list` prints", r"`list` prints the newest (\d+) by default", _figures(LIST_LIMIT)),
    ("rows `list` prints (operations)", r"`--limit` \((\d+) by default\)", _figures(LIST_LIMIT)),
    ("a job ID's length", r"a printable string of at most (\d+) characters", _figures(MAX_JOB_ID)),
    ("a bad body's excerpt", r"the first (\d+) characters of the body", _figures(handler.BODY_EXCERPT)),
    ("a log line's size", r"A line ends before about (\d+) KB", _figures(handler.LOG_LINE_BYTES / 1000)),
    (
        "WriterMemorySize's default",
        r"\| `WriterMemorySize` \| `(\d+)` \|",
        lambda: (_default("WriterMemorySize"),),
    ),
    (
        "StuckCheckMemorySize's default",
        r"\| `StuckCheckMemorySize` \| `(\d+)` \|",
        lambda: (_default("StuckCheckMemorySize"),),
    ),
    (
        "the local stream mapping's retry pause",
        r"a failed batch is retried after ([\d.]+) s, not with Lambda's backoff",
        _figures(stream_mapping.RETRY_PAUSE_S),
    ),
    (
        "the publisher in the cost model",
        r"at most one (\d+) ms invocation per finished job, at `WriterMemorySize` .*? each event put on the bus "
        r"\$([\d.]+) per million",
        _cost_assumptions,
    ),
    (
        "the finished events' cost",
        r"\| finished events \(the publisher and the bus\) \| - \| \$([\d.]+) \|",
        lambda: (_finished_events_cost(),),
    ),
    (
        "the publisher's record age",
        r"records older than (\d+) hours \(`MaximumRecordAgeInSeconds`\)",
        lambda: (str(_publisher_mapping()["MaximumRecordAgeInSeconds"] // 3600),),
    ),
    (
        "the modules each function ships",
        r"The writer ships (\d+) modules, the stuck check (\d+) \(it repairs, so it reads\), the publisher (\d+);",
        _shipped_modules,
    ),
    (
        "the publisher's retries",
        r"up to (\d+) times and for at most (\d+) hours",
        lambda: (
            str(_publisher_mapping()["MaximumRetryAttempts"]),
            str(_publisher_mapping()["MaximumRecordAgeInSeconds"] // 3600),
        ),
    ),
    ("the stack's alarms", r"; (\w+) alarms \(see", lambda: (_alarms(),)),
    (
        "the chance that two accounts' jobs of one millisecond share an ID (six base-36 characters)",
        r"1 chance in 36\^(\d+) = ([\d,]+), about 1 in (\d+) billion",
        lambda: ("6", f"{36**6:,}", f"{36**6 / 1e9:.0f}"),
    ),
    ("MaxReceiveCount's default", r"\| `MaxReceiveCount` \| `(\d+)` \|", lambda: (_default("MaxReceiveCount"),)),
    (
        "RetentionDays' default",
        r"\| `RetentionDays` \| `(\d+)` \|",
        lambda: (_default("RetentionDays"),),
    ),
    (
        "RetentionDays' default, in the code",
        r"\| `RetentionDays` \| `(\d+)` \|",
        lambda: (str(DEFAULT_RETENTION_DAYS),),
    ),
    (
        "the writer's GB-s at 512 MB against 1,769 MB",
        r"512 MB would be the cheapest \(([\d.]+) GB-s per 1,000 notifications against ([\d.]+) at 1,769 MB\), "
        r"(\d+)% less",
        _writer_saving,
    ),
    (
        "the stuck check's unpaced GB-s at 512 MB",
        r"per 1,000 jobs asked about at 512 MB, not the (\d+) above",
        lambda: (f"{_lambda_gb_seconds('the stuck check', 512):.0f}",),
    ),
]


@pytest.mark.parametrize(("claim", "pattern", "code"), CLAIMS, ids=[claim for claim, _, _ in CLAIMS])
def test_the_docs_quote_the_code(claim: str, pattern: str, code: Callable[[], tuple[str, ...]]) -> None:
    found = [match.groups() for match in re.finditer(pattern, " ".join(text().split())) if any(match.groups())]
    assert found, f"the docs no longer say {claim}: drop the claim here or put it back"
    for quoted in found:
        assert quoted == code(), f"the docs say {claim} is {quoted}; the code says {code()}"
