"""Command lines of the benchmark modules: every ``python -m
benchmarks.<name> --help`` prints the module's whole docstring as its
description and writes nothing."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


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


if __name__ == "__main__":
    library(__doc__, "benchmarks.cli")
