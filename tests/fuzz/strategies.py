"""Hypothesis strategies for hostile and foreign SQS message bodies, built to compose.

A body is drawn as a tree of JSON values plus four markers that ``render`` understands:

- ``Raw``: JSON text placed verbatim, for what ``json.dumps`` will not write: ``NaN``, broken escapes.
- ``Repeated``: verbatim text made by repetition: numbers of thousands of digits, 30,000 levels of
  nesting.
- ``Huge``: a long string made by repetition (hypothesis draws a few kilobytes at most), scaled down
  at render time so that the body stays within SQS's 256 KB.
- ``Embedded``: a document carried as a JSON string, as SNS carries its ``Message``. Mutations walk
  into it, so they reach any depth of an envelope, or of an envelope inside an envelope.

A drawn ``Body`` keeps its tree and renders the text on demand: hypothesis keeps the values it draws
for the whole run, and a tree is a few hundred bytes where its text may be 256 KB.

Real-shaped messages come from ``transcoder_status.local.messages`` (what the simulator and the
sample events use), with every value drawn: job IDs, states in any case, times, texts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from transcoder_status.local.messages import (
    elastic_transcoder_message,
    mediaconvert_event,
    sns_envelope,
    sqs_record,
)
from transcoder_status.sources import elastic_transcoder, mediaconvert
from transcoder_status.sources.base import MAX_TIME_MS, MIN_TIME_MS

MAX_BODY_BYTES = 256 * 1024  # SQS's message size limit (SNS's and EventBridge's too)


# -- the tree -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text, placed in the body as it is."""

    text: str


@dataclass(frozen=True)
class Repeated:
    """``opening * count + middle + closing * count``, placed in the body as it is."""

    opening: str
    count: int
    middle: str = ""
    closing: str = ""


@dataclass(frozen=True)
class Huge:
    """The string ``unit * count``."""

    unit: str
    count: int


@dataclass(frozen=True)
class Embedded:
    """A document carried as a JSON string (an SNS Message)."""

    doc: Any


@dataclass(frozen=True)
class Style:
    """How a body is written: lone surrogates as ``\\ud800`` escapes or raw; separators (SNS
    pretty-prints Elastic Transcoder's message with ``" : "``)."""

    ensure_ascii: bool = True
    item_separator: str = ","
    key_separator: str = ":"


def render(tree: Any, style: Style = Style()) -> str:
    """The JSON text of a tree."""
    parts: list[str] = []
    _render(tree, style, parts)
    return "".join(parts)


def _render(node: Any, style: Style, out: list[str]) -> None:
    if isinstance(node, Raw):
        out.append(node.text)
    elif isinstance(node, Repeated):
        out.append(node.opening * node.count + node.middle + node.closing * node.count)
    elif isinstance(node, Huge):
        out.append(json.dumps(node.unit * node.count, ensure_ascii=style.ensure_ascii))
    elif isinstance(node, Embedded):
        out.append(json.dumps(render(node.doc, style), ensure_ascii=style.ensure_ascii))
    elif isinstance(node, dict):
        out.append("{")
        for i, (key, value) in enumerate(node.items()):
            if i:
                out.append(style.item_separator)
            out.append(json.dumps(key, ensure_ascii=style.ensure_ascii) + style.key_separator)
            _render(value, style, out)
        out.append("}")
    elif isinstance(node, list):
        out.append("[")
        for i, value in enumerate(node):
            if i:
                out.append(style.item_separator)
            _render(value, style, out)
        out.append("]")
    else:  # str, int, float (NaN and Infinity as Python's json writes them), bool, None
        out.append(json.dumps(node, ensure_ascii=style.ensure_ascii))


def body_bytes(body: str) -> int:
    """The body's size in UTF-8 (lone surrogates counted as the 3 bytes they would take)."""
    return len(body.encode("utf-8", "surrogatepass"))


