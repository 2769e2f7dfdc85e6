"""The reference solution of a homework, executed from the instructor's source notebook (no copy of it lives
in the benchmarks): ``reference_namespace("hw3").VQVAE``."""

from __future__ import annotations

import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.homework import find_homework  # noqa: E402
from autograder.notebook import build_program, read_notebook  # noqa: E402
from autograder.worker import execute_program  # noqa: E402


def reference_namespace(key: str) -> types.SimpleNamespace:
    """Every name the reference notebook of homework ``key`` defines (its setup and answer cells, executed)."""
    homework = find_homework(key)
    source = read_notebook(homework.source_notebook)
    return execute_program(build_program(source, read_notebook(homework.release_notebook), source), f"{key}_reference")
