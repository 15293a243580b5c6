"""The docs examples runner finds every Python block, whatever name its fence gives Python: MkDocs
(Pygments) highlights ```py and ```python3 as Python too, and a block the runner does not see can drift."""

from __future__ import annotations

from pathlib import Path

from tests.docs_blocks import blocks


def test_every_fence_that_means_python_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    fences = ["python", "py", "Python", "python3", "py3", 'python title="example.py"']
    page.write_text(
        "".join(f"```{fence}\nprint({i})\n```\n\n" for i, fence in enumerate(fences)) + "```json\n{}\n```\n"
    )
    found = blocks("python", [page])
    assert [block.code for block in found] == [f"print({i})" for i in range(len(fences))]
