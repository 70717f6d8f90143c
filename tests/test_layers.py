"""The import layers of the project, read from the source: foundations import no stage, each
stage imports only the stages before it, only the command line imports the pipeline; inside
experts/, each kind of expert imports only the kinds it builds on."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# each layer's folder in the repository, and the name it installs as
FOLDERS = {
    "hueroute": "hueroute",
    "clustering": "hueroute.clustering",
    "experts": "hueroute.experts",
    "search": "hueroute.search",
    "ensemble": "hueroute.ensemble",
    "pipeline": "hueroute.pipeline",
    "cli": "hueroute.cli",
}
# the layer of every installed name; `python -m hueroute` is a door of the command line
LAYERS = {name: folder for folder, name in FOLDERS.items()} | {"hueroute.__main__": "cli"}
# what each layer may import besides itself
ALLOWED = {
    "hueroute": set(),
    "clustering": {"hueroute"},
    "experts": {"hueroute"},
    "search": {"hueroute", "experts"},
    "ensemble": {"hueroute", "clustering", "experts"},
    "pipeline": {"hueroute", "clustering", "experts", "search", "ensemble"},
    "cli": {"hueroute", "clustering", "experts", "search", "ensemble", "pipeline"},
}
# the kinds of expert each kind may import (the colour expert colours the corrected fill,
# which a U-Net makes); the files beside them import no kind, but for the registry of kinds
KINDS = {"colour": {"refine"}, "refine": {"unet"}, "unet": set()}
REGISTRY = "hueroute.experts.registry"


def owner(module: str, names: dict[str, str]) -> str | None:
    """The value of the longest dotted prefix of `module` that `names` holds."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if (prefix := ".".join(parts[:end])) in names:
            return names[prefix]
    return None


def layer(module: str) -> str | None:
    """The layer of a dotted module name of the project; None for anything else."""
    return owner(module, LAYERS)


def kind(module: str) -> str | None:
    """The kind of expert a dotted module name belongs to; None outside the kinds."""
    return owner(module, {f"hueroute.experts.{k}": k for k in KINDS})


def module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([FOLDERS[folder], *rest]).removesuffix(".__init__")


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(folder: str | None = None) -> list[Path]:
    folders = [folder] if folder else FOLDERS
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    module = module_name(path)
    own = layer(module)
    for name in imported(path):
        other = layer(name)
        if other is not None and other != own:
            assert other in ALLOWED[own], f"{module} ({own}) imports {name} ({other})"


@pytest.mark.parametrize("path", sources("experts"), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_kind_of_expert_imports_only_the_kinds_it_builds_on(path: Path) -> None:
    module = module_name(path)
    own = kind(module)
    may = KINDS[own] if own else set(KINDS) if module == REGISTRY else set()
    for name in imported(path):
        other = kind(name)
        if other is not None and other != own:
            assert other in may, f"{module} ({own or 'shared'}) imports {name} ({other})"


def test_the_layer_check_sees_a_wrong_import(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def f():\n    from hueroute.ensemble.predictor import RoutedPredictor\n")
    assert {layer(name) for name in imported(wrong)} == {"ensemble"}
    assert "ensemble" not in ALLOWED["experts"]
    assert module_name(ROOT / "experts" / "colour" / "net.py") == "hueroute.experts.colour.net"
    assert layer("hueroute.images") == "hueroute" and layer("numpy") is None
    assert kind("hueroute.experts.unet.net") == "unet" and kind("hueroute.experts.train") is None
