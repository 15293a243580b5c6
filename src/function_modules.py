"""Which of the project's modules a Lambda function imports: the import closure of its handler.

src/Makefile runs this for each function `sam build` builds, so that the artifact holds what the
function imports and nothing else (not the CLI, the display or the local stack). Each build target
names its function's Handler: `sam build --use-container` mounts the CodeUri (src/) alone, so
template.yaml is not there to read (tests/e2e/test_function_package.py holds the two equal).

Build tooling, not part of the package: standard library only, since `sam build --use-container`
runs it with the build image's bare Python.

    python3 function_modules.py HANDLER SOURCE [ARTIFACTS]

HANDLER is as template.yaml gives it (``package.module.function``); prints the files of its
module's closure under SOURCE, one a line, or copies them into ARTIFACTS.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path


class BuildError(Exception):
    """The function cannot be built as asked; the message says what to fix."""


def handler_module(handler: str, source: Path) -> str:
    """The module of ``handler`` (``package.module.function`` -> ``package.module``), which must
    define the function: a wrong name fails the build, not the first invocation."""
    module, _, function = handler.rpartition(".")
    path = module_file(source, module) if module else None
    if path is None:
        raise BuildError(f"{handler}: no module {module or handler!r} under {source}: fix HANDLER in src/Makefile")
    defined = {node.name for node in ast.parse(path.read_text(), str(path)).body if isinstance(node, ast.FunctionDef)}
    if function not in defined:
        raise BuildError(f"{handler}: {path} defines no function {function}: fix HANDLER in src/Makefile")
    return module


def module_file(source: Path, module: str) -> Path | None:
    """The file of one of the project's modules under ``source``, or None for any other module."""
    base = source.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` that runs, leaving out ``if TYPE_CHECKING:`` blocks (imports for
    the type checker alone); imports inside functions run, when the function is called."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def imported_names(path: Path, module: str) -> Iterator[str]:
    """The absolute names of what ``module`` (in ``path``) imports: modules, and the names imported
    from them, which may be submodules."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def closure(source: Path, roots: list[str]) -> dict[str, Path]:
    """The project's modules that importing ``roots`` may import, with the packages above each."""
    found: dict[str, Path] = {}
    waiting = list(roots)
    while waiting:
        name = waiting.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            module = ".".join(parts[:depth])
            path = module_file(source, module)
            if module in found or path is None:
                continue
            found[module] = path
            waiting.extend(imported_names(path, module))
    if missing := [root for root in roots if root not in found]:
        raise BuildError(f"{', '.join(missing)}: no such module under {source}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    handler, source = argv[0], Path(argv[1])
    try:
        files = sorted(path.relative_to(source) for path in closure(source, [handler_module(handler, source)]).values())
    except BuildError as error:
        print(f"function_modules: {error}", file=sys.stderr)
        return 1
    if len(argv) == 2:
        print("\n".join(map(str, files)))
        return 0
    artifacts = Path(argv[2])
    for file in files:
        (artifacts / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / file, artifacts / file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
