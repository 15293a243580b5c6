"""A scaled-down soak whose rows are sabotaged just before its checks, one attribute per job: run as
a script by test_soak (the soak runs an emulator of its own, whose moto must not be the tests').

Prints the result as JSON: whether the soak passed, what was sabotaged, and what it found wrong.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from bench.soak import run as soak
from bench.soak.load import Load
from transcoder_status.local.provision import Stack
from transcoder_status.notification import Source

NEVER = {"S": "1999-01-01T00:00:00.000Z"}


def main() -> None:
    check = soak._check
    sabotaged: dict[str, str] = {}

    def sabotage_then_check(load: Load, stack: Stack, result: soak.SoakResult) -> None:
        dynamodb = boto3.client("dynamodb")
        et = [job.job_id for job in load.jobs if job.source == Source.ELASTIC_TRANSCODER]
        mc = [job.job_id for job in load.jobs if job.source == Source.MEDIACONVERT]

        def rewrite(job_id: str, attribute: str, expression: str, value: dict[str, Any] | None = None) -> None:
            request: dict[str, Any] = {
                "TableName": stack.outputs["TableName"],
                "Key": {"jobId": {"S": job_id}},
                "UpdateExpression": expression.format("#a"),
                "ExpressionAttributeNames": {"#a": attribute},
            }
            if value is not None:
                request["ExpressionAttributeValues"] = {":v": value}
            dynamodb.update_item(**request)
            sabotaged[job_id] = attribute

        rewrite(et[0], "statusShard", "SET {} = :v", {"S": "RUNNING#0"})
        rewrite(et[1], "finishedAt", "SET {} = :v", NEVER)
        rewrite(et[2], "playlists", "SET {} = :v", {"L": [{"S": "extra.m3u8"}]})
        rewrite(mc[0], "notifiedAt", "SET {} = :v", NEVER)
        item = dynamodb.get_item(TableName=stack.outputs["TableName"], Key={"jobId": {"S": mc[1]}})["Item"]
        rewrite(mc[1], "expiresAt", "SET {} = :v", {"N": str(int(item["expiresAt"]["N"]) - 86400)})  # a day short
        check(load, stack, result)

    soak._check = sabotage_then_check
    # The malformed notification's way to the DLQ is test_soak's to check (at the template's 5 receives);
    # here it only has to be over, so 2 receives: each is a retry delay and a batching window of waiting.
    result = soak.run_soak(soak.SoakOptions(notifications=60, jobs=10, max_receive_count=2))
    wrong = {job_id: str(why) for job_id, why in result.wrong.items()}
    print(json.dumps({"passed": result.passed, "sabotaged": sabotaged, "wrong": wrong}))


if __name__ == "__main__":
    main()
