"""What `sam build` packages for each function (template.yaml's makefile build, src/Makefile)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import grimp
import pytest

from transcoder_status.local.template import load_template

pytestmark = pytest.mark.e2e

SRC = Path(__file__).resolve().parents[2] / "src"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def functions() -> dict[str, Any]:
    resources = load_template()["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def build(
    function: str, artifacts: Path, python: str = sys.executable, version: str = VERSION, source: Path = SRC
) -> str:
    """Run the target `sam build` runs for ``function``, with ``python`` as the runtime's Python, as
    aws-lambda-builders' CustomMake workflow runs it: ``make --makefile <source>/Makefile`` in a scratch
    copy of the function's CodeUri (``source``)."""
    artifacts.mkdir()
    scratch = artifacts.with_name(f"{artifacts.name}-scratch")
    shutil.copytree(source, scratch)
    variables = [f"ARTIFACTS_DIR={artifacts}", f"RUNTIME_PYTHON={python}", f"RUNTIME_VERSION={version}"]
    run = subprocess.run(
        ["make", "-s", "--makefile", str(source / "Makefile"), f"build-{function}", *variables],
        check=True,
        capture_output=True,
        text=True,
        cwd=scratch,
    )
    return run.stdout


def container_source(tmp_path: Path) -> Path:
    """What `sam build --use-container` mounts: the CodeUri (src/) alone, at /tmp/samcli/source, with no
    template.yaml beside it (samcli/local/docker/lambda_build_container.py)."""
    source = tmp_path / "samcli" / "source"
    shutil.copytree(SRC, source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def test_every_function_is_built_by_the_makefile_for_its_runtime() -> None:
    makefile = (SRC / "Makefile").read_text()
    runtime = re.search(r"^RUNTIME_VERSION \?= (\S+)$", makefile, re.MULTILINE)
    for name, function in functions().items():
        assert function["Metadata"]["BuildMethod"] == "makefile", name
        dry_run = subprocess.run(["make", "-n", "-C", str(SRC), f"build-{name}"], capture_output=True, check=False)
        assert dry_run.returncode == 0, (name, dry_run.stderr)
        assert runtime and function["Properties"]["Runtime"] == f"python{runtime[1]}", name


def imported_by(module: str) -> set[str]:
    """The project's modules that ``module`` imports, directly or not, with the packages above them,
    as import-linter's graph (grimp) sees them: imports inside functions count, those under
    ``if TYPE_CHECKING:`` do not. Importing a module runs the packages above it first, and what they
    import: the graph has no edge for that, so they are followed here."""
    graph = grimp.build_graph("transcoder_status", exclude_type_checking_imports=True, cache_dir=None)
    found: set[str] = set()
    waiting = {module}
    while waiting:
        found |= waiting
        reached = set().union(*({m, *graph.find_upstream_modules(m)} for m in waiting))
        reached |= {".".join(m.split(".")[:depth]) for m in reached for depth in range(1, m.count(".") + 1)}
        waiting = reached - found
    return found


@pytest.mark.parametrize("container", [False, True], ids=["sam build", "sam build --use-container"])
@pytest.mark.parametrize("name", sorted(functions()))
def test_the_artifact_holds_what_the_function_imports_and_nothing_else(
    name: str, container: bool, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    source = container_source(tmp_path) if container else SRC
    build(name, artifacts, version="2.7", source=source)  # as source: the listing is of modules
    shipped = sorted(str(path.relative_to(artifacts)) for path in artifacts.rglob("*") if path.is_file())
    print(f"{name}: {len(shipped)} files, {sum((artifacts / f).stat().st_size for f in shipped):,} bytes")
    print("\n".join(shipped))
    modules = {f.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for f in shipped}
    handler = functions()[name]["Properties"]["Handler"].rsplit(".", 1)[0]
    assert modules == imported_by(handler)
    if name == "StatusWriterFunction":  # the writer's cold start pays for no reader
        assert "transcoder_status.client" not in modules
    for face in ("cli", "display", "local"):
        assert not any(m == f"transcoder_status.{face}" or m.startswith(f"transcoder_status.{face}.") for m in modules)
    # What importing the handler loads of the project comes from the artifact, and is in it.
    check = (
        f"import sys, {handler}; "
        "print('\\n'.join(f'{n} {m.__file__}' for n, m in sys.modules.items() if n.startswith('transcoder_status')))"
    )
    run = subprocess.run([sys.executable, "-c", check], cwd=artifacts, capture_output=True, text=True, check=True)
    for line in run.stdout.splitlines():
        loaded, file = line.split(" ", 1)
        assert loaded in modules and file.startswith(str(artifacts)), line


# What Lambda gives a function beside its artifact: the runtime's boto3 (and botocore), and the
# Powertools layer (requirements.txt is empty: nothing else is installed).
PROVIDED = {"boto3", "botocore", "aws_lambda_powertools"}


@pytest.mark.parametrize("name", sorted(functions()))
def test_the_function_imports_no_package_lambda_lacks(name: str) -> None:
    """The artifact holds the project's modules alone: what they import from outside must be the
    standard library or what Lambda provides (the test environment has the CLI's and the local
    stack's packages installed, so importing the handler here would not tell)."""
    graph = grimp.build_graph(
        "transcoder_status", include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
    )
    handler = functions()[name]["Properties"]["Handler"].rsplit(".", 1)[0]
    external = {
        imported
        for module in imported_by(handler)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.is_module_squashed(imported)
    }
    assert external - set(sys.stdlib_module_names) - PROVIDED == set()


@pytest.mark.parametrize("name", sorted(functions()))
def test_the_package_ships_compiled_for_the_runtimes_python(name: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    build(name, artifacts)
    package = artifacts / "transcoder_status"
    handler = functions()[name]["Properties"]["Handler"].rsplit(".", 1)[0]
    module = handler.split(".")[-1]
    assert (package / f"{module}.py").exists()
    tag = sys.implementation.cache_tag
    assert (package / "__pycache__" / f"{module}.{tag}.pyc").exists()
    # Read from that bytecode, not compiled again: /var/task is read-only on Lambda.
    check = f"import sys; sys.dont_write_bytecode = True; import {handler} as m; print(m.__spec__.cached)"
    run = subprocess.run([sys.executable, "-c", check], cwd=artifacts, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == str(package / "__pycache__" / f"{module}.{tag}.pyc")


@pytest.mark.parametrize("name", sorted(functions()))
def test_each_build_target_names_its_functions_handler(name: str, tmp_path: Path) -> None:
    """src/Makefile names each function's handler (a container build cannot read template.yaml): the
    name is template.yaml's."""
    dry_run = subprocess.run(
        ["make", "-n", "-s", "-C", str(SRC), f"build-{name}", f"ARTIFACTS_DIR={tmp_path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    (command,) = [shlex.split(line) for line in dry_run.stdout.splitlines() if "function_modules.py" in line]
    script = next(index for index, word in enumerate(command) if word.endswith("function_modules.py"))
    assert command[script + 1] == functions()[name]["Properties"]["Handler"]


def test_a_handler_its_module_does_not_define_fails_the_build(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(SRC),
            "build-StatusWriterFunction",
            f"ARTIFACTS_DIR={tmp_path}",
            "HANDLER=transcoder_status.handler.handler",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "defines no function handler: fix HANDLER in src/Makefile" in run.stderr
    assert not list(tmp_path.iterdir())


def test_without_the_runtimes_python_the_package_ships_as_source(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    said = build("StatusWriterFunction", artifacts, version="2.7")
    assert "ships as source" in said
    assert (artifacts / "transcoder_status" / "handler.py").exists()
    assert not list(artifacts.rglob("*.pyc"))
