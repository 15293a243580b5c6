"""Which of the project's modules a Lambda function imports: the import closure of its handler.

src/Makefile runs this for each function `sam build` builds, so that the artifact holds what the
function imports and nothing else (not the CLI, the display or the local stack). The handler is
the function's ``Handler`` property in template.yaml; a function added there is built the same way.
Where the template cannot be seen, the artifact holds what every ``lambda_handler`` under SOURCE imports.

Build tooling, not part of the package: standard library only, since `sam build --use-container`
runs it with the build image's bare Python.

    python3 function_modules.py TEMPLATE FUNCTION SOURCE [ARTIFACTS]

prints the files of FUNCTION's closure under SOURCE, one a line, or copies them into ARTIFACTS.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

# template.yaml is read line by line: a YAML parser would need PyYAML (not in the build image) and
# CloudFormation's tags (!Ref, !Sub). A resource is a two-space-indented key under Resources:.
RESOURCE = re.compile(r"^  ([A-Za-z0-9]+):\s*$")
HANDLER = re.compile(r"^\s+Handler:\s*[\"']?([\w.]+)[\"']?\s*(#.*)?$")


class BuildError(Exception):
    """The function cannot be built as asked; the message says what to fix."""


def handler_modules(template: Path, function: str, source: Path) -> list[str]:
    """The module of ``function``'s Handler; without the template, every module under ``source``
    that defines a ``lambda_handler``."""
    if template.is_file():
        return [handler_module(template, function)]
    # `sam build --use-container` may mount the function's CodeUri (src/) alone: the artifact then
    # holds what every function imports, still nothing of the faces.
    print(f"function_modules: no {template} here: shipping what every lambda_handler imports", file=sys.stderr)
    found = sorted(
        ".".join(path.relative_to(source).with_suffix("").parts)
        for path in source.rglob("*.py")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
            for node in ast.parse(path.read_text(), str(path)).body
        )
    )
    if not found:
        raise BuildError(f"no {template} and no lambda_handler under {source}: pass TEMPLATE=path/to/template.yaml")
    return found


def handler_module(template: Path, function: str) -> str:
    """The module of ``function``'s Handler (``package.module.lambda_handler`` -> ``package.module``)."""
    current = None
    in_resources = False
    for line in template.read_text().splitlines():
        if line and not line[0].isspace():
            in_resources = line.startswith("Resources:")
            current = None
        elif in_resources and (resource := RESOURCE.match(line)):
            current = resource[1]
        elif current == function and (handler := HANDLER.match(line)):
            return handler[1].rpartition(".")[0]
    raise BuildError(f"{template}: no resource {function} with a Handler property")


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
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    template, function, source = Path(argv[0]), argv[1], Path(argv[2])
    try:
        files = sorted(
            path.relative_to(source) for path in closure(source, handler_modules(template, function, source)).values()
        )
    except BuildError as error:
        print(f"function_modules: {error}", file=sys.stderr)
        return 1
    if len(argv) == 3:
        print("\n".join(map(str, files)))
        return 0
    artifacts = Path(argv[3])
    for file in files:
        (artifacts / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / file, artifacts / file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
