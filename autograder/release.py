"""Releasing homeworks: validate the source, prove the reference passes, generate the student side.

``make release`` (``python -m autograder release``) takes every homework through steps 1-3, then
builds what students get (step 4):

1. :func:`validate` checks the source notebook against its hidden checks (every autograded cell has
   exactly one ``test_<grade_id>``, ids are unique, the points add up to the homework's 15);
2. the reference solution is graded on the quick profile and must get full automatic marks, so a
   release whose reference fails cannot be produced;
3. ``nbgrader generate_assignment`` writes ``release/<hw>/<hw>.ipynb`` (solutions replaced by stubs,
   theory answers by "YOUR ANSWER HERE");
4. :func:`build_bundle` writes what instructors publish, into ``dist/``: the course library's wheel
   ``dgm_course-<version>-py3-none-any.whl`` and the student bundle ``student-bundle/`` (release
   notebooks, student seminars, the wheel, a README with the install recipe), zipped as
   ``student-bundle.zip``; nothing else: no source, no hidden checks, no thresholds.

Seminars follow the same single-source rule with less machinery: ``seminars/source/NN_topic.ipynb``
is the instructor version, and :func:`release_seminar` writes the student version
``seminars/NN_topic.ipynb`` with every ``### BEGIN SOLUTION`` region replaced by a stub.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearOutput, ClearSolutions

from .homework import REPO_ROOT, Homework
from .notebook import grade_cells, nbgrader_meta, read_notebook

POINTS_PER_HOMEWORK = 15.0
DIST_DIR = REPO_ROOT / "dist"
BUNDLE_DIR = DIST_DIR / "student-bundle"
SEMINARS_DIR = REPO_ROOT / "seminars"


class ReleaseError(Exception):
    """The homework's source is not fit for release; the message says why."""


def validate(homework: Homework) -> None:
    """Check the source notebook and its hidden checks against each other (see module doc)."""
    source = read_notebook(homework.source_notebook)
    problems = []
    ids = [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade_id")]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate grade_id: {', '.join(duplicates)}")
    cells = grade_cells(source)
    total = sum(c.points for c in cells)
    if total != POINTS_PER_HOMEWORK:
        problems.append(f"points add up to {total:g}, not {POINTS_PER_HOMEWORK:g}")
    tests = {
        node.name.removeprefix("test_")
        for node in ast.parse(homework.checks.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    autograded = {c.grade_id for c in cells if c.autograded}
    if autograded - tests:
        problems.append(f"autograded cells without a check in {homework.checks.name}: {', '.join(sorted(autograded - tests))}")
    if tests - autograded:
        problems.append(f"checks without an autograded cell: {', '.join(sorted(tests - autograded))}")
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and "### BEGIN SOLUTION" not in cell.source:
            problems.append(f"answer cell {meta['grade_id']} has no ### BEGIN SOLUTION region")
    if problems:
        raise ReleaseError(f"{homework.name}: " + "; ".join(problems))


def generate(homework: Homework, course_dir: Path) -> Path:
    """Run ``nbgrader generate_assignment`` for ``homework`` into ``course_dir/release``; return the notebook."""
    with tempfile.TemporaryDirectory(prefix="dgm-release-") as tmp:
        work = Path(tmp)
        shutil.copy(homework.course_dir / "nbgrader_config.py", work)
        shutil.copytree(homework.source_notebook.parent, work / "source" / homework.name, ignore=shutil.ignore_patterns("grading", "__pycache__", ".ipynb_checkpoints"))
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", homework.name, "--force", "--no-db", "--log-level=WARN"],
            cwd=work, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment failed for {homework.name}:\n{done.stderr[-3000:]}")
        target = course_dir / "release" / homework.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(work / "release" / homework.name, target)
    return target / f"{homework.name}.ipynb"


def seminar_sources() -> list[Path]:
    """Instructor versions of the seminars, ``seminars/source/NN_topic.ipynb``, in course order."""
    return sorted((SEMINARS_DIR / "source").glob("[0-9][0-9]_*.ipynb"))


def student_seminar(source: Path) -> str:
    """The student version of a seminar, as notebook JSON: solutions replaced by stubs, no outputs."""
    notebook = read_notebook(source)
    ClearSolutions(enforce_metadata=False).preprocess(notebook, {})
    ClearOutput().preprocess(notebook, {})
    return nbformat.writes(notebook) + "\n"


def release_seminar(source: Path) -> Path:
    """Write the student version of the seminar ``source`` to ``seminars/<name>.ipynb``."""
    target = SEMINARS_DIR / source.name
    target.write_text(student_seminar(source))
    return target


def build_wheel(dist: Path = DIST_DIR) -> Path:
    """Build the course library's wheel (``dgm`` and its feature-extractor weights) into ``dist``; return it."""
    with tempfile.TemporaryDirectory(prefix="dgm-wheel-") as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", tmp, str(REPO_ROOT)],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise ReleaseError(f"building the course library's wheel failed:\n{done.stderr[-3000:]}")
        (built,) = Path(tmp).glob("dgm_course-*.whl")
        dist.mkdir(parents=True, exist_ok=True)
        for old in dist.glob("dgm_course-*.whl"):
            old.unlink()
        return Path(shutil.copy(built, dist))


def build_bundle(homeworks: list[Homework], bundle: Path = BUNDLE_DIR) -> Path:
    """Assemble the student bundle beside the course library's wheel, and zip it.

    ``bundle`` gets the release notebooks, the student seminars, the wheel and a README saying how to
    install it; ``bundle.zip`` beside it is what instructors publish. Nothing else: no source, no
    hidden checks, no thresholds.
    """
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "homeworks").mkdir(parents=True)
    for homework in homeworks:
        shutil.copytree(homework.release_notebook.parent, bundle / "homeworks" / homework.name)
    (bundle / "seminars").mkdir()
    for source in seminar_sources():
        shutil.copy(SEMINARS_DIR / source.name, bundle / "seminars")
    wheel = build_wheel(bundle.parent)
    shutil.copy(wheel, bundle)
    (bundle / "README.md").write_text(STUDENT_README.format(wheel=wheel.name))
    shutil.make_archive(str(bundle), "zip", root_dir=bundle.parent, base_dir=bundle.name)
    return bundle


STUDENT_README = """\
# Deep Generative Models: student bundle

Homework and seminar notebooks, and the course library `dgm` (data loaders, training loop, plots)
as a wheel. You need Python 3.10 or newer.

On a laptop, once, in this folder:

    python3 -m venv .venv
    source .venv/bin/activate                      # Windows: .venv\\Scripts\\activate
    pip install "./{wheel}[student]"
    jupyter lab                                    # open homeworks/hwN_*/hwN_*.ipynb or seminars/NN_*.ipynb

The `student` extra adds JupyterLab, ipykernel and ipywidgets; PyTorch comes from PyPI (CPU is enough).

On Colab: upload `{wheel}` and the notebook, then run `!pip install {wheel}` in the
notebook's first cell (Colab has Jupyter and PyTorch already).

Fill in the cells marked `YOUR CODE HERE` / `YOUR ANSWER HERE`, run the self-check cells, and submit
the `.ipynb` file. The notebooks run on a laptop CPU with the embedded 8x8 digits. MNIST and
Fashion-MNIST (`DGM_PROFILE=full`) are downloaded on first use into `~/.cache/dgm-course`, or read
from the folder `DGM_DATA` names.
"""
