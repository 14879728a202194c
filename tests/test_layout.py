"""The package's layout tells its architecture: no import cycles, no overlong modules."""

import ast
from pathlib import Path

import recall

PACKAGE = Path(recall.__file__).parent


def imports() -> dict[str, set[str]]:
    """Each recall module's recall imports, those under TYPE_CHECKING included."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("recall", *path.relative_to(PACKAGE).with_suffix("").parts))
        name = name.removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        found[name] = {
            module
            for node in ast.walk(tree)
            for module in (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            + ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if module.startswith("recall")
        }
    return found


def test_no_import_cycles():
    graph = imports()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for dependency in graph.get(node, ()):
            if dependency == path[0]:
                cycles.append(" -> ".join([*path, dependency]))
            elif dependency not in path and dependency in graph:
                visit(dependency, [*path, dependency])

    for module in graph:
        visit(module, [module])
    assert not cycles, cycles[0]


MAX_LINES = 400  # a module a reader takes in at once; more is two concepts


def test_no_module_is_longer_than_a_reader_takes_in_at_once():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules: {long}"
