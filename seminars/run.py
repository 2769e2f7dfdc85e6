"""Execute the seminar notebooks top to bottom and report how long each took: ``python -m seminars.run``.

Runs the instructor versions (``seminars/source/NN_topic.ipynb``, which hold the exercise solutions)
in a fresh kernel each, on a CPU, and writes the executed copies with their outputs and figures to
``out/seminars/``. The committed notebooks stay without outputs. Exits 1 if any cell of any
notebook fails, and prints that cell's error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.homework import REPO_ROOT
from autograder.release import seminar_sources

OUT = REPO_ROOT / "out" / "seminars"


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a new kernel; raise CellExecutionError on the first error."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not the kernel's warning about its local TCP transport
    )
    client.execute()
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seminars.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="seminar numbers or names to run (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default: 600)")
    args = parser.parse_args(argv)
    sources = [p for p in seminar_sources() if not args.only or any(p.stem == o or p.stem[:2] == o.zfill(2) for o in args.only)]
    if not sources:
        parser.exit(2, f"no seminar matches {args.only}; have: {', '.join(p.stem for p in seminar_sources())}\n")
    OUT.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in sources:
        started = time.perf_counter()
        try:
            notebook = execute(path, args.timeout)
        except CellExecutionError as error:
            print(f"FAILED {path.name}:\n{error}", file=sys.stderr)
            failed.append(path.name)
            continue
        nbformat.write(notebook, OUT / path.name)
        print(f"{path.stem:32s} {time.perf_counter() - started:6.1f} s  -> {(OUT / path.name).relative_to(REPO_ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
