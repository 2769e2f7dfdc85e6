"""What instructors publish and what students install from it.

The instructor's ``make release`` runs on a copy of this checkout with every homework (without grading
the references, which other tests do). Then the student recipe of the bundle's README runs as
written, in a fresh virtual environment built from the released artefacts only, and the hw1
release notebook executes top to bottom with ``jupyter nbconvert --execute``: blank (only the
stubs may fail) and with a student's answers filled in (every self-check passes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import HW1, derive_submission

from autograder.homework import REPO_ROOT, all_homeworks
from autograder.notebook import nbgrader_meta, read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="student_setup")]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A copy of this checkout (tracked and new files) in which ``make release`` ran, and its output."""
    course = tmp_path_factory.mktemp("checkout") / "course"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO_ROOT / name).is_file():
            (course / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, course / name)
    # The course environment this test runs in stands in for `make env` (`-o`: take it as built). Grading each
    # reference is left out (RELEASE_ARGS=--no-verify): test_references.py grades every reference, and test_release.py
    # grades two homeworks in one process as `make release` does.
    (course / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    done = subprocess.run(["make", "-o", ".venv/.installed", "release", "RELEASE_ARGS=--no-verify"], cwd=course,
                          capture_output=True, text=True, timeout=1800)
    return course, done


def test_make_release_releases_every_homework(released):
    course, done = released
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for homework in all_homeworks():
        assert f"{homework.name}: wrote" in done.stdout
        released_notebook = course / homework.release_notebook.relative_to(REPO_ROOT)
        assert released_notebook.read_text() == homework.release_notebook.read_text(), "run `make release` and commit"
    dist = course / "dist"
    (wheel,) = dist.glob("dgm_course-*-py3-none-any.whl")
    assert (dist / "student-bundle" / wheel.name).is_file()
    assert f"student-bundle/{wheel.name}" in zipfile.ZipFile(dist / "student-bundle.zip").namelist()


def _fresh_environment() -> dict[str, str]:
    """This process's environment without what points at the course environment or steers Python, Jupyter or dgm."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "DGM_", "JUPYTER"))}


@pytest.fixture(scope="module")
def student(released, tmp_path_factory) -> tuple[Path, Path]:
    """The published zip unpacked on a 'fresh machine' and the README's laptop recipe run as written: (bundle, venv)."""
    course, done = released
    assert done.returncode == 0, "make release failed (see test_make_release_releases_every_homework)"
    machine = tmp_path_factory.mktemp("laptop")
    shutil.unpack_archive(course / "dist" / "student-bundle.zip", machine)
    bundle = machine / "student-bundle"
    readme = (bundle / "README.md").read_text()
    block = readme.split("On a laptop, once, in this folder:")[1].split("\n\n")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands[-1] == "jupyter lab", "the recipe ends by starting Jupyter"
    script = " && ".join(c for c in commands[:-1] if c)
    environment = _fresh_environment()
    environment["PATH"] = os.pathsep.join(p for p in environment["PATH"].split(os.pathsep) if not p.startswith(sys.prefix))
    installed = subprocess.run(["bash", "-c", script], cwd=bundle, env=environment, capture_output=True, text=True, timeout=1800)
    assert installed.returncode == 0, f"{script}\n{installed.stdout[-2000:]}\n{installed.stderr[-3000:]}"
    return bundle, bundle / ".venv"


def _execute(notebook: Path, venv: Path, tmp_path: Path, allow_errors: bool) -> nbformat.NotebookNode:
    """``jupyter nbconvert --execute`` with the fresh environment only, far from this repository; the executed notebook."""
    document = nbformat.read(notebook, as_version=4)
    document.cells.insert(0, nbformat.v4.new_code_cell("import sys, dgm, dgm.data\nprint('ENV', sys.prefix, dgm.__file__, dgm.data.data_dir())"))
    nbformat.write(document, notebook)
    environment = _fresh_environment() | {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(tmp_path),
                    "XDG_CACHE_HOME": str(tmp_path / "cache"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter")}
    command = [str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
               "--ExecutePreprocessor.timeout=900", str(notebook), *(["--allow-errors"] if allow_errors else [])]
    done = subprocess.run(command, cwd=notebook.parent, env=environment, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    executed = nbformat.read(notebook.parent / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    prefix, library, data = re.search(r"ENV (\S+) (\S+) (\S+)", printed).groups()
    assert Path(prefix) == venv and Path(library).is_relative_to(venv), f"ran outside the fresh environment: {printed}"
    assert Path(data) == tmp_path / "cache" / "dgm-course", f"an installed library keeps data in the user's cache, not {data}"
    return executed


def test_blank_release_notebook_runs_and_only_the_stubs_fail(student, tmp_path):
    bundle, venv = student
    notebook = bundle / "homeworks" / HW1.name / f"{HW1.name}.ipynb"
    executed = _execute(shutil.copy(notebook, tmp_path / notebook.name), venv, tmp_path, allow_errors=True)
    errors = [o.ename for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and set(errors) <= {"NotImplementedError", "NameError"}, errors


def test_student_recipe_runs_hw1_top_to_bottom(student, tmp_path):
    bundle, venv = student
    answers = {nbgrader_meta(c)["grade_id"]: re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n", "", c.source)
               for c in read_notebook(HW1.source_notebook).cells if nbgrader_meta(c).get("solution") and c.cell_type == "code"}
    notebook = derive_submission(bundle / "homeworks" / HW1.name / f"{HW1.name}.ipynb", tmp_path / f"{HW1.name}.ipynb",
                                 {grade_id: (lambda _, answer=answer: answer) for grade_id, answer in answers.items()})
    executed = _execute(notebook, venv, tmp_path, allow_errors=False)  # no cell raised: every self-check passed
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "passes the self-check" in printed and "classes covered" in printed, printed[-3000:]
