"""What must never be committed: real account IDs, real bucket names, access keys; stale quotes of the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from transcoder_status.client import Backoff

ROOT = Path(__file__).resolve().parents[2]

# AWS's documented placeholder accounts, and the publisher of the public Powertools layer.
ALLOWED_ACCOUNTS = {"123456789012", "111122223333", "444455556666", "017000801446"}
ALLOWED_BUCKETS = re.compile(r"(example|placeholder)[a-z0-9.-]*")


def tracked_texts() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = {}
    for name in names:
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            try:
                texts[name] = path.read_text()
            except UnicodeDecodeError:
                continue  # binary (a plot, say)
    return texts


def test_no_real_account_ids_bucket_names_or_access_keys() -> None:
    found: list[str] = []
    for name, text in tracked_texts().items():
        for account in set(re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", text)) - ALLOWED_ACCOUNTS:
            # Twelve digits are an account where an ARN or an account field holds them.
            if re.search(rf"(arn:aws[^\s\"']*:{account}:|account(Id)?\W+{account})", text):
                found.append(f"{name}: account {account}")
        for bucket in re.findall(r"s3://([a-z0-9][a-z0-9.-]+)", text):
            if not ALLOWED_BUCKETS.fullmatch(bucket):
                found.append(f"{name}: bucket {bucket}")
        found.extend(f"{name}: access key {key}" for key in re.findall(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", text))
    assert not found, found


def test_text_quoting_the_clients_default_backoff_quotes_backoffs_own() -> None:
    """The default moved from 0.5-10 s to 0.5-2 s (issue 10); text quoting the old one stayed behind."""
    default = Backoff()
    quoted = re.compile(r"library's default\D*?(\d+(?:\.\d+)?)\D*?to (\d+(?:\.\d+)?) s")
    quotes = [(name, match) for name, text in tracked_texts().items() for match in quoted.finditer(text)]
    assert quotes  # the test reads the text it is about
    wrong = [
        f"{name}: {match[0]}"
        for name, match in quotes
        if (float(match[1]), float(match[2])) != (default.initial, default.maximum)
    ]
    assert not wrong, wrong


def test_every_module_the_docs_name_by_path_exists() -> None:
    """A module moved (the soak harness to bench/soak) leaves no page pointing at its old place. A path
    is the repository's, src/'s or the package's (``local/pipe.py``)."""
    bases = [ROOT, ROOT / "src", ROOT / "src" / "transcoder_status"]
    missing = [
        f"{page.relative_to(ROOT)}: {path}"
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
        for path in sorted(set(re.findall(r"(?<![\w./-])((?:[\w-]+/)+[\w-]+\.py)\b", page.read_text())))
        if not any((base / path).is_file() for base in bases)
    ]
    assert missing == []