def render_within(tree: Any, style: Style, limit: int = MAX_BODY_BYTES) -> str:
    """Render, shrinking every ``Huge`` string until the body fits ``limit`` bytes (if it can)."""
    for _ in range(6):
        body = render(tree, style)
        size = body_bytes(body)
        if size <= limit or not _has_huge(tree):
            return body
        tree = _scale(tree, limit / size * 0.9)
    return body


def _has_huge(node: Any) -> bool:
    if isinstance(node, Huge):
        return node.count > 1
    if isinstance(node, Embedded):
        return _has_huge(node.doc)
    if isinstance(node, dict):
        return any(_has_huge(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_huge(value) for value in node)
    return False


def _scale(node: Any, factor: float) -> Any:
    if isinstance(node, Huge):
        return Huge(node.unit, max(1, int(node.count * factor)))
    if isinstance(node, Embedded):
        return Embedded(_scale(node.doc, factor))
    if isinstance(node, dict):
        return {key: _scale(value, factor) for key, value in node.items()}
    if isinstance(node, list):
        return [_scale(value, factor) for value in node]
    return node


# -- texts and values -----------------------------------------------------------------------------
# Strategies are built once (``cache``): hypothesis validates each new strategy object, which would
# otherwise cost more than the fuzzing itself.


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each ``weight`` times as likely (``one_of`` draws its branches alike,
    and counts the same strategy given twice once)."""
    strategies = [strategy for _, strategy in choices]
    indices = [i for i, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda i: strategies[i])


@cache
def usually(value: Any) -> st.SearchStrategy[Any]:
    """``value`` three times in four, else a hostile text."""
    return weighted((3, st.just(value)), (1, hostile_texts()))


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)

# Texts that have tripped parsers: case-folding surprises (dotless i, sharp s, ligatures), separators
# str.isprintable() refuses, a BOM, astral characters (4 bytes in UTF-8), JSON words as strings.
ODD_TEXTS = (
    "",
    " ",
    "\x00",
    "\t\n",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\u0131",
    "ß",
    "ﬁ",
    "İ",
    "𝄞",
    "\ud800",
    "\udfff",
    "\udc80",
    "\ud83d\ude00",
    "null",
    "true",
    "NaN",
    "Infinity",
    "-0",
    "1e400",
    "0x10",
    "1_000",
    "٣",
    "${jndi:x}",
    "'; DROP TABLE jobs; --",
)


@cache
def hostile_texts(max_size: int = 24) -> st.SearchStrategy[str]:
    """Short texts: any Unicode, lone surrogates, undecodable bytes, and known troublemakers."""
    return st.one_of(
        st.text(max_size=max_size),
        st.text(st.one_of(st.characters(), SURROGATES), max_size=max_size),
        # Invalid UTF-8 as Python decodes it with surrogateescape: lone low surrogates.
        st.binary(max_size=max_size).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
        st.binary(max_size=max_size).map(lambda raw: raw.decode("latin-1")),
        st.sampled_from(ODD_TEXTS),
    )


@cache
def huge_texts(max_count: int = 70_000) -> st.SearchStrategy[Huge]:
    """A string of up to ``max_count`` repetitions of a short unit (an astral one makes 4 bytes each)."""
    units = st.one_of(st.sampled_from(["x", "é", "€", "𝄞", "\ud800", "\\", '"', "\x00", "ab"]), hostile_texts(3))
    return st.builds(Huge, units.filter(bool), st.integers(1, max_count))


@cache
def deep_nesting() -> st.SearchStrategy[Repeated]:
    """Arrays or objects nested up to 900 levels (parsed), or 3,000 to 30,000 (RecursionError territory).

    Not in between: there, whether ``json.loads`` manages depends on how deep the caller's own stack
    is (hypothesis raises the recursion limit to about 2,000 frames above its own), so the handler,
    deeper in the stack, may refuse a body that the test's own call to the parser accepts.
    ``test_parse_fuzz`` tries every depth around Python's default limit of 1,000."""
    depth = st.one_of(st.integers(1, 900), st.integers(3_000, 30_000))
    return st.one_of(
        depth.map(lambda n: Repeated("[", n, "", "]")),
        depth.map(lambda n: Repeated('{"a":', n, "null", "}")),
        depth.map(lambda n: Repeated('[{"k":', n, "1", "}]")),
    )


# Numbers json.dumps will not write, or that overflow what reads them.
ODD_NUMBERS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "-0.0",
    "1E+308",
    "4.9e-324",
    "123456789012345678901234567890123456789012345678901234567890",
    "1755000000000.0000000000000001",
    "1.755e12",
    "9007199254740993",
)

