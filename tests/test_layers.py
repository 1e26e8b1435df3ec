"""The package layering drawn in the README's "Development" section is the one the imports follow.

Every import counts, also those inside functions (a lazy import must still point down the list).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "diff2in1"


def readme_layers() -> dict[str, int]:
    """{top-level module or package name: layer number} from the README's numbered list of layers."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Development", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for number, line in re.findall(r"^(\d+)\. (.*)$", section, flags=re.MULTILINE):
        names = re.findall(r"`([a-z_]+)/?`", line.split(":", 1)[0])
        layers.update({name: int(number) for name in names})
    return layers


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(node: ast.AST, module: list[str], is_package: bool) -> list[list[str]]:
    """The diff2in1 modules an import statement names, as dotted parts (``from . import x`` included)."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".") for alias in node.names if alias.name.split(".")[0] == "diff2in1"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module if is_package else module[:-1]
        base = base[: len(base) - node.level + 1]
        target = base + (node.module.split(".") if node.module else [])
    else:
        target = (node.module or "").split(".")
    if target[0] != "diff2in1":
        return []
    return [target + [alias.name] for alias in node.names] if len(target) == 1 else [target]


def import_edges() -> list[tuple[str, str, str]]:
    """(importing top-level part, imported top-level part, "file:line") for every import across parts."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        source = module[1] if len(module) > 1 else "diff2in1"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for target in _imported(node, module, path.name == "__init__.py"):
                part = target[1] if len(target) > 1 else "diff2in1"
                if part != source and part != "__version__":
                    edges.append((source, part, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return edges


def test_every_part_of_the_package_has_a_layer_in_the_readme():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    missing = sorted(parts - set(readme_layers()))
    assert not missing, f"README 'Development' lists no layer for {missing}: add them to the list of layers"


def test_imports_only_point_to_layers_above():
    layers = {**readme_layers(), "diff2in1": 1 + max(readme_layers().values())}  # the root re-exports
    upward = [f"{where}: {a} (layer {layers[a]}) imports {b} (layer {layers[b]})"
              for a, b, where in import_edges() if a in layers and b in layers and layers[b] >= layers[a]]
    assert not upward, "imports against the README's layering:\n" + "\n".join(upward)


def test_the_layer_check_sees_function_level_imports():
    """The checker itself: an import inside a function is found (a lazy import is still an arrow)."""
    edges = import_edges()
    assert any(a == "cli" and b == "report" for a, b, _ in edges)  # cli/predict.py imports report lazily
