"""The ``eosr`` command: ``sample``, ``fetch``, ``train``, ``reproduce``, ``bench``, ``lab``, ``test``.

Each sub-command is a thin wrapper around a helper function, so that what the command does can
also be done from a notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ..core import config

KINDS = ("unet", "label_sr", "pix2pix", "cgan", "ntl_sr")  # eosr train (helpers.apps.jobs.KINDS)
# eosr train --steps only (helpers.apps.long_run.TRAINERS): notebook 04's naive U-Net and its 30 m
# models, notebook 05's softmax-image pix2pix and the paper's cGAN generator
LONG_ONLY = ("naive_unet", "label_sr_x3", "naive_unet_x3", "pix2pix_softmax", "cgan_plain")


class CliError(RuntimeError):
    """An error the command reports as one message (exit status 2)."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (``--batch-size 0`` is refused, not ignored)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: seconds >= 0 (0 means no cap; ``--time-cap -1`` is refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (no cap) or more seconds, got {text}")
    return value


def _cmd_sample(args: argparse.Namespace) -> int:
    from ..data import synthetic

    paths = synthetic.ensure_sample(
        profile=args.profile, seed=args.seed, force=args.force, verbose=True
    )
    missing = synthetic.missing_files(paths.root)
    if missing:  # verified against sample.json's file list before saying "ready"
        raise CliError(
            f"{paths.root}: {len(missing)} file(s) of the sample scene missing or changed after "
            f"building, e.g. {missing[:3]}. Run `eosr sample --force`; if it repeats, check the disk."
        )
    print(
        f"sample scene ready under {paths.root} ({len(json.loads((paths.root / 'sample.json').read_text())['files'])} files checked)"
    )
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from ..data import manifest, sources

    if args.list or not args.name:
        for entry in manifest.entries():
            print(f"{entry['id']:<22} {entry.get('obtain', '')}")
        return 0
    path = sources.fetch(args.name)
    print(f"{args.name}: {path}")
    return 0


REPRODUCE_NEEDS = (
    "eosr reproduce executes the notebooks with papermill, a developer tool that the kit's "
    "runtime install (and Colab) leaves out. Install it with `pip install papermill` or install "
    'the kit with its dev extra: `pip install -e ".[dev]"` (`make reproduce` does this).'
)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("papermill") is None:
        print(REPRODUCE_NEEDS, file=sys.stderr)
        return 2

    from ..records import reproduce, results

    try:
        run = reproduce.reproduce(
            profile=args.profile, notebooks=args.notebooks or None, timeout=args.timeout
        )
    except reproduce.Interrupted as err:
        print(f"eosr reproduce: {err}", file=sys.stderr)
        return 130
    print(f"report: {run / 'report.html'}")
    failed = [r for r in results.load_notebook_log(run) if r.get("status") != "ok"]
    return 1 if failed else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from . import jobs

    if args.steps is not None:
        return _long_run(args)
    if args.kind in LONG_ONLY:
        raise CliError(
            f"{args.kind} trains as a long run only: give --steps N (its notebook trains it)"
        )
    if args.history_every is not None or args.history_to is not None:
        raise CliError("--history-every and --history-to go with --steps (a long run)")

    rec = jobs.run(
        args.kind,
        profile=args.profile,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        out=args.out,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        time_cap_s=args.time_cap,
        amp=args.precision != "fp32",
        deterministic=args.deterministic,
        backend=args.backend,
    )
    if rec:  # rank 0
        scores = {k: round(v, 4) for k, v in rec["metrics"].items() if isinstance(v, float)}
        print(f"eosr train {args.kind}: {rec['notes']}; {scores}; checkpoint {rec['checkpoint']}")
    return 0