# JSON that does not parse, or parses into something odd (a lone surrogate escape is valid JSON).
BROKEN_JSON = (
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"a\\ud83d"',
    '"\\ud83d\\ude00"',
    '"\\x41"',
    '"\\u12"',
    '"unterminated',
    "'single'",
    "undefined",
    "01",
    "1.",
    ".5",
    "+1",
    "tru",
    "[1,]",
    '{"a":1,}',
    '{"a":1,"a":2}',
    "\ufeff{}",
)


@cache
def odd_numbers() -> st.SearchStrategy[Raw | Repeated]:
    return st.one_of(
        st.sampled_from(ODD_NUMBERS).map(Raw),
        # Past Python's 4,300-digit int conversion limit, and just under it.
        st.integers(30, 5_000).map(lambda n: Repeated("9", n)),
    )


@cache
def numbers_as_strings() -> st.SearchStrategy[str]:
    number = st.one_of(
        st.integers(-(10**20), 10**20),
        st.integers(MIN_TIME_MS - 10, MAX_TIME_MS + 10),
        st.floats(allow_nan=True, allow_infinity=True),
    )
    forms: list[Callable[[Any], str]] = [
        str,
        lambda n: f" {n} ",
        lambda n: f"{n}.0",
        lambda n: f"{float(n):e}",
        lambda n: f"+{n}",
        lambda n: f"{n}\n",
    ]
    return st.builds(lambda n, form: form(n), number, st.sampled_from(forms))


@cache
def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(-(10**40), 10**40),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_texts(),
        numbers_as_strings(),
    )


@cache
def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value (NaN and Infinity included), small and shallow."""
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(hostile_texts(8), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@cache
def odd_values() -> st.SearchStrategy[Any]:
    """A value for any position: plain JSON, or one of the markers."""
    return st.one_of(
        json_values(),
        odd_numbers(),
        deep_nesting(),
        huge_texts(),
        st.sampled_from(BROKEN_JSON).map(Raw),
    )


# -- real-shaped messages -------------------------------------------------------------------------


@cache
def event_times() -> st.SearchStrategy[int]:
    """Epoch milliseconds the parser accepts (2000 to 2100), edges included."""
    return st.one_of(st.integers(MIN_TIME_MS, MAX_TIME_MS - 1), st.sampled_from([MIN_TIME_MS, MAX_TIME_MS - 1]))


@cache
def realistic_job_ids() -> st.SearchStrategy[str]:
    """Job IDs as the transcoders make them (``1502631977930-rabioh``), or any printable text the
    parser must accept: up to 512 characters, astral ones included (2,048 bytes, DynamoDB's limit)."""
    return st.one_of(
        st.builds(
            lambda ms, suffix: f"{ms}-{suffix}",
            st.integers(10**12, 10**13 - 1),
            st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=6),
        ),
        st.text(st.characters(exclude_categories=["C", "Z"]), min_size=1, max_size=20),
        st.sampled_from(["𝄞" * 512, "x" * 512, "é" * 512, "\u0131", "İ"]),
    )


@cache
def job_ids() -> st.SearchStrategy[str]:
    """Job IDs the parser must accept, and some it must refuse (too long, unprintable, empty)."""
    return weighted(
        (6, realistic_job_ids()),
        (1, hostile_texts()),
        (1, st.sampled_from(["x" * 513, "𝄞" * 513, "a\u2028b", "a\x00b", ""])),
    )


