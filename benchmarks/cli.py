"""Command lines of the benchmark modules: every ``python -m
benchmarks.<name> --help`` prints the module's whole docstring as its
description and writes nothing."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Tuple


def parser(doc: Optional[str], **kwargs) -> argparse.ArgumentParser:
    """An :class:`argparse.ArgumentParser` whose description is all of
    :obj:`doc` (a module docstring), laid out as written."""
    return argparse.ArgumentParser(
        description=(doc or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def library(doc: Optional[str], name: str,
            argv: Optional[List[str]] = None) -> None:
    """The command line of a module that is imported, not run: ``--help``
    (and any other call) prints what it is, and nothing else happens."""
    p = parser(doc, prog=f"python -m {name}",
               epilog="This module is imported by the benchmark commands "
               "and has nothing to run; see python -m "
               "benchmarks.reproduce --help.")
    p.parse_args(sys.argv[1:] if argv is None else argv)
    p.print_help()


def shard_spec(text: str) -> Tuple[int, int]:
    """Parses ``"I/N"`` (shard ``I`` of ``N``, 0-based) for ``--shard``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        index, count = -1, 0
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 0 <= I < N, e.g. 0/2 and 1/2 for two "
            f"runners; got {text!r}")
    return index, count


def add_shard_option(parser: argparse.ArgumentParser, shared: str) -> None:
    """``--shard I/N``: this runner takes every N-th configuration from the
    I-th, so N runners share :obj:`shared` (e.g. "an experiment")."""
    parser.add_argument("--shard", type=shard_spec, default=(0, 1),
                        metavar="I/N",
                        help="run every N-th configuration from the I-th "
                        f"(0-based), so N runners share {shared}")


if __name__ == "__main__":
    library(__doc__, "benchmarks.cli")