def _long_run(args: argparse.Namespace) -> int:
    """``eosr train KIND --steps N``: the profile's recipe for N steps, its history kept
    (``helpers.apps.long_run``); settings other than the steps are the profile's."""
    from . import long_run

    fixed = {"--epochs": args.epochs, "--batch-size": args.batch_size, "--time-cap": args.time_cap}
    given = [name for name, value in fixed.items() if value is not None]
    if given:
        raise CliError(
            f"--steps runs the profile's recipe as it is; drop {', '.join(given)} (a long run "
            "changes the steps only, so it stays comparable with the notebook's run)."
        )
    every = args.history_every or max(1, args.steps // 100)
    path = long_run.run(
        args.kind, args.steps, every, profile=args.profile, data=args.data, out=args.out,
        seed=args.seed, history_to=args.history_to,
    )  # fmt: skip
    print(f"eosr train {args.kind} --steps {args.steps}: history {path}")
    return 0


TOOLS = {"lab": ("jupyterlab", "JupyterLab"), "test": ("pytest", "pytest")}


def tool_command(name: str, extra: Sequence[str] = ()) -> list[str]:
    """The command ``eosr lab`` / ``eosr test`` runs: this interpreter's JupyterLab on notebooks/,
    or its pytest on the kit's tests (what ``make lab`` / ``make test`` run, without make or a
    ``.venv/bin`` path, so it works the same on Windows and macOS)."""
    module = TOOLS[name][0]
    if name == "lab":
        return [sys.executable, "-m", module, str(config.repo_root() / "notebooks"), *extra]
    return [sys.executable, "-m", module, *extra]


def _cmd_tool(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    module, label = TOOLS[args.command]
    if importlib.util.find_spec(module) is None:
        raise CliError(
            f"{label} is a developer tool the runtime install leaves out; install the kit with its "
            'dev extra: `python -m pip install -e ".[dev,earthengine]"` in the kit\'s folder.'
        )
    extra = [a for a in args.extra if a != "--"]
    return subprocess.call(tool_command(args.command, extra), cwd=config.repo_root())


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.main(profile=args.profile, only=args.only)


def _long_run_options(parser: argparse.ArgumentParser) -> None:
    """``eosr train``'s long-run options (``helpers.apps.long_run``)."""
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="a long run: the profile's recipe for this many optimisation steps (whole epochs), "
        "its history (loss, held-out validation metric) written as a long-run file",
    )
    parser.add_argument(
        "--history-every",
        type=positive_int,
        default=None,
        help="with --steps: validate every ~K steps (default steps / 100)",
    )
    parser.add_argument(
        "--history-to",
        default=None,
        help="with --steps: where the history goes (default <run folder>/long/<kind>/history.json)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``eosr`` (exposed for tests and ``--help``)."""
    parser = argparse.ArgumentParser(prog="eosr", description="EO-SR Kit command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write the built-in sample scene under $EOSR_DATA/sample/")
    p.add_argument("--profile", choices=config.PROFILE_NAMES, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="re-create even if it is up to date")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("fetch", help="download a data source from data_manifest.yaml")
    p.add_argument("name", nargs="?", help="source id (see --list)")
    p.add_argument("--list", action="store_true", help="list the sources and how each is obtained")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser(
        "train",
        help="train a notebook's model headless (also under torchrun on several GPUs/processes)",
    )
    p.add_argument(
        "kind",
        choices=KINDS + LONG_ONLY,
        help="unet (03), label_sr (04), pix2pix, cgan (05), ntl_sr (08); with --steps also "
        "naive_unet (04's naive U-Net; label_sr and naive_unet at 04's 500 m -> 10 m ratio), "
        "label_sr_x3 / naive_unet_x3 (04 at 30 m -> 10 m), pix2pix_softmax (05's softmax image) "
        "and cgan_plain (05's cGAN with the paper's generator)",
    )
    p.add_argument("--profile", choices=config.PROFILE_NAMES, default=None)
    p.add_argument("--data", default=None, help="data folder (default $EOSR_DATA)")
    p.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help="global batch (split over ranks)"
    )
    p.add_argument("--out", default=None, help="run folder (reused: its checkpoint is resumed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--time-cap",
        type=non_negative_float,
        default=None,
        help="safety cap in s (default the profile's; 0: none)",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32"),
        default="auto",
        help="auto: AMP on CUDA (bf16 from capability 8.0, else fp16); fp32: exact fp32",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms (slower on CUDA); default: cuDNN's fastest kernels",
    )
    p.add_argument(
        "--backend",
        choices=("nccl", "gloo"),
        default=None,
        help="torchrun process group (default: nccl if each rank has a GPU, else gloo)",
    )
    _long_run_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "reproduce", help="run every notebook into a new run folder and write a report"
    )
    p.add_argument("--profile", choices=config.PROFILE_NAMES, default=None)
    p.add_argument("--timeout", type=int, default=1800, help="seconds per notebook")
    p.add_argument("notebooks", nargs="*", help="only these notebooks (default: all, in order)")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser("bench", help="measure readers, training, tiled inference, notebooks")
    p.add_argument("--profile", choices=config.PROFILE_NAMES, default=None)
    p.add_argument("--only", nargs="*", default=None, help="only these benchmark groups")
    p.set_defaults(func=_cmd_bench)

    for name, text in (("lab", "open JupyterLab on notebooks/"), ("test", "run the test suite")):
        p = sub.add_parser(name, help=f"{text} (make {name} without make)")
        p.add_argument("extra", nargs=argparse.REMAINDER, help=f"passed on to {TOOLS[name][1]}")
        p.set_defaults(func=_cmd_tool)
    return parser


def _message(err: BaseException) -> str:
    """One line for an error: its message (KeyError's repr quotes stripped), no traceback."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(str(text).split()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eosr`` console script.

    Errors are printed as one message on stderr and exit with status 2 (as argparse does for bad
    arguments); ``EOSR_DEBUG=1`` shows the traceback instead. The profile is resolved here once
    (``--profile``, else ``EOSR_PROFILE``, else the default) and passed down as an argument;
    nothing is written into the environment.
    """
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "profile"):
            args.profile = config.get_profile(args.profile)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"eosr {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("EOSR_DEBUG"):
            raise
        print(f"eosr {args.command}: error: {_message(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # a torchrun rank (`python -m helpers.apps.cli`): its files are written and its process
        # group is gone; skip the C++ teardown, where gloo's threads still aborted a finished
        # rank now and then ("terminate called without an active exception", SIGABRT)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