@st.composite
def recased(draw: st.DrawFn, word: str) -> str:
    """``word`` in any case, or with a character whose upper case is ASCII (dotless i -> ``I``)."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    text = "".join(c.lower() if flip else c for c, flip in zip(word, flips, strict=True))
    return draw(st.sampled_from([text, text.replace("I", "\u0131"), f" {text}", f"{text}\n", text.title()]))


@cache
def states(source: ModuleType) -> st.SearchStrategy[str]:
    """A source's states: mostly as documented, else in another case, unknown, or another source's."""
    names = st.sampled_from(sorted(source.STATES))
    return weighted(
        (4, names),
        (2, names.flatmap(recased)),
        (1, hostile_texts()),
        (1, st.sampled_from(["COMPLETED", "COMPLETE", "SUBMITTED", "FAILED"])),
    )


@st.composite
def elastic_transcoder_messages(draw: st.DrawFn, ids: st.SearchStrategy[str], valid: bool = False) -> dict[str, Any]:
    """An Elastic Transcoder notification as its pipeline sends it (every value drawn)."""
    state = draw(st.sampled_from(sorted(elastic_transcoder.STATES)))
    message = elastic_transcoder_message(
        draw(ids),
        state,
        pipeline_id=draw(usually("1502609200466-80khou")),
        output_key=draw(usually("HLS/400k")),
        warning=draw(usually(None)) or None,
        error_code=draw(st.integers(1000, 9999)),
    )
    if "messageDetails" in message:
        message["messageDetails"] = draw(hostile_texts())  # instead of the builder's random UUID
    if not valid:
        message["state"] = draw(states(elastic_transcoder))
    return message


@st.composite
def mediaconvert_events(draw: st.DrawFn, ids: st.SearchStrategy[str], valid: bool = False) -> dict[str, Any]:
    """A "MediaConvert Job State Change" event as EventBridge delivers it (every value drawn)."""
    status = draw(st.sampled_from(sorted(mediaconvert.STATES)))
    event = mediaconvert_event(
        draw(ids),
        status,
        draw(event_times()),
        percent=draw(st.integers(0, 100)),
        phase=draw(usually("TRANSCODING")),
        user_metadata=draw(st.dictionaries(hostile_texts(8), hostile_texts(), max_size=3)),
        event_id=draw(weighted((3, st.uuids().map(str)), (1, hostile_texts()))),
    )
    if not valid:
        event["detail"]["status"] = draw(states(mediaconvert))
    return event


def in_sns_envelope(message: Any, timestamp_ms: int, message_id: str) -> dict[str, Any]:
    """``message`` as SNS delivers it to SQS with raw delivery off (the Message stays a tree)."""
    plain = message if isinstance(message, dict) else {}
    subject = {key: plain.get(key) for key in ("state", "jobId") if isinstance(plain.get(key), str)}
    envelope = sns_envelope(subject, timestamp_ms, message_id)
    envelope["Message"] = Embedded(message)
    return envelope


@st.composite
def delivered(draw: st.DrawFn, message: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A message as the queue receives it: raw (raw delivery, EventBridge), or in an SNS envelope."""
    doc = draw(message)
    if draw(st.booleans()):
        doc = in_sns_envelope(doc, draw(event_times()), draw(st.uuids().map(str)))
    return doc


