"""template.yaml's MemorySize: each function's is a parameter whose default is what the last
`make bench` chose (bench/lambda-memory.json), with a comment naming that results table row."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.lambda_cpu import CHOICE, FUNCTIONS, HEADING, MEMORY_SIZES, TEMPLATE_FUNCTIONS
from transcoder_status.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_each_functions_memory_default_is_the_size_the_bench_chose() -> None:
    template = load_template()
    chosen = json.loads(CHOICE.read_text())
    assert set(chosen) == set(TEMPLATE_FUNCTIONS.values())
    for function, memory_mb in chosen.items():
        reference = template["Resources"][function]["Properties"]["MemorySize"]
        assert set(reference) == {"Ref"}, f"{function}'s MemorySize is not a parameter"
        parameter = template["Parameters"][reference["Ref"]]
        assert int(parameter["Default"]) == memory_mb
        offered = [int(value) for value in parameter["AllowedValues"]]
        assert memory_mb in offered
        assert set(offered) <= set(MEMORY_SIZES), "a size the bench never measured"


def test_the_default_names_the_results_table_row_it_comes_from() -> None:
    text = TEMPLATE.read_text()
    chosen = json.loads(CHOICE.read_text())
    for short, function in TEMPLATE_FUNCTIONS.items():
        row = f"{FUNCTIONS[short]}, {chosen[function]:,} MB"
        assert re.search(rf"# .*bench/results\.md, {re.escape(HEADING)}.*\n?.*{re.escape(row)}", text), row
