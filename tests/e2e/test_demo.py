"""The whole pipeline, as a user runs it: `transcoder-status demo` and `transcoder-status local`.

The default demo (one account) runs once in the suite, from the installed wheel, and is checked in
full there (test_installed_package.py): a second run here proved nothing that one does not."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from transcoder_status.local.messages import elastic_transcoder_message

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

COMMAND = shutil.which("transcoder-status") or os.path.join(os.path.dirname(sys.executable), "transcoder-status")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TABLE_NAME"}


def test_demo_with_two_accounts_ends_every_job_right_in_one_table(tmp_path: Path) -> None:
    """Issue 24, scaled down: a MediaConvert job in each of the central account's Region, a second
    account's and the central account's second Region; the second account's lost terminal event
    repaired through its reader role; an account the stack does not list refused."""
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [COMMAND, "demo", "--jobs", "6", "--seed", "7", "--accounts", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**CLEAN_ENV, "COLUMNS": "200", "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 jobs reached their simulated state" in result.stdout
    # The verdict holds each row to where its job ran: account and Region recorded in the one table.
    assert "123456789012/us-east-1 1/1, 444455556666/eu-west-1 1/1, 123456789012/us-west-2 1/1" in result.stdout
    assert "3 accounts and Regions, each row recording its own" in result.stdout
    assert "repaired from MediaConvert through arn:aws:iam::444455556666:role/transcoder-status-reader" in result.stdout
    assert "account 111122223333 refused" in result.stdout
    assert result.stderr == ""  # the refusal is logged to its file, not to the terminal


def test_local_keeps_the_stack_running_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [COMMAND, "local", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**CLEAN_ENV, "COLUMNS": "80", "TMPDIR": str(tmp_path)},
    )
    try:
        lines = _until_exports(process)
        assert process.stdout is not None
        environment = dict(
            pair.split("=", 1) for pair in next(line for line in lines if line.startswith("export ")).split()[1:]
        )
        assert environment["DLQ_URL"].endswith("-NotificationDeadLetterQueue")
        while not any("UndeliveredQueueUrl" in line for line in lines):  # printed after the topic
            lines.append(process.stdout.readline())
        topic = re.search(r"NotificationTopicArn: (\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        # At 80 columns an ARN is still one word on one line (the terminal wraps it; copy and paste works).
        assert topic.startswith("arn:aws:sns:") and topic.count(":") == 5, lines
        assert "(on AWS: rate(15 minutes))" in "".join(lines)  # the stuck check's schedule, truthfully
        assert "not run" not in "".join(lines)

        job = "4000000000000-locals"
        session = boto3.Session(
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            region_name=environment["AWS_REGION"],
        )
        session.client("sns", endpoint_url=environment["AWS_ENDPOINT_URL"]).publish(
            TopicArn=topic, Message=json.dumps(elastic_transcoder_message(job, "COMPLETED"))
        )
        watch = subprocess.run(  # noqa: PLW1510 - the return code is asserted
            [COMMAND, "watch", job, "--timeout", "30"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**CLEAN_ENV, **environment},
        )
        assert watch.returncode == 0, watch.stdout + watch.stderr
        assert "All 1 job(s) succeeded" in watch.stdout
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert process.stdout is not None
    (kept,) = tmp_path.iterdir()  # --keep: the logs stay, and it says where
    assert f"Logs kept in {kept}" in process.stdout.read()
    assert (kept / "function.log").exists()


def _children(pid: int) -> list[int]:
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _until_exports(process: subprocess.Popen[str]) -> list[str]:
    """What ``local`` printed up to its ``export`` line (the stack is up), within a minute."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any(line.startswith("export ") for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        lines.append(process.stdout.readline())
    return lines


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_sigterm_stops_local_as_ctrl_c_does(tmp_path: Path) -> None:
    """`kill PID` (a service manager, a CI runner's timeout) stops the stack as Ctrl-C does: the function
    runtime goes with it and the logs' directory is removed; nothing is left running."""
    process = subprocess.Popen(
        [COMMAND, "local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**CLEAN_ENV, "TMPDIR": str(tmp_path)},
    )
    children: list[int] = []
    try:
        _until_exports(process)
        children = _children(process.pid)
        assert children  # the function's runtime, at least
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        # multiprocessing's resource tracker ends when it reads EOF on its pipe, a moment after its
        # parent: each child is given a few seconds to go, and none may stay.
        gone_by = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert [pid for pid in children if _alive(pid)] == []
        assert list(tmp_path.iterdir()) == []
    finally:
        for pid in [process.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()