def valid_messages(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Real-shaped notifications that must parse, if ``ids`` are valid and the record has a SentTimestamp."""
    return st.one_of(
        delivered(elastic_transcoder_messages(ids, valid=True)),
        delivered(mediaconvert_events(ids, valid=True)),
    )


@st.composite
def wide_messages(draw: st.DrawFn, ids: st.SearchStrategy[str]) -> dict[str, Any]:
    """The largest notifications: up to 100 outputs, 30 metadata entries and long texts, all in one
    character (an astral one takes 4 bytes), as long as the body stays within 256 KB. What makes the
    largest rows: the caps are in characters, DynamoDB's 400 KB in bytes."""
    char = draw(st.sampled_from(["x", "é", "€", "\U0001d11e"]))

    def text() -> Huge:
        return Huge(char, draw(st.integers(1, 1_100)))

    count = draw(st.integers(1, 100))
    metadata = {f"key{i}": text() for i in range(draw(st.integers(0, 30)))}
    if draw(st.booleans()):
        state = draw(st.sampled_from(sorted(elastic_transcoder.STATES)))
        message = elastic_transcoder_message(draw(ids), state)
        message.update(messageDetails=text(), pipelineId=text(), userMetadata=metadata)
        message["outputs"] = [
            {
                "id": str(i),
                "key": text(),
                "status": draw(st.sampled_from(["Complete", "Warning"])),
                "statusDetail": text(),
            }
            for i in range(count)
        ]
        return message
    status = draw(st.sampled_from(sorted(mediaconvert.STATES)))
    event = mediaconvert_event(draw(ids), status, draw(event_times()), event_id="wide")
    event["detail"].update(
        errorMessage=text(),
        queue=text(),
        userMetadata=metadata,
        warningMessage=text(),
        warnings=[{"code": i, "count": 1} for i in range(draw(st.integers(0, 20)))],
        outputGroupDetails=[{"outputDetails": [{"outputFilePaths": [text() for _ in range(count)]}]}],
    )
    return event


def real_shaped(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Real-shaped notifications, states in any case, and envelopes inside envelopes: an SNS
    envelope whose Message is another envelope, an EventBridge event inside SNS; now and then the
    largest a body can carry."""
    once = delivered(st.one_of(elastic_transcoder_messages(ids), mediaconvert_events(ids)))
    twice = st.builds(in_sns_envelope, once, event_times(), st.uuids().map(str))
    thrice = st.builds(in_sns_envelope, twice, event_times(), st.just(""))
    return weighted((6, once), (1, twice), (1, thrice), (1, delivered(wide_messages(ids))))


# -- mutations ------------------------------------------------------------------------------------

INTO = object()  # a path step: into an Embedded document
DELETE = object()  # a mutation result: remove the field

Path = tuple[Any, ...]

# Keys the sources look for: adding one to the wrong document confuses which source it is.
KNOWN_KEYS = (
    "Type",
    "Message",
    "MessageId",
    "Timestamp",
    "jobId",
    "state",
    "detail-type",
    "source",
    "detail",
    "status",
    "timestamp",
    "time",
    "id",
    "outputs",
    "userMetadata",
    "messageDetails",
    "errorCode",
    "warnings",
    "jobProgress",
    "outputGroupDetails",
)


def paths(node: Any, prefix: Path = ()) -> list[Path]:
    """Every position below the root, inside embedded documents too."""
    found: list[Path] = []
    if isinstance(node, Embedded):
        found.append((*prefix, INTO))
        found.extend(paths(node.doc, (*prefix, INTO)))
    elif isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


def update(node: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """A copy of the tree with the value at ``path`` replaced by ``change(value)`` (or removed)."""
    if not path:
        return change(node)
    step, rest = path[0], path[1:]
    if step is INTO:
        inner = update(node.doc, rest, change)
        return Embedded(None if inner is DELETE else inner)
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    value = update(node[step], rest, change)
    if value is DELETE:
        del copy[step]
    else:
        copy[step] = value
    return copy


def retyped(value: Any) -> st.SearchStrategy[Any]:
    """The same content as another JSON type: numbers as strings, objects as arrays or strings..."""
    if isinstance(value, bool):
        return st.sampled_from(["true", "false", 1, 0, [value]])
    if isinstance(value, int | float):
        text = str(value)
        return st.sampled_from([text, f" {text} ", f"{text}.0", [value], {"value": value}, True, float(value)])
    if isinstance(value, str):
        return st.sampled_from([[value], {"value": value}, 0, True, len(value), Raw(value or "0")])
    if isinstance(value, dict):
        return st.sampled_from([list(value.values()), Embedded(value), "", [], str(len(value))])
    if isinstance(value, list):
        return st.sampled_from([{str(i): item for i, item in enumerate(value)}, *value[:1], Embedded(value), ""])
    if isinstance(value, Embedded):
        return st.sampled_from([value.doc, [value], render(value.doc)[:10]])
    return st.sampled_from(["", 0, {}, [], False])


MUTATIONS = ("drop", "null", "retype", "replace", "corrupt", "huge", "deep", "number", "empty", "add")


@cache
def edge_numbers() -> st.SearchStrategy[Any]:
    """Numbers at and past the edges: DynamoDB's 38 digits, 2**63, times in seconds or microseconds."""
    return st.one_of(
        odd_numbers(),
        st.sampled_from([0, -1, 10**15, 10**38, 2**63, MIN_TIME_MS - 1, MAX_TIME_MS, 1_755_000_000]),
        st.integers(MIN_TIME_MS, MAX_TIME_MS).map(lambda ms: ms * 1000),
        numbers_as_strings(),
    )


@st.composite
def mutation(draw: st.DrawFn, value: Any) -> Any:
    """One change to one value: drop, null, retype, corrupt, replace, grow, nest, add a key."""
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "drop":
        return DELETE
    if kind == "null":
        return None
    if kind == "retype":
        return draw(retyped(value))
    if kind == "corrupt" and isinstance(value, str):
        at = draw(st.integers(0, len(value)))
        how = draw(st.sampled_from(["insert", "recase", "lower", "cut"]))
        if how == "insert":
            return value[:at] + draw(hostile_texts(4)) + value[at:]
        if how == "recase":
            return draw(recased(value[:64]))
        return value.lower() if how == "lower" else value[:at]
    if kind == "huge":
        return draw(huge_texts())
    if kind == "deep":
        return draw(deep_nesting())
    if kind == "number":
        return draw(edge_numbers())
    if kind == "empty":
        return draw(st.sampled_from(["", [], {}]))
    if kind == "add" and isinstance(value, dict):
        value = dict(value)
        key = draw(st.sampled_from(KNOWN_KEYS))
        value[key] = draw(st.one_of(st.sampled_from(["Notification", "aws.mediaconvert"]), json_values(4)))
        return value
    return draw(odd_values())


@st.composite
def mutated(draw: st.DrawFn, tree: Any, max_changes: int = 3) -> Any:
    """``tree`` with one to ``max_changes`` values changed, each anywhere (inside envelopes too)."""
    for _ in range(draw(st.integers(1, max_changes))):
        found = paths(tree)
        if not found:
            break
        path = draw(st.sampled_from(found))
        tree = update(tree, path, lambda value: draw(mutation(value)))
    return tree


# -- bodies ---------------------------------------------------------------------------------------


@cache
def styles() -> st.SearchStrategy[Style]:
    return st.builds(
        Style,
        ensure_ascii=st.booleans(),
        item_separator=st.sampled_from([",", ", ", ",\n  "]),
        key_separator=st.sampled_from([":", ": ", " : "]),
    )


def trees(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Documents: real-shaped ones (valid or not), their mutations, and any JSON at all."""
    shaped = real_shaped(ids)
    return weighted(
        (2, shaped),
        (4, shaped.flatmap(mutated)),
        (1, json_values(20)),
        (1, st.builds(in_sns_envelope, json_values(), event_times(), st.uuids().map(str))),
    )


@dataclass(frozen=True)
class Body:
    """An SQS body as drawn: a tree and its style, rendered (within 256 KB) when asked, then cut to
    ``cut`` characters and put between ``before`` and ``after``."""

    tree: Any
    style: Style = Style()
    cut: int | None = None
    before: str = ""
    after: str = ""

    def text(self) -> str:
        body = render_within(self.tree, self.style)
        return self.before + (body if self.cut is None else body[: self.cut]) + self.after


def fits(body: Body) -> bool:
    return body_bytes(body.text()) <= MAX_BODY_BYTES


@cache
def garbage_bodies() -> st.SearchStrategy[Body]:
    """Bodies that are not JSON, or barely: any text, bytes decoded badly, cut or padded JSON."""
    real = real_shaped(realistic_job_ids())
    return st.one_of(
        st.builds(Body, st.one_of(hostile_texts(64), st.sampled_from(BROKEN_JSON)).map(Raw)),
        st.builds(Body, real, cut=st.integers(0, 400)),
        st.builds(Body, real, after=hostile_texts(4).filter(bool)),
        st.builds(Body, real, before=st.just("\ufeff")),
        st.builds(Body, st.one_of(deep_nesting(), odd_numbers())),
    ).filter(fits)


def rendered(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[Body]:
    """Bodies of the documents, in any style, within SQS's 256 KB."""
    return st.builds(Body, documents, styles()).filter(fits)


def bodies(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Body]:
    """Any SQS body, up to 256 KB: garbage (1 in 5), any JSON, real-shaped notifications and their
    mutations."""
    return weighted((4, rendered(trees(job_ids() if ids is None else ids))), (1, garbage_bodies()))


# -- SQS records and batches ----------------------------------------------------------------------


@cache
def sent_timestamps() -> st.SearchStrategy[str | None]:
    """SentTimestamp as Lambda gives it (epoch ms as a string); rarely missing or odd."""
    return weighted(
        (8, event_times().map(str)),
        (1, st.none()),
        (1, st.sampled_from(["", "abc", "1755000000", "-1", "1" * 5000, "1.5e12", "٣"])),
    )


def record(body: str, message_id: str, sent: str | None) -> dict[str, Any]:
    """One SQS record of a Lambda event (the body may hold what SQS never would: raw surrogates)."""
    built = sqs_record("", sent_ms=0, message_id=message_id, receipt_handle=f"handle-{message_id}")
    built["body"] = body
    built["md5OfBody"] = hashlib.md5(body.encode("utf-8", "surrogatepass")).hexdigest()
    if sent is None:
        del built["attributes"]["SentTimestamp"]
    else:
        built["attributes"]["SentTimestamp"] = built["attributes"]["ApproximateFirstReceiveTimestamp"] = sent
    return built


@dataclass(frozen=True)
class Queued:
    """One message of a batch: its body, message ID and SentTimestamp (None: absent)."""

    body: Body
    message_id: str
    sent: str | None

    def record(self) -> dict[str, Any]:
        return record(self.body.text(), self.message_id, self.sent)


VALID = "valid"  # the message ID of each batch's valid record


@dataclass(frozen=True)
class Batch:
    """A Lambda SQS event, with one valid record (message ID ``VALID``) of a job no other names."""

    messages: tuple[Queued, ...]
    valid_job_id: str

    def records(self) -> list[dict[str, Any]]:
        return [message.record() for message in self.messages]


def same_job_bodies(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Body]:
    """Bodies that mostly parse: valid, largest and mutated notifications of ``ids``, now and then any body."""
    return weighted(
        (3, rendered(valid_messages(ids))),
        (1, rendered(delivered(wide_messages(ids)))),
        (2, rendered(real_shaped(ids).flatmap(mutated))),
        (1, bodies(ids)),
    )


@st.composite
def batches(draw: st.DrawFn, same_jobs: bool = False, max_fuzzed: int = 9) -> Batch:
    """One to ``max_fuzzed`` fuzzed records plus one valid record of a job of its own.

    The fuzzed records name one to three jobs more often than not; with ``same_jobs``, they are
    mostly notifications of one or two jobs that parse (the coalescing and merging path).
    """
    shared = draw(st.lists(realistic_job_ids(), min_size=1, max_size=2 if same_jobs else 3))
    if same_jobs:
        body = same_job_bodies(st.sampled_from(shared))
    else:
        body = bodies(weighted((2, st.sampled_from(shared)), (1, job_ids())))
    count = draw(st.integers(1, max_fuzzed))
    messages = [Queued(draw(body), f"fuzz-{i}", draw(sent_timestamps())) for i in range(count)]
    valid_job_id = f"valid-{draw(st.uuids())}"
    valid = Body(draw(valid_messages(st.just(valid_job_id))), draw(styles()))
    messages.insert(draw(st.integers(0, len(messages))), Queued(valid, VALID, str(draw(event_times()))))
    return Batch(tuple(messages), valid_job_id)
