"""The floor plan: which module may import which, and the README's module map.

Every import statement is read from the source (module level and inside
functions alike), so a lazy import cannot hide an arrow that runs the wrong
way. Floors, lowest first; a module imports only modules of its own floor or
below, and no two modules import each other, directly or round a loop.
"""

import ast
import re

import pytest

from conftest import REPO

PACKAGE = REPO / "colorize"

# Floor of each top-level name inside colorize (a sub-package or a module directly in colorize/).
FLOORS = {
    "__init__": 0, "errors": 0, "files": 0, "runtime": 0, "color": 0,
    "io": 1, "quantize": 1, "rebalance": 1, "plots": 1, "hints": 1,
    "models": 2,
    "predict": 3,
    "evaluation": 4,
    "train": 5,
    "serve": 5,
    "cli": 6,
}
MAX_TOP_LEVEL_MODULES = 12


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(path, modules):
    """Names of the colorize modules that ``path`` imports anywhere in its source."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] == "colorize")
    return found


def floor(module):
    parts = module.split(".")
    return FLOORS["__init__" if len(parts) == 1 else parts[1]]


@pytest.fixture(scope="module")
def graph():
    modules = all_modules()
    return {name: imported_modules(path, modules) - {name} for name, path in modules.items()}


def test_every_top_level_name_has_a_floor():
    names = {path.stem for path in PACKAGE.glob("*.py")} | {path.name for path in PACKAGE.iterdir()
                                                             if (path / "__init__.py").exists()}
    assert names == set(FLOORS), "a new module or package directly in colorize/ needs a floor here"
    assert len(list(PACKAGE.glob("*.py"))) <= MAX_TOP_LEVEL_MODULES


def test_no_import_runs_up_the_floors(graph):
    upward = sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                    if target in graph and floor(target) > floor(source))
    assert not upward


def test_no_import_cycles(graph):
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles


def test_models_never_import_training_or_commands(graph):
    assert not sorted(f"{s} -> {t}" for s, targets in graph.items() if s.startswith("colorize.models")
                      for t in targets if t.startswith(("colorize.train", "colorize.cli", "colorize.predict")))


def test_only_command_modules_have_a_main():
    with_main = sorted(module_name(path) for path in PACKAGE.rglob("*.py")
                       if re.search(r"^def main\(", path.read_text(), re.M))
    assert with_main and all(name.startswith("colorize.cli.") for name in with_main), with_main


def test_readme_module_map_matches_the_tree():
    """Every module in the README's map exists, and every module of the tree is in the map."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Module map"):]
    end = section.find("\n## ", 4)
    section = section if end < 0 else section[:end]
    mapped = set(re.findall(r"`(colorize/[\w/]+\.py)`", section))
    actual = {str(path.relative_to(REPO)) for path in PACKAGE.rglob("*.py")
              if path.name != "__init__.py" or path.parent.name == "models"}  # the registry lives in one
    assert mapped == actual, f"missing from the map: {sorted(actual - mapped)}; not in the tree: {sorted(mapped - actual)}"
