"""The local Pipe's rules, without a stream: EventBridge pattern matching and Pipes' input template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from transcoder_status.local.pipe import (
    InputTemplate,
    PatternError,
    TemplateError,
    compile_pattern,
    passes,
    pattern_matches,
    pipe_event,
)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return pattern_matches(compile_pattern(json.dumps(pattern)), event)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": ["x"]}, {"a": "x"}, True),
        ({"a": ["x"]}, {"a": "y"}, False),
        ({"a": ["x", "y"]}, {"a": "y"}, True),  # alternatives
        ({"a": ["x"]}, {}, False),
        ({"a": ["x"], "b": [1]}, {"a": "x", "b": 2}, False),  # every key must match
        ({"a": [1]}, {"a": 1.0}, True),
        ({"a": [True]}, {"a": True}, True),
        ({"a": [True]}, {"a": 1}, False),  # a boolean is not a number
        ({"a": [True]}, {"a": "true"}, False),  # nor a string
        ({"a": [False]}, {"a": False}, True),
        ({"a": [None]}, {"a": None}, True),
        ({"a": [None]}, {}, False),  # null matches a null, not an absent field
        ({"a": ["x"]}, {"a": ["y", "x"]}, True),  # an array matches when one element does
        ({"a": {"b": ["x"]}}, {"a": {"b": "x"}}, True),
        ({"a": {"b": ["x"]}}, {"a": "b"}, False),
        ({"a": [{"exists": True}]}, {"a": "anything"}, True),
        ({"a": [{"exists": True}]}, {"a": ["one"]}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"exists": False}]}, {"a": 0}, False),
        ({"a": [{"exists": True}]}, {"a": {"nested": 1}}, False),  # exists only works on leaves
        ({"a": {"b": {"c": [{"exists": False}]}}}, {}, True),  # a field whose parent is absent does not exist
        ({"a": {"b": {"c": [{"exists": False}]}}}, {"a": {"b": {"c": "x"}}}, False),
        ({"a": [False, {"exists": False}]}, {}, True),
    ],
)
def test_event_patterns_match_as_eventbridge_matches(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert matches(pattern, event) is expected


def test_filters_pass_what_matches_any_of_them_and_no_filter_passes_everything() -> None:
    filters = [compile_pattern('{"a": ["x"]}'), compile_pattern('{"b": ["y"]}')]
    assert passes(filters, {"b": "y"}) and passes(filters, {"a": "x"})
    assert not passes(filters, {"a": "y"})
    assert passes([], {"anything": 1})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{"a": [{"prefix": "x"}]}', "not supported"),
        ('{"a": [{"anything-but": ["x"]}]}', "not supported"),
        ('{"a": [{"numeric": [">", 1]}]}', "not supported"),
        ('{"$or": [{"a": ["x"]}]}', "operator"),
        ('{"a": []}', "empty array"),
        ('{"a": {}}', "empty object"),
        ('{"a": "x"}', "object or an array"),
        ('{"eventName": ["INSERT"]}', "cannot be used"),
        ('{"dynamodb": ', "not JSON"),
        ("[]", "non-empty JSON object"),
    ],
)
def test_patterns_it_does_not_understand_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_pattern(pattern)


EVENT = {
    "dynamodb": {
        "NewImage": {
            "jobId": {"S": "job-1"},
            "message": {"S": 'a "quoted" \\ back\nslash \u00e9 <$.x> \u2013'},
            "files": {"SS": ["s3://b/a.mp4", 'k"ey']},
            "count": {"N": "3"},
        }
    },
    "list": [{"v": "first"}, {"v": "second"}],
}
VARIABLES = {
    "aws.pipes.pipe-name": "the-pipe",
    "aws.pipes.pipe-arn": "arn:aws:pipes:us-east-1:123456789012:pipe/the-pipe",
    "aws.pipes.source-arn": "arn:source",
    "aws.pipes.target-arn": "arn:target",
    "aws.pipes.event.ingestion-time": "2025-01-01T00:00:00.000+00:00",
}


def render(template: str) -> Any:
    return json.loads(InputTemplate(template).render(EVENT, VARIABLES))


def test_a_quoted_placeholder_is_escaped_into_the_json_string() -> None:
    assert render('{"m": "<$.dynamodb.NewImage.message.S>"}') == {"m": EVENT["dynamodb"]["NewImage"]["message"]["S"]}
    assert render('{"m": "id=<$.dynamodb.NewImage.jobId.S>!"}') == {"m": "id=job-1!"}
    # Another value inside quotes: its JSON text, as a string.
    assert render('{"m": "<$.dynamodb.NewImage.files.SS>"}') == {"m": '["s3://b/a.mp4", "k\\"ey"]'}


def test_an_unquoted_placeholder_is_the_values_json() -> None:
    assert render('{"files": <$.dynamodb.NewImage.files.SS>}') == {"files": ["s3://b/a.mp4", 'k"ey']}
    assert render('{"id": <$.dynamodb.NewImage.jobId.S>}') == {"id": "job-1"}
    assert render('{"image": <$.dynamodb.NewImage.count>}') == {"image": {"N": "3"}}
    assert render('{"second": <$.list[1].v>, "first": <$.list.0.v>}') == {"second": "second", "first": "first"}


def test_a_quote_or_bracket_in_static_text_is_static() -> None:
    assert render('{"a \\" <b": "<$.dynamodb.NewImage.jobId.S>", "c": "<not a placeholder>"}') == {
        'a " <b': "job-1",
        "c": "<not a placeholder>",
    }


def test_reserved_variables() -> None:
    assert render('{"n": "<aws.pipes.pipe-name>", "a": <aws.pipes.pipe-arn>, "s": "<aws.pipes.source-arn>"}') == {
        "n": "the-pipe",
        "a": VARIABLES["aws.pipes.pipe-arn"],
        "s": "arn:source",
    }
    assert render('{"event": <aws.pipes.event.json>}') == {"event": EVENT}


def test_a_text_template_is_text() -> None:
    assert InputTemplate("Job <$.dynamodb.NewImage.jobId.S> is done").render(EVENT, VARIABLES) == "Job job-1 is done"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ('{"a": <$.dynamodb.NewImage.files.SS[*]>}', "dot names and"),
        ('{"a": <$.list[?(@.v)]>}', "dot names and"),
        ('{"a": <aws.pipes.event.unknown>}', "reserved variable"),
        ('{"a": "<aws.pipes.event.json>"}', "only as a JSON value"),
    ],
)
def test_templates_it_cannot_read_are_refused(template: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        InputTemplate(template)


def test_a_path_that_does_not_resolve_fails_the_event() -> None:
    with pytest.raises(TemplateError, match="does not resolve"):
        render('{"a": "<$.dynamodb.NewImage.absent.S>"}')
    with pytest.raises(TemplateError, match="does not resolve"):
        render('{"a": "<$.list[5].v>"}')


def test_a_json_template_must_render_json() -> None:
    with pytest.raises(TemplateError, match="not JSON"):
        render('{"a": <$.dynamodb.NewImage.jobId.S> <$.dynamodb.NewImage.jobId.S>}')


def test_a_stream_record_becomes_the_event_the_pipe_sees() -> None:
    from datetime import UTC, datetime

    record = {
        "eventID": "1",
        "eventName": "MODIFY",
        "dynamodb": {"ApproximateCreationDateTime": datetime(2025, 1, 1, tzinfo=UTC), "SequenceNumber": "7"},
    }
    event = pipe_event(record, "arn:stream")
    assert event["dynamodb"]["ApproximateCreationDateTime"] == 1735689600
    assert event["eventSourceARN"] == "arn:stream"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == datetime(2025, 1, 1, tzinfo=UTC)  # not mutated
