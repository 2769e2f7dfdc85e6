"""Source notebooks run top to bottom on the quick profile (the reference trains and passes its self-checks).

hw1 is left out: test_student_setup.py executes its release notebook with the reference answers filled
in, in a fresh environment built from the released wheel, which runs the same cells.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.homework import all_homeworks


@pytest.mark.slow
@pytest.mark.parametrize("homework", [h for h in all_homeworks() if h.key != "hw1"], ids=lambda h: h.key)
def test_source_notebook_executes(homework, monkeypatch):
    monkeypatch.setenv("DGM_PROFILE", "quick")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(homework.source_notebook, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(homework.source_notebook.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "passes the self-check" in printed
