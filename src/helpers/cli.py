"""The ``eosr`` command: ``sample``, ``fetch``, ``reproduce``, ``bench``.

Each sub-command is a thin wrapper around a helper function, so that what the command does can
also be done from a notebook.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import config


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import synthetic

    paths = synthetic.ensure_sample(
        profile=args.profile, seed=args.seed, force=args.force, verbose=True
    )
    print(f"sample scene ready under {paths.root}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from . import manifest

    if args.list or not args.name:
        for entry in manifest.entries():
            print(f"{entry['id']:<22} {entry.get('obtain', '')}")
        return 0
    try:
        path = manifest.fetch(args.name)
    except (manifest.ManualDownloadRequired, manifest.ChecksumError) as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{args.name}: {path}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from . import reproduce, results

    run = reproduce.reproduce(
        profile=args.profile, notebooks=args.notebooks or None, timeout=args.timeout
    )
    print(f"report: {run / 'report.html'}")
    failed = [r for r in results.load_notebook_log(run) if r.get("status") != "ok"]
    return 1 if failed else 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.main(profile=args.profile, only=args.only)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eosr`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "profile", None):
        import os

        os.environ["EOSR_PROFILE"] = args.profile
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
