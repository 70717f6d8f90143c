"""The import layers of the project, read from the source: foundations import no stage, each
stage imports only the stages before it, only the command line imports the pipeline."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hueroute", "clustering", "experts", "search", "ensemble", "pipeline")
# what each layer may import besides itself
ALLOWED = {
    "foundations": set(),
    "clustering": {"foundations"},
    "experts": {"foundations"},
    "search": {"foundations", "experts"},
    "ensemble": {"foundations", "clustering", "experts"},
    "pipeline": {"foundations", "clustering", "experts", "search", "ensemble"},
    "cli": {"foundations", "clustering", "experts", "search", "ensemble", "pipeline"},
}


def layer(module: str) -> str | None:
    """The layer of a dotted module name of the project; None for anything else."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if module in ("hueroute.cli", "hueroute.__main__") or module.startswith("hueroute.cli."):
        return "cli"
    return "foundations" if top == "hueroute" else top


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    own = layer(module)
    for name in imported(path):
        other = layer(name)
        if other is not None and other != own:
            assert other in ALLOWED[own], f"{module} ({own}) imports {name} ({other})"


def test_the_layer_check_sees_a_wrong_import(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def f():\n    from ensemble.predictor import RoutedPredictor\n")
    assert {layer(name) for name in imported(wrong)} == {"ensemble"}
    assert "ensemble" not in ALLOWED["experts"]
