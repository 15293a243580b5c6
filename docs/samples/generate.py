"""Regenerate the samples of output the docs include (docs/samples/*.txt): each is the real command's
output at 80 columns, run against the embedded stack, never pasted.

    make samples            # every sample, the demos included (about a minute)
    python docs/samples/generate.py --check   # the deterministic ones only: exit 1 if a file differs

Times, ports and temporary paths vary from run to run; the deterministic samples have them replaced by
fixed values of the same width, so that a table's layout is exactly what the code prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent
WIDTH = "80"

_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")  # a table may fold a time onto the next line: each part alone
_TIME = re.compile(r"\b\d\d:\d\d:\d\d(\.\d{3})?Z")
_URL = re.compile(r"http://127\.0\.0\.1:\d+")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")  # SQS message IDs


def steady(text: str) -> str:
    """Times and ports replaced by fixed values of the same width."""
    text = _DATE.sub("2025-08-12", text)
    text = _TIME.sub(lambda m: "12:00:00" + (".000" if m.group(1) else "") + "Z", text)
    text = _URL.sub(lambda m: "http://127.0.0.1:" + "4" * (len(m.group(0)) - len("http://127.0.0.1:")), text)
    ids: dict[str, str] = {}  # each message ID by a fixed one, the same wherever it appears
    return _UUID.sub(lambda m: ids.setdefault(m.group(0), f"{len(ids) + 1:08x}-0000-4000-8000-000000000000"), text)


def run(environment: dict[str, str], *arguments: str) -> str:
    """`$ transcoder-status ARGS` and what it printed (stdout, then stderr), as a terminal 80 wide shows
    it; run in this process (the command's own code, through click's test runner), to be quick."""
    from typer.testing import CliRunner

    from transcoder_status.cli import app

    cwd = Path.cwd()
    os.chdir(ROOT)  # paths in the samples as a user in a clone types them
    try:
        done = CliRunner().invoke(app, list(arguments), env={**environment, "COLUMNS": WIDTH, "TERM": "dumb"})
    finally:
        os.chdir(cwd)
    shown = " ".join(arguments)
    return f"$ transcoder-status {shown}\n{done.stdout}{done.stderr}"


@contextmanager
def stack() -> Iterator[dict[str, str]]:
    """The embedded emulator with the stack provisioned, and the environment that reaches it."""
    from transcoder_status.local.emulator import running_emulator
    from transcoder_status.local.provision import provision

    with running_emulator() as emulator:
        built = provision()
        yield {
            **emulator.environment(),
            "TABLE_NAME": built.outputs["TableName"],
            "DLQ_URL": built.outputs["DeadLetterQueueUrl"],
        }


def dead_letters(environment: dict[str, str]) -> None:
    """What a bad day leaves in the DLQ: a message the parser refuses, and a notification that parses
    but could not be written (an outage), both as SNS delivered them."""
    import boto3

    from transcoder_status.local.messages import elastic_transcoder_message, sns_envelope

    sqs = boto3.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_REGION"],
    ).client("sqs", endpoint_url=environment["AWS_ENDPOINT_URL"])
    now_ms = int(time.time() * 1000)
    outage = elastic_transcoder_message("1755000000002-outage", "COMPLETED")
    for body in (sns_envelope({}, now_ms) | {"Message": "{ not a notification"}, sns_envelope(outage, now_ms)):
        sqs.send_message(QueueUrl=environment["DLQ_URL"], MessageBody=json.dumps(body))


def deterministic() -> dict[str, str]:
    """The samples a test compares with the files: status, list, replay's refusals, a bad day's list and DLQ."""
    samples: dict[str, str] = {}
    with stack() as environment:
        for event in ("elastic-transcoder-error", "mediaconvert-status-update"):
            run(environment, "replay", f"events/{event}.json")
        samples["status.txt"] = run(
            environment, "status", "1432217012218-qpa0jk", "1671477617078-2886ye", "1700000000000-nonews"
        )
        samples["list.txt"] = run(environment, "list")
        samples["replay-refused.txt"] = run(environment, "replay", "events/env.json") + run(
            environment, "replay", "events"
        )
        run(environment, "replay", "events/mediaconvert-error.json")  # after status and list: the same job fails
        samples["list-errors.txt"] = run(environment, "list", "--status", "ERROR", "--since", "1d")
        dead_letters(environment)
        samples["dlq-show.txt"] = run(environment, "dlq", "show")
    return {name: steady(text) for name, text in samples.items()}


def demo(*options: str) -> str:
    """`make demo` with a fixed seed and ``options`` (its timings vary; a test holds its figures to the code)."""
    arguments = ["--seed", "42", *options]
    done = subprocess.run(
        [sys.executable, "-m", "transcoder_status.cli", "demo", *arguments],
        env={**os.environ, "COLUMNS": WIDTH, "TERM": "dumb"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return f'$ make demo ARGS="{" ".join(arguments)}"\n{done.stdout}{done.stderr}'


def main() -> int:
    check = "--check" in sys.argv
    samples = deterministic()
    if not check:
        samples["demo.txt"] = demo()
        samples["demo-accounts.txt"] = demo("--accounts", "2")
    stale = [
        name for name, text in samples.items() if (SAMPLES / name).exists() and (SAMPLES / name).read_text() != text
    ]
    if check:
        missing = [name for name in samples if not (SAMPLES / name).exists()]
        for name in stale + missing:
            print(f"docs/samples/{name} differs from what the code prints now: run `make samples`")
        return 1 if stale or missing else 0
    for name, text in samples.items():
        (SAMPLES / name).write_text(text)
        print(f"docs/samples/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
