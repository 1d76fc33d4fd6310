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
# Keys are dotted module names below ``helpers`` (a package name covers its modules); each
# layer is one sub-package (SUBPACKAGES) and a module lives in its layer's (check_placement).
LAYERS: dict[str, int] = {
    # 0 foundation: settings and vocabularies
    "core.config": 0,
    "core.bands": 0,
    "core.labels": 0,
    "core.locks": 0,
    "core.atmosphere": 0,
    "core.distributed": 0,
    "core.checks": 0,
    "core.narrate": 0,
    # 1 rasters: GeoTIFF I/O with georeference, windows, tiles, grid checks
    "io.rasters": 1,
    # 2 data: layouts and their readers and writers, preparation, downloads
    "data.layouts": 2,
    "data.datasets": 2,  # a package: one reader per layout on a shared base, Scene, Streaming
    "data.windows": 2,
    "data.crops": 2,
    "data.synthetic": 2,
    "data.misregistration": 2,
    "data.earthengine": 2,
    "data.earthengine_specs": 2,
    "data.earthengine_batch": 2,
    "data.ntl": 2,
    "data.manifest": 2,
    "data.scene_grid": 2,
    "data.realdata": 2,
    "data.real_lights": 2,
    "data.sources": 2,
    "data.vectors": 2,
    "data.normalise": 2,
    "data.coarse_labels": 2,
    # 3 models: networks, losses, metrics, the classic method
    "models.ntl_sr": 3,
    "models.registration": 3,
    "models.pix2pix": 3,
    "models.unet": 3,
    "models.losses": 3,
    "models.metrics": 3,
    "models.bag_of_colors": 3,
    "models.floors": 3,
    "models.segmentation_rules": 3,
    "models.ordering": 3,
    # 4 training and inference
    "training.train": 4,
    "training.inference": 4,
    "training.ntl_baselines": 4,
    "training.ablation": 4,
    "training.ntl_evidence": 4,
    "training.seeds": 4,
    "training.landcover_rules": 4,
    "training.transfer": 4,
    "training.night_transfer": 4,
    "training.real_landcover": 4,
    "training.recipes": 4,
    # 5 runs, records, report, reproduction
    "records.runs": 5,
    "records.results": 5,
    "records.report": 5,
    "records.reproduce": 5,
    "records.execute": 5,
    "records.expected": 5,
    "records.long_runs": 5,
    # 6 presentation
    "views.plots": 6,
    "views.widgets": 6,
    "views.dashboard": 6,
    # 7 entry points
    "apps.cli": 7,
    "apps.jobs": 7,
    "apps.bench": 7,
    "apps.bench_streaming": 7,
    "apps.colab": 7,
    "apps.long_run": 7,
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
# The tree shows the layers: one sub-package of helpers per layer, lowest first.
SUBPACKAGES: dict[str, int] = {
    "core": 0,  # foundation
    "io": 1,  # rasters
    "data": 2,  # data
    "models": 3,  # models
    "training": 4,  # training and inference
    "records": 5,  # runs and records
    "views": 6,  # presentation
    "apps": 7,  # entry points
}
# "A model knows tensors, not files": what a network (helpers.models but SCORING) may not import.
MODEL_FORBIDDEN = ("rasterio", "sklearn", "scipy", "pandas", "matplotlib", "pathlib")
# helpers.models also holds the scores, losses and classic methods of layer 3: they are no
# networks, and may read files and tables.
SCORING = (
    "models.bag_of_colors",
    "models.floors",
    "models.losses",
    "models.metrics",
    "models.ordering",
    "models.segmentation_rules",
)
# "Training writes where it is told": training and inference never pick run folders themselves.
TRAINING = ("training.train", "training.inference")
RUN_FOLDERS = ("records.runs", "records.results", "records.report", "records.reproduce")
MAX_MODULE_LINES = 750  # the target is ~700; above this the module has two topics
MAX_FUNCTION_LINES = 80  # code lines of one function (signature and docstring not counted)
EXEMPT = {"data.synthetic"}  # the scene generator's layers are long by nature (its own issue)


def module_name(path: Path, root: Path) -> str:
    """``training/train/loop.py`` -> ``training.train.loop``; ``__init__.py`` -> ``""``."""
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
    """Record ``full`` (``helpers.x.y`` or an external module) as the module it names, with the
    packages above it (importing a submodule runs their ``__init__`` first)."""
    for candidate in (full, fallback):
        if candidate == "helpers" or candidate.startswith("helpers."):
            inner = candidate.removeprefix("helpers").removeprefix(".")
            if inner in known:
                found["helpers"].add(inner)
                parts = inner.split(".")
                found["helpers"].update(".".join(parts[:i]) for i in range(1, len(parts)))
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
        own = {d for d in deps["helpers"] if name.startswith(d + ".")}
        deps["helpers"] -= own  # the packages around a module are already running
        out[name] = deps
    return out


def within(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    """True when ``name`` is one of ``prefixes`` or a module inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str, layers: dict[str, int] | None = None) -> int | None:
    """The layer of a module: its own entry, else its closest package's, else its sub-package's
    (``core`` -> 0); None when it has none."""
    layers = LAYERS if layers is None else layers
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in layers:
            return layers[key]
    return SUBPACKAGES.get(name)


def check_placement(root: Path = HELPERS, layers: dict[str, int] | None = None) -> list[str]:
    """The tree shows the layers: each layer is one sub-package of ``helpers`` (SUBPACKAGES) and
    every module lives in its layer's (the package's ``__init__`` aside)."""
    layers = LAYERS if layers is None else layers
    home = {layer: sub for sub, layer in SUBPACKAGES.items()}
    problems = [
        f"helpers.{sub} (layer {layer}) has no src/helpers/{sub}/__init__.py"
        for sub, layer in SUBPACKAGES.items()
        if not (root / sub / "__init__.py").exists()
    ]
    for name in modules(root):
        top = name.partition(".")[0]
        if name and top not in SUBPACKAGES:
            problems.append(
                f"helpers.{name} sits outside the layer sub-packages: move it into its layer's "
                f"(helpers.{{{', '.join(SUBPACKAGES)}}}) and name it so in LAYERS"
            )
            continue
        declared = layer_of(name, {k: v for k, v in layers.items() if k})
        if name and declared is not None and declared != SUBPACKAGES[top]:
            problems.append(
                f"helpers.{name} is declared layer {declared} ({LAYER_NAMES[declared]}) but lives "
                f"in helpers.{top} ({LAYER_NAMES[SUBPACKAGES[top]]}): move it to "
                f"helpers.{home[declared]}"
            )
    return problems


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
        if within(name, ("models",)) and not within(name, SCORING):
            # a network may use the foundation's constants (layer 0), nothing else of the kit
            outside = {
                d for d in deps["helpers"] if not within(d, ("models",)) and layer_of(d) != 0
            }
            files = deps["external"] & set(MODEL_FORBIDDEN)
            if outside or files:
                problems.append(
                    f"helpers.{name} imports {sorted(outside | files)}: "
                    "a model knows tensors, not files"
                )
        if within(name, TRAINING):
            told = {d for d in deps["helpers"] if within(d, RUN_FOLDERS)}
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


def module_lines(text: str) -> int:
    """Lines of a module without its import statements: importing from the layer
    sub-packages takes a line per sub-package, and imports are no topic."""
    nodes = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return len(text.splitlines()) - sum(n.end_lineno - n.lineno + 1 for n in nodes)


def check_sizes(root: Path = HELPERS) -> list[str]:
    """No module over MAX_MODULE_LINES, no function over MAX_FUNCTION_LINES (EXEMPT aside)."""
    problems = []
    for name, path in modules(root).items():
        if within(name, EXEMPT):
            continue
        text = path.read_text(encoding="utf-8")
        size = module_lines(text)
        if size > MAX_MODULE_LINES:
            problems.append(
                f"helpers.{name}: {size} lines without its imports (> {MAX_MODULE_LINES}); split it"
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
    ("core.config", "seed_everything"): "CUBLAS_WORKSPACE_CONFIG: cuBLAS reads it, no API sets it",
    ("apps.colab", "setup"): "the user's setup cell, the entry point: Drive folders as defaults",
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
        "e.g. helpers.data.sources.BUILDERS)"
        for name, path in modules(root).items()
        for line in loads_by_name(path.read_text(encoding="utf-8"))
    ]


# "One recipe per trained model": a function that builds notebook 03's U-Net or the night-light
# network and trains it (a call of the loop's ``fit``) is a recipe; recipes live in helpers/training/recipes/.
MODEL_BUILDERS = ("UNet", "ntl_sr.build")
LOOP_FITS = ("fit", "train.fit", "loop.fit", "train.loop.fit")
RECIPE_EXEMPT = {
    (
        "apps.bench_streaming",
        "_epoch_child",
    ): "times one epoch of data loading on a toy U-Net, trains no model",
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
    """No function outside ``helpers.training.recipes`` both builds a U-Net / NTL network and trains it."""
    return [
        f"helpers.{name}:{line} ({where}) builds and trains a model: call its recipe in "
        "helpers.training.recipes (one definition per trained model)"
        for name, path in modules(root).items()
        if not within(name, ("training.recipes",))
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


# "One engine per job": one window sampler and augmentation (helpers.data.windows), one NTL layout
# reader (helpers.data.datasets.ntl). A second copy elsewhere drifts from the first one's seeds.
SAMPLER = "data.windows"
SAMPLER_DEFS = {  # what only the sampler defines (old private names included: they come back)
    "random_window", "tile_grid", "grid_starts", "blend_window", "iter_tiles", "draw_turn",
    "batch_turns", "turn", "augment", "_augment", "_window", "_draw", "_turn", "_turns",
}  # fmt: skip
NTL_READER = "data.datasets.ntl"
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
    """Windows, tiles and turns are defined in helpers.data.windows only: no function elsewhere has a
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
                problems.add(f"{where}: a second window sampler; use helpers.data.windows")
            if "rot90" in called and called & {"flip", "fliplr", "flipud"}:
                problems.add(f"{where} turns and flips arrays: use helpers.data.windows.turn")
            if _per_sample_rng(node):
                problems.add(f"{where} seeds its own crops: use helpers.data.windows.rng")
    return sorted(problems)


def check_one_ntl_reader(root: Path = HELPERS) -> list[str]:
    """The NTL layout is read by helpers.data.datasets.ntl only, and its layers are typed once
    (helpers.data.layouts.NTL_LAYERS): no reader elsewhere, no literal retyping the layout (the coarse
    ``lr_ntl`` folder beside two or more others)."""
    problems = []
    for name, path in modules(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if name != NTL_READER and isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                if node.name in NTL_READER_DEFS:
                    problems.append(f"helpers.{name}.{node.name}: a second NTL layout reader")
            if name != "data.layouts" and isinstance(
                node, (ast.Dict, ast.List, ast.Tuple, ast.Set)
            ):
                keys = node.keys if isinstance(node, ast.Dict) else node.elts
                found = {k.value for k in keys if isinstance(k, ast.Constant)} & NTL_LAYER_NAMES
                if "lr_ntl" in found and len(found) >= 3:
                    problems.append(
                        f"helpers.{name}:{node.lineno} retypes the NTL layers {sorted(found)}: "
                        "use helpers.data.layouts.NTL_LAYERS"
                    )
    return problems


# "One reader per layout" (helpers.data.datasets): in the data layer every torch Dataset or
# IterableDataset (the layout readers, the Scene adapter, the Streaming wrapper) is defined in
# helpers.data.datasets; crops serves in-memory crops of samples a reader has read.
READERS = "data.datasets"
READER_EXEMPT = {"data.crops": "in-memory crops of samples already read, not a reader of files"}
DATASET_BASES = {"Dataset", "IterableDataset"}


def _reexports_only(tree: ast.Module, package: str) -> bool:
    """True when a module's body is imports (docstring, ``__all__`` aside) and one of them is
    from ``helpers.<package>``: a shim that keeps an old name alive."""
    body = [
        n
        for n in tree.body
        if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        and not (isinstance(n, ast.Assign) and _dotted(n.targets[0]) == "__all__")
        and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
    ]
    if not body or not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
        return False
    tail = package.rpartition(".")[2]
    return any(isinstance(n, ast.ImportFrom) and tail in (n.module or "").split(".") for n in body)


def check_readers_in_datasets(root: Path = HELPERS) -> list[str]:
    """Readers live in helpers.data.datasets: no torch Dataset / IterableDataset class elsewhere in
    the data layer (READER_EXEMPT aside), and no module left behind that only re-exports them."""
    problems = []
    for name, path in modules(root).items():
        if not within(name, ("data",)) or within(name, (READERS,)) or name in READER_EXEMPT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            bases = {_dotted(b).rpartition(".")[2] for b in getattr(node, "bases", ())}
            if isinstance(node, ast.ClassDef) and bases & DATASET_BASES:
                problems.append(
                    f"helpers.{name}.{node.name} is a reader outside helpers.data.datasets: move "
                    "it there (one module per layout on the shared base)"
                )
        if _reexports_only(tree, READERS):
            problems.append(
                f"helpers.{name} only re-exports helpers.data.datasets: import the reader from "
                "there and delete the shim"
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


def test_readers_live_in_datasets():
    assert check_readers_in_datasets() == []
    names = {n for n in modules() if within(n, (READERS,))}
    assert {"data.datasets.scene", "data.datasets.streaming"} <= names  # Scene, Streaming


def test_architecture_document_names_every_module():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    names = {name.split(".")[1] for name in modules() if "." in name} | set(SUBPACKAGES)
    missing = sorted(t for t in names if f"`{t}`" not in text)
    assert missing == [], f"docs/ARCHITECTURE.md does not name {missing}"
    for doc in ("README.md", "docs/CONTRACTS.md"):
        body = (ROOT / doc).read_text(encoding="utf-8")
        assert "ARCHITECTURE.md" in body, f"{doc} does not link the architecture"
        assert "DESIGN.md" not in body, f"{doc} points to a DESIGN.md outside the repository"


def test_every_module_lives_in_its_layers_subpackage():
    assert check_placement() == []
    assert sorted(SUBPACKAGES.values()) == list(range(len(LAYER_NAMES)))  # one per layer


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
    _append(copy / "models" / "unet.py", "\n\ndef load(path):\n    from ..io import rasters\n")
    problems = check_rules(graph(copy))
    assert any("models.unet" in p and "tensors, not files" in p for p in problems), problems
    _append(copy / "models" / "pix2pix.py", "\nimport rasterio\n")
    assert any("pix2pix" in p and "rasterio" in p for p in check_rules(graph(copy)))


def test_training_that_picks_its_run_folder_is_caught(copy):
    _append(
        copy / "training" / "train" / "loop.py",
        "\n\ndef where():\n    from ...records import runs\n",
    )
    problems = check_rules(graph(copy))
    assert any("training.train.loop" in p and "told" in p for p in problems), problems
    layers = check_layers(graph(copy))
    assert any(
        "training.train.loop" in p and "imports helpers.records.runs" in p for p in layers
    ), layers


def test_an_import_cycle_is_caught(copy):
    assert check_cycles(graph(copy)) == []
    _append(copy / "io" / "rasters.py", "\n\ndef late():\n    from ..data import datasets\n")
    cycles = check_cycles(graph(copy))
    assert any("data.datasets" in c and "io.rasters" in c for c in cycles), cycles
    assert any(
        "io.rasters" in p and "imports helpers.data.datasets" in p
        for p in check_layers(graph(copy))
    )


def test_a_cycle_through_a_package_init_is_caught(copy):
    """Importing ``training.train.checkpoints`` runs ``train/__init__`` (it imports the loop)."""
    _append(copy / "training" / "train" / "loop.py", "\nfrom ...views import widgets\n")
    _append(copy / "views" / "widgets.py", "\nfrom ..training.train import checkpoints\n")
    cycles = check_cycles(graph(copy))
    assert any("views.widgets" in c and "training.train" in c for c in cycles), cycles


def test_an_unplaced_module_and_long_code_are_caught(copy):
    (copy / "newtopic.py").write_text("X = 1\n", encoding="utf-8")
    assert any("newtopic has no layer" in p for p in check_layers(graph(copy)))
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES + 1))
    _append(copy / "core" / "config.py", f'\n\ndef long():\n    """Doc."""\n{body}')
    _append(copy / "core" / "labels.py", "\n" + "# filler\n" * MAX_MODULE_LINES)
    problems = check_sizes(copy)
    assert any("config.long" in p for p in problems), problems
    assert any(p.startswith("helpers.core.labels:") for p in problems), problems


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
    _append(
        copy / "records" / "runs.py", '\n\ndef leak(p):\n    os.environ["EOSR_RUN_DIR"] = str(p)\n'
    )
    problems = check_environ(copy)
    assert any("helpers.records.runs:" in p and "(leak)" in p for p in problems), problems


def test_a_module_loaded_by_name_is_caught(copy):
    assert loads_by_name("import importlib.util\nimportlib.util.find_spec('papermill')\n") == []
    assert loads_by_name("from importlib import import_module as im\n") == [1]
    _append(
        copy / "data" / "manifest.py",
        "\n\ndef build(m):\n    import importlib\n    return importlib.import_module(m)\n",
    )
    problems = check_loads_by_name(copy)
    assert any("helpers.data.manifest:" in p and "by name" in p for p in problems), problems


def test_a_second_recipe_outside_recipes_is_caught(copy):
    unet = (
        "\n\ndef retrain(patches):\n    from .models.unet import UNet\n\n"
        "    model = UNet(4, 8)\n    return train.fit(model, patches, None, 1)\n"
    )
    ntl = "\n\ndef again(loader):\n    m = ntl_sr.build(width=4)\n    return fit(m, loader, None, 1)\n"
    _append(copy / "training" / "transfer.py", unet)
    _append(copy / "apps" / "jobs.py", ntl)
    _append(
        copy / "training" / "recipes" / "night_lights.py", ntl
    )  # inside recipes/: the recipe itself
    problems = check_one_recipe(copy)
    assert any("helpers.training.transfer:" in p and "(retrain)" in p for p in problems), problems
    assert any("helpers.apps.jobs:" in p and "(again)" in p for p in problems), problems
    assert not any("training.recipes" in p.partition(" ")[0] for p in problems), problems
    sklearn = "def ok(x):\n    m = UNet(4, 8)\n    return forest.fit(x)\n"
    assert trainings(sklearn) == []  # a scikit-learn fit is not the training loop


def test_a_tool_importing_an_unplaced_module_and_an_import_of_a_tool_are_caught(copy, tmp_path):
    tools = tmp_path / "tools"
    shutil.copytree(TOOLS, tools, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "newtopic.py").write_text("X = 1\n", encoding="utf-8")
    (tools / "planted.py").write_text("from helpers import newtopic\n", encoding="utf-8")
    _append(copy / "core" / "config.py", "\n\ndef late():\n    import nbkit\n")
    problems = check_tools(tools, copy)
    assert any("planted.py imports helpers.newtopic" in p for p in problems), problems
    assert any("helpers.core.config imports ['nbkit']" in p for p in problems), problems


def test_a_second_sampler_a_flip_rotate_and_an_ntl_reader_are_caught(copy):
    before = set(check_one_sampler(copy)) | set(check_one_ntl_reader(copy))
    _append(
        copy / "data" / "crops.py",
        "\n\ndef _augment(arrays, rng):\n    k = int(rng.integers(4))\n"
        "    return {n: np.flip(np.rot90(a, k), -1) for n, a in arrays.items()}\n",
    )
    _append(
        copy / "data" / "datasets" / "scene.py",
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
        copy / "data" / "ntl.py",
        "\n\ndef read_layout_patch(root, split, patch_id):\n"
        '    bands = {"lr_ntl": 1, "hr_ntl": 1, "dmo": 7, "dem": 1, "isp": 1}\n'
        "    return bands\n",
    )
    problems = sorted(set(check_one_ntl_reader(copy)) - before)
    assert any("ntl.read_layout_patch: a second NTL layout reader" in p for p in problems)
    assert any("helpers.data.ntl:" in p and "retypes the NTL layers" in p for p in problems), (
        problems
    )


def test_a_module_outside_its_layers_subpackage_is_caught(copy):
    assert check_placement(copy) == []
    (copy / "newtopic.py").write_text("X = 1\n", encoding="utf-8")
    problems = check_placement(copy)
    assert any("helpers.newtopic sits outside the layer sub-packages" in p for p in problems)
    (copy / "core" / "fancy.py").write_text("X = 1\n", encoding="utf-8")
    problems = check_placement(copy, {**LAYERS, "core.fancy": 2})
    assert any(
        "helpers.core.fancy is declared layer 2" in p and "helpers.data" in p for p in problems
    )
    shutil.rmtree(copy / "views")
    assert any("helpers.views (layer 6) has no" in p for p in check_placement(copy))


def test_a_reader_outside_datasets_and_a_reexport_shim_are_caught(copy):
    assert check_readers_in_datasets(copy) == []
    _append(
        copy / "data" / "scene_grid.py",
        "\n\nclass Tiles(torch.utils.data.IterableDataset):\n    pass\n",
    )
    (copy / "data" / "streaming.py").write_text(
        '"""Old name."""\n\nfrom __future__ import annotations\n\n'
        "from .datasets.streaming import *  # noqa: F403\n\n__all__ = ['Streaming']\n",
        encoding="utf-8",
    )
    _append(copy / "data" / "crops.py", "\n\nclass More(Dataset):\n    pass\n")  # exempt
    problems = check_readers_in_datasets(copy)
    assert any("helpers.data.scene_grid.Tiles is a reader outside" in p for p in problems), problems
    assert any("helpers.data.streaming only re-exports" in p for p in problems), problems
    assert not any("crops" in p for p in problems), problems
