"""The house plan of docs/ARCHITECTURE.md, checked on the source: layers, rules, sizes, no cycles.

The imports of every module under ``src/helpers`` are read with ``ast`` (module level and inside
functions alike), so a rule broken by a lazy import is caught too. Each check returns the list of
problems it found; the tests at the bottom plant violations in a copy of the package and see them
caught, so that these checks cannot pass by finding nothing.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "src" / "helpers"

# Layers, lowest first: a module may import its own layer or a lower one, never a higher one.
# Keys are module names below ``helpers`` (a package name covers its modules).
LAYERS: dict[str, int] = {
    # 0 foundation: settings and vocabularies
    "config": 0,
    "bands": 0,
    "labels": 0,
    "locks": 0,
    "atmosphere": 0,
    "distributed": 0,
    "checks": 0,
    "narrate": 0,
    # 1 rasters: GeoTIFF I/O with georeference, windows, tiles, grid checks
    "rasters": 1,
    # 2 data: layouts and their readers and writers, preparation, downloads
    "layouts": 2,
    "datasets": 2,  # a package: one module per layout on a shared base
    "windows": 2,
    "crops": 2,
    "synthetic": 2,
    "misregistration": 2,
    "earthengine": 2,
    "earthengine_specs": 2,
    "earthengine_batch": 2,
    "ntl": 2,
    "manifest": 2,
    "scene": 2,
    "scene_grid": 2,
    "realdata": 2,
    "real_lights": 2,
    "sources": 2,
    "vectors": 2,
    "normalise": 2,
    "streaming": 2,
    "coarse_labels": 2,
    # 3 models: networks, losses, metrics, the classic method
    "models": 3,
    "losses": 3,
    "metrics": 3,
    "bag_of_colors": 3,
    "floors": 3,
    "segmentation_rules": 3,
    "ordering": 3,
    # 4 training and inference
    "train": 4,
    "inference": 4,
    "ntl_baselines": 4,
    "ablation": 4,
    "ntl_evidence": 4,
    "seeds": 4,
    "landcover_rules": 4,
    "transfer": 4,
    "night_transfer": 4,
    "real_landcover": 4,
    "recipes": 4,
    # 5 runs, records, report, reproduction
    "runs": 5,
    "results": 5,
    "report": 5,
    "reproduce": 5,
    "execute": 5,
    "expected": 5,
    # 6 presentation
    "plots": 6,
    "widgets": 6,
    "dashboard": 6,
    # 7 entry points
    "cli": 7,
    "jobs": 7,
    "bench": 7,
    "colab": 7,
    "": 7,  # helpers/__init__.py
}
LAYER_NAMES = [
    "foundation",
    "rasters",
    "data",
    "models",
    "training and inference",
    "runs and records",
    "presentation",
    "entry points",
]
# "A model knows tensors, not files": what a module under helpers/models may not import.
MODEL_FORBIDDEN = ("rasterio", "sklearn", "scipy", "pandas", "matplotlib", "pathlib")
# "Training writes where it is told": training and inference never pick run folders themselves.
TRAINING = ("train", "inference")
RUN_FOLDERS = ("runs", "results", "report", "reproduce")
MAX_MODULE_LINES = 750  # the target is ~700; above this the module has two topics
MAX_FUNCTION_LINES = 80  # code lines of one function (signature and docstring not counted)
EXEMPT = {"synthetic"}  # the scene generator's layers are long by nature (its own issue)


def module_name(path: Path, root: Path) -> str:
    """``helpers/train/loop.py`` -> ``train.loop``; ``helpers/__init__.py`` -> ``""``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path = HELPERS) -> dict[str, Path]:
    """Every module of the package, by name below ``helpers``."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> dict[str, set[str]]:
    """``{"helpers": {modules imported}, "external": {top-level packages}}`` of one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, set[str]] = {"helpers": set(), "external": set()}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _add(found, alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = ["helpers", *package.split(".")] if package else ["helpers"]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                _add(found, f"{base}.{alias.name}", known, fallback=base)
    found["helpers"].discard(name)
    return found


def _add(found: dict[str, set[str]], full: str, known: set[str], fallback: str = "") -> None:
    """Record ``full`` (``helpers.x.y`` or an external module) as the module it names."""
    for candidate in (full, fallback):
        if candidate == "helpers" or candidate.startswith("helpers."):
            inner = candidate.removeprefix("helpers").removeprefix(".")
            if inner in known:
                found["helpers"].add(inner)
                parent = inner.rpartition(".")[0]
                if parent:  # importing a submodule runs its package's __init__ first
                    found["helpers"].add(parent)
                return
        elif candidate:
            found["external"].add(candidate.split(".")[0])
            return


def graph(root: Path = HELPERS) -> dict[str, dict[str, set[str]]]:
    """The import graph of the package: module -> its imports."""
    mods = modules(root)
    known = set(mods)
    out = {}
    for name, path in mods.items():
        deps = imports(name, path, known)
        own = {d for d in deps["helpers"] if d == name.partition(".")[0] and "." in name}
        deps["helpers"] -= own  # a package's own __init__ is already running
        out[name] = deps
    return out


def layer_of(name: str) -> int | None:
    """The layer of a module (its own entry, else its top-level package's)."""
    return LAYERS.get(name, LAYERS.get(name.partition(".")[0]))


def check_layers(g: dict[str, dict[str, set[str]]]) -> list[str]:
    """Every module has a layer; no import goes up a layer."""
    problems = []
    for name, deps in g.items():
        mine = layer_of(name)
        if mine is None:
            problems.append(f"helpers.{name} has no layer: add it to LAYERS and ARCHITECTURE.md")
            continue
        for dep in sorted(deps["helpers"]):
            theirs = layer_of(dep)
            if theirs is not None and theirs > mine:
                problems.append(
                    f"helpers.{name} ({LAYER_NAMES[mine]}) imports helpers.{dep} "
                    f"({LAYER_NAMES[theirs]}): a layer may only import layers below it"
                )
    return problems


def check_rules(g: dict[str, dict[str, set[str]]]) -> list[str]:
    """The two named rules of ARCHITECTURE.md."""
    problems = []
    for name, deps in g.items():
        top = name.partition(".")[0]
        if top == "models":  # models may use the foundation's constants (layer 0), nothing else
            outside = {
                d for d in deps["helpers"] if d.partition(".")[0] != "models" and layer_of(d) != 0
            }
            files = deps["external"] & set(MODEL_FORBIDDEN)
            if outside or files:
                problems.append(
                    f"helpers.{name} imports {sorted(outside | files)}: "
                    "a model knows tensors, not files"
                )
        if top in TRAINING:
            told = {d for d in deps["helpers"] if d.partition(".")[0] in RUN_FOLDERS}
            if told:
                problems.append(
                    f"helpers.{name} imports {sorted(told)}: training writes where it is told"
                )
    return problems


def check_cycles(g: dict[str, dict[str, set[str]]]) -> list[str]:
    """Import cycles between modules (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[str] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, {}).get("helpers", ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append("import cycle: " + " <-> ".join(sorted(component)))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return cycles


def code_lines(node: ast.AST) -> int:
    """Lines of a function's body, without its signature and docstring."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return 0 if not body else body[-1].end_lineno - body[0].lineno + 1


def check_sizes(root: Path = HELPERS) -> list[str]:
    """No module over MAX_MODULE_LINES, no function over MAX_FUNCTION_LINES (EXEMPT aside)."""
    problems = []
    for name, path in modules(root).items():
        if name.partition(".")[0] in EXEMPT:
            continue
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            problems.append(
                f"helpers.{name}: {len(text.splitlines())} lines (> {MAX_MODULE_LINES}); split it"
            )
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(node)
                if n > MAX_FUNCTION_LINES:
                    problems.append(
                        f"helpers.{name}.{node.name}: {n} code lines (> {MAX_FUNCTION_LINES})"
                    )
    return problems


# "Settings are passed down, not through the environment": no module writes
# os.environ but these, each a process-wide switch of a library or the user's own setup cell.
ENV_WRITES_ALLOWED = {
    ("config", "seed_everything"): "CUBLAS_WORKSPACE_CONFIG: cuBLAS reads it, no API sets it",
    ("colab", "setup"): "the Colab setup cell is the user's entry point: Drive folders as defaults",
}
ENV_WRITERS = ("setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__")
# a module loaded by a name in a string is an import this test cannot see
LOADS_BY_NAME = ("import_module", "__import__", "module_from_spec", "spec_from_file_location")
TOOLS = ROOT / "tools"


def _dotted(node: ast.AST) -> str:
    """``os.environ.setdefault`` for the expression naming it; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _in_functions(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every node with the name of the function around it ("" at module level)."""
    out: list[tuple[ast.AST, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            )
            out.append((child, inner))
            visit(child, inner)

    visit(tree, "")
    return out


def environ_writes(source: str) -> list[tuple[int, str]]:
    """``(line, function)`` of each write to the process environment in ``source``:
    ``os.environ[k] = v`` (also ``+=``, ``del``), ``os.environ.setdefault/update/pop/...``,
    ``os.putenv``, ``os.unsetenv``."""
    found = []
    for node, where in _in_functions(ast.parse(source)):
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        hit = any(
            isinstance(t, ast.Subscript) and _dotted(t.value).endswith("environ") for t in targets
        )
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            hit = name in ("os.putenv", "os.unsetenv", "putenv", "unsetenv") or any(
                name.endswith(f"environ.{w}") for w in ENV_WRITERS
            )
        if hit:
            found.append((node.lineno, where))
    return found


def check_environ(root: Path = HELPERS) -> list[str]:
    """No module writes ``os.environ`` outside :data:`ENV_WRITES_ALLOWED`."""
    problems = []
    for name, path in modules(root).items():
        for line, where in environ_writes(path.read_text(encoding="utf-8")):
            if (name, where) not in ENV_WRITES_ALLOWED:
                problems.append(
                    f"helpers.{name}:{line} ({where or 'module level'}) writes os.environ: resolve "
                    "the setting at the entry point and pass it down (a child process gets an env dict)"
                )
    return problems


def loads_by_name(source: str) -> list[int]:
    """Lines of ``source`` that load a module from a name in a string (``importlib``'s
    ``import_module``, ``__import__``, specs from files); ``importlib.util.find_spec`` (is it
    installed?) and ``importlib.metadata`` (versions) load nothing and are not counted."""
    lines = []
    for node, _ in _in_functions(ast.parse(source)):
        if isinstance(node, ast.Call) and _dotted(node.func).rpartition(".")[2] in LOADS_BY_NAME:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("importlib"):
            if any(a.name in LOADS_BY_NAME for a in node.names):
                lines.append(node.lineno)
    return lines


def check_loads_by_name(root: Path = HELPERS) -> list[str]:
    """No module of the package imports another by a name held in data."""
    return [
        f"helpers.{name}:{line} loads a module by name: import it (a registry in code, "
        "e.g. helpers.sources.BUILDERS)"
        for name, path in modules(root).items()
        for line in loads_by_name(path.read_text(encoding="utf-8"))
    ]


# "One recipe per trained model": a function that builds notebook 03's U-Net or the night-light
# network and trains it (a call of the loop's ``fit``) is a recipe; recipes live in helpers/recipes/.
MODEL_BUILDERS = ("UNet", "ntl_sr.build")
LOOP_FITS = ("fit", "train.fit", "loop.fit", "train.loop.fit")
RECIPE_EXEMPT = {
    ("bench", "_epoch_child"): "times one epoch of data loading on a toy U-Net, trains no model",
}


def trainings(source: str) -> list[tuple[int, str]]:
    """``(line, function)`` of each function in ``source`` that builds a U-Net or an NTL network
    (``UNet(...)``, ``ntl_sr.build(...)``) and calls the training loop (``train.fit(...)``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        called = [_dotted(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]
        builds = any(c == b or c.endswith(f".{b}") for c in called for b in MODEL_BUILDERS)
        if builds and any(c in LOOP_FITS for c in called):
            found.append((node.lineno, node.name))
    return found


def check_one_recipe(root: Path = HELPERS) -> list[str]:
    """No function outside ``helpers.recipes`` both builds a U-Net / NTL network and trains it."""
    return [
        f"helpers.{name}:{line} ({where}) builds and trains a model: call its recipe in "
        "helpers.recipes (one definition per trained model)"
        for name, path in modules(root).items()
        if name.partition(".")[0] != "recipes"
        for line, where in trainings(path.read_text(encoding="utf-8"))
        if (name, where) not in RECIPE_EXEMPT
    ]


def check_tools(tools: Path = TOOLS, root: Path = HELPERS) -> list[str]:
    """``tools/`` sit above every layer: they import only modules the house plan places, and no
    module of the package imports a tool."""
    known, problems = set(modules(root)), []
    for path in sorted(tools.glob("*.py")):
        for dep in sorted(imports(f"tools.{path.stem}", path, known)["helpers"]):
            if layer_of(dep) is None:
                problems.append(f"tools/{path.name} imports helpers.{dep}, which has no layer")
    names = {p.stem for p in tools.glob("*.py")} | {"tools"}
    for name, deps in graph(root).items():
        upward = deps["external"] & names
        if upward:
            problems.append(
                f"helpers.{name} imports {sorted(upward)} from tools/: tools sit on top"
            )
    return problems


# "One engine per job": one window sampler and augmentation (helpers.windows), one NTL layout
# reader (helpers.datasets.ntl). A second copy elsewhere drifts from the first one's seeds.
SAMPLER = "windows"
SAMPLER_DEFS = {  # what only the sampler defines (old private names included: they come back)
    "random_window", "tile_grid", "grid_starts", "blend_window", "iter_tiles", "draw_turn",
    "batch_turns", "turn", "augment", "_augment", "_window", "_draw", "_turn", "_turns",
}  # fmt: skip
NTL_READER = "datasets.ntl"
NTL_READER_DEFS = {"NTL", "read_layout_patch", "layout_ids", "layout_root"}
NTL_LAYER_NAMES = {"lr_ntl", "hr_ntl", "dmo", "dem", "isp"}


def _called(node: ast.AST) -> set[str]:
    """Names of everything called inside ``node`` (``np.rot90(...)`` and ``x.rot90(...)``: rot90)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            out.add(_dotted(n.func).rpartition(".")[2] or getattr(n.func, "attr", ""))
    return out


def _per_sample_rng(node: ast.AST) -> bool:
    """``default_rng([..., epoch, ..., index, ...])`` inside ``node``: a generator per sample."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and _dotted(n.func).endswith("default_rng") and n.args:
            names = {_dotted(a).rpartition(".")[2] for a in ast.walk(n.args[0])}
            if {"epoch", "index"} <= names:
                return True
    return False


def check_one_sampler(root: Path = HELPERS) -> list[str]:
    """Windows, tiles and turns are defined in helpers.windows only: no function elsewhere has a
    sampler's name, turns and flips arrays, or seeds its own per-sample generator."""
    problems = set()
    for name, path in modules(root).items():
        if name == SAMPLER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            where = f"helpers.{name}.{node.name}"
            called = _called(node)
            if node.name in SAMPLER_DEFS:
                problems.add(f"{where}: a second window sampler; use helpers.windows")
            if "rot90" in called and called & {"flip", "fliplr", "flipud"}:
                problems.add(f"{where} turns and flips arrays: use helpers.windows.turn")
            if _per_sample_rng(node):
                problems.add(f"{where} seeds its own crops: use helpers.windows.rng")
    return sorted(problems)


def check_one_ntl_reader(root: Path = HELPERS) -> list[str]:
    """The NTL layout is read by helpers.datasets.ntl only, and its layers are typed once
    (helpers.layouts.NTL_LAYERS): no reader elsewhere, no literal retyping the layout (the coarse
    ``lr_ntl`` folder beside two or more others)."""
    problems = []
    for name, path in modules(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if name != NTL_READER and isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                if node.name in NTL_READER_DEFS:
                    problems.append(f"helpers.{name}.{node.name}: a second NTL layout reader")
            if name != "layouts" and isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
                keys = node.keys if isinstance(node, ast.Dict) else node.elts
                found = {k.value for k in keys if isinstance(k, ast.Constant)} & NTL_LAYER_NAMES
                if "lr_ntl" in found and len(found) >= 3:
                    problems.append(
                        f"helpers.{name}:{node.lineno} retypes the NTL layers {sorted(found)}: "
                        "use helpers.layouts.NTL_LAYERS"
                    )
    return problems


# ---- the repository as it is ----


def test_every_module_has_a_layer_and_imports_go_down():
    assert check_layers(graph()) == []


def test_models_know_tensors_and_training_writes_where_it_is_told():
    assert check_rules(graph()) == []


def test_no_import_cycle():
    assert check_cycles(graph()) == []


def test_no_module_or_function_too_long():
    assert check_sizes() == []


def test_no_module_writes_the_environment():
    assert check_environ() == []


def test_no_module_is_loaded_by_a_name_in_data():
    assert check_loads_by_name() == []


def test_one_recipe_per_trained_model():
    assert check_one_recipe() == []


def test_tools_import_placed_modules_and_nothing_imports_a_tool():
    assert check_tools() == []


def test_one_window_sampler_and_one_ntl_reader():
    assert check_one_sampler() == []
    assert check_one_ntl_reader() == []


def test_architecture_document_names_every_module():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    tops = {name.partition(".")[0] for name in modules() if name}
    missing = sorted(t for t in tops if f"`{t}`" not in text)
    assert missing == [], f"docs/ARCHITECTURE.md does not name {missing}"
    for doc in ("README.md", "docs/CONTRACTS.md"):
        body = (ROOT / doc).read_text(encoding="utf-8")
        assert "ARCHITECTURE.md" in body, f"{doc} does not link the architecture"
        assert "DESIGN.md" not in body, f"{doc} points to a DESIGN.md outside the repository"


def test_import_helpers_stays_light():
    code = "import sys, helpers; print(sorted({'torch', 'rasterio', 'pandas'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", f"import helpers pulled in {out.strip()}"


# ---- planted violations: the checks catch what they are meant to catch ----


@pytest.fixture
def copy(tmp_path):
    """A throwaway copy of the package to break."""
    target = tmp_path / "helpers"
    shutil.copytree(HELPERS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_model_that_reads_files_is_caught(copy):
    _append(copy / "models" / "unet.py", "\n\ndef load(path):\n    from .. import rasters\n")
    problems = check_rules(graph(copy))
    assert any("models.unet" in p and "tensors, not files" in p for p in problems), problems
    _append(copy / "models" / "pix2pix.py", "\nimport rasterio\n")
    assert any("pix2pix" in p and "rasterio" in p for p in check_rules(graph(copy)))


def test_training_that_picks_its_run_folder_is_caught(copy):
    _append(copy / "train" / "loop.py", "\n\ndef where():\n    from .. import runs\n")
    problems = check_rules(graph(copy))
    assert any("train.loop" in p and "told" in p for p in problems), problems
    layers = check_layers(graph(copy))
    assert any("train.loop" in p and "imports helpers.runs" in p for p in layers), layers


def test_an_import_cycle_is_caught(copy):
    assert check_cycles(graph(copy)) == []
    _append(copy / "rasters.py", "\n\ndef late():\n    from . import datasets\n")
    cycles = check_cycles(graph(copy))
    assert any("datasets" in c and "rasters" in c for c in cycles), cycles
    assert any(
        "rasters" in p and "imports helpers.datasets" in p for p in check_layers(graph(copy))
    )


def test_a_cycle_through_a_package_init_is_caught(copy):
    """``from .train import checkpoints`` runs ``train/__init__`` (which imports the loop)."""
    _append(copy / "train" / "loop.py", "\nfrom .. import widgets\n")
    _append(copy / "widgets.py", "\nfrom .train import checkpoints\n")
    cycles = check_cycles(graph(copy))
    assert any("widgets" in c and "train" in c for c in cycles), cycles


def test_an_unplaced_module_and_long_code_are_caught(copy):
    (copy / "newtopic.py").write_text("X = 1\n", encoding="utf-8")
    assert any("newtopic has no layer" in p for p in check_layers(graph(copy)))
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES + 1))
    _append(copy / "config.py", f'\n\ndef long():\n    """Doc."""\n{body}')
    _append(copy / "labels.py", "\n" + "# filler\n" * MAX_MODULE_LINES)
    problems = check_sizes(copy)
    assert any("config.long" in p for p in problems), problems
    assert any(p.startswith("helpers.labels:") for p in problems), problems


@pytest.mark.parametrize(
    "line",
    [
        'os.environ["EOSR_DATA"] = "/x"',
        'os.environ.setdefault("EOSR_RUN_DIR", "/x")',
        'os.environ.update(EOSR_PROFILE="smoke")',
        'os.putenv("EOSR_DATA", "/x")',
        'environ["X"] += "y"',
        'del os.environ["X"]',
    ],
)
def test_an_environment_write_is_caught(line):
    source = f"import os\nfrom os import environ\n\n\ndef job():\n    {line}\n"
    assert environ_writes(source) == [(6, "job")]
    reads = (
        "import os\nx = os.environ.get('A')\ny = os.environ['B']\nenv = dict(os.environ, A='1')\n"
    )
    assert environ_writes(reads) == []  # reading, and an env dict for a child, are fine


def test_a_planted_environment_write_is_caught(copy):
    _append(copy / "runs.py", '\n\ndef leak(p):\n    os.environ["EOSR_RUN_DIR"] = str(p)\n')
    problems = check_environ(copy)
    assert any("helpers.runs:" in p and "(leak)" in p for p in problems), problems


def test_a_module_loaded_by_name_is_caught(copy):
    assert loads_by_name("import importlib.util\nimportlib.util.find_spec('papermill')\n") == []
    assert loads_by_name("from importlib import import_module as im\n") == [1]
    _append(
        copy / "manifest.py",
        "\n\ndef build(m):\n    import importlib\n    return importlib.import_module(m)\n",
    )
    problems = check_loads_by_name(copy)
    assert any("helpers.manifest:" in p and "by name" in p for p in problems), problems


def test_a_second_recipe_outside_recipes_is_caught(copy):
    unet = (
        "\n\ndef retrain(patches):\n    from .models.unet import UNet\n\n"
        "    model = UNet(4, 8)\n    return train.fit(model, patches, None, 1)\n"
    )
    ntl = "\n\ndef again(loader):\n    m = ntl_sr.build(width=4)\n    return fit(m, loader, None, 1)\n"
    _append(copy / "transfer.py", unet)
    _append(copy / "jobs.py", ntl)
    _append(copy / "recipes" / "night_lights.py", ntl)  # inside recipes/: the recipe itself
    problems = check_one_recipe(copy)
    assert any("helpers.transfer:" in p and "(retrain)" in p for p in problems), problems
    assert any("helpers.jobs:" in p and "(again)" in p for p in problems), problems
    assert not any("recipes" in p.partition(" ")[0] for p in problems), problems
    sklearn = "def ok(x):\n    m = UNet(4, 8)\n    return forest.fit(x)\n"
    assert trainings(sklearn) == []  # a scikit-learn fit is not the training loop


def test_a_tool_importing_an_unplaced_module_and_an_import_of_a_tool_are_caught(copy, tmp_path):
    tools = tmp_path / "tools"
    shutil.copytree(TOOLS, tools, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "newtopic.py").write_text("X = 1\n", encoding="utf-8")
    (tools / "planted.py").write_text("from helpers import newtopic\n", encoding="utf-8")
    _append(copy / "config.py", "\n\ndef late():\n    import nbkit\n")
    problems = check_tools(tools, copy)
    assert any("planted.py imports helpers.newtopic" in p for p in problems), problems
    assert any("helpers.config imports ['nbkit']" in p for p in problems), problems


def test_a_second_sampler_a_flip_rotate_and_an_ntl_reader_are_caught(copy):
    before = set(check_one_sampler(copy)) | set(check_one_ntl_reader(copy))
    _append(
        copy / "crops.py",
        "\n\ndef _augment(arrays, rng):\n    k = int(rng.integers(4))\n"
        "    return {n: np.flip(np.rot90(a, k), -1) for n, a in arrays.items()}\n",
    )
    _append(
        copy / "scene.py",
        "\n\ndef flip_turn(x, k):\n    return x.rot90(k, dims=(-2, -1)).flip(-1)\n"
        "\n\ndef crop_at(seed, epoch, index):\n"
        "    return np.random.default_rng([seed, epoch, index]).integers(8)\n",
    )
    problems = sorted(set(check_one_sampler(copy)) - before)
    assert any("crops._augment: a second window sampler" in p for p in problems), problems
    assert any("crops._augment turns and flips" in p for p in problems), problems
    assert any("scene.flip_turn turns and flips" in p for p in problems), problems
    assert any("scene.crop_at seeds its own crops" in p for p in problems), problems
    _append(
        copy / "ntl.py",
        "\n\ndef read_layout_patch(root, split, patch_id):\n"
        '    bands = {"lr_ntl": 1, "hr_ntl": 1, "dmo": 7, "dem": 1, "isp": 1}\n'
        "    return bands\n",
    )
    problems = sorted(set(check_one_ntl_reader(copy)) - before)
    assert any("ntl.read_layout_patch: a second NTL layout reader" in p for p in problems)
    assert any("helpers.ntl:" in p and "retypes the NTL layers" in p for p in problems), problems
