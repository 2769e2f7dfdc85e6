"""Release: the committed student notebooks are what the source generates, and nothing secret ships."""

from __future__ import annotations

import json
import re
import shutil
import zipfile

import pytest
from helpers import HW1

from autograder import release
from autograder.homework import REPO_ROOT, all_homeworks
from autograder.notebook import read_notebook

HOMEWORKS = all_homeworks()


@pytest.mark.parametrize("homework", HOMEWORKS, ids=lambda h: h.key)
def test_source_is_consistent_with_its_checks(homework):
    release.validate(homework)


def test_validate_refuses_a_check_without_a_cell(tmp_path, monkeypatch):
    checks = tmp_path / "test_checks.py"
    checks.write_text(HW1.checks.read_text() + "\n\ndef test_orphan(submission):\n    pass\n")
    monkeypatch.setattr(type(HW1), "checks", property(lambda self: checks))
    with pytest.raises(release.ReleaseError, match="checks without an autograded cell: orphan"):
        release.validate(HW1)


@pytest.mark.parametrize("homework", HOMEWORKS, ids=lambda h: h.key)
def test_committed_release_is_what_the_source_generates(homework, tmp_path):
    generated = release.generate(homework, tmp_path)
    assert generated.read_text() == homework.release_notebook.read_text(), (
        f"{homework.release_notebook} drifted from its source: run `make release` and commit the result"
    )


def _secrets() -> list[str]:
    """Lines that must never reach students: solution code (homeworks and seminar exercises), theory answers, hidden checks and probes.

    Imports and comments are left out (not secret, and they recur everywhere), and so are lines
    that are public by design: those of the course library and those any source notebook shows
    outside its solution regions.
    """
    solution = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
    sources = [homework.source_notebook for homework in HOMEWORKS] + release.seminar_sources()
    cells = [cell.source for source in sources for cell in read_notebook(source).cells]
    public = {line.strip() for path in (REPO_ROOT / "dgm").rglob("*.py") for line in path.read_text().splitlines()}
    public |= {line.strip() for source in cells for line in solution.sub("", source).splitlines()}
    secrets = [line.strip() for source in cells for region in solution.findall(source) for line in region.splitlines() if len(line.strip()) >= 20]
    for homework in HOMEWORKS:
        for path in homework.grading_dir.glob("*"):
            if path.is_file():
                secrets += [line.strip() for line in path.read_text().splitlines() if len(line.strip()) >= 30]
    return [line for line in secrets if line not in public and not line.startswith(("import ", "from ", "#"))]


def _texts(bundle):
    """(name, text) of every file of the bundle and of every member of the archives in it (the wheel)."""
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        name = path.relative_to(bundle).as_posix()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{name}/{member}", archive.read(member).decode(errors="ignore")
        else:
            yield name, path.read_text(errors="ignore")


def _leaks(bundle) -> dict[str, list[str]]:
    """Secret lines found in each file of the bundle (notebooks are read cell by cell, archives member by member)."""
    secrets, found = _secrets(), {}
    assert len(secrets) > 50, "the leak test must have something to look for"
    for name, text in _texts(bundle):
        if name.endswith(".ipynb"):
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        leaked = [line for line in secrets if line in text]
        if leaked:
            found[name] = leaked
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return release.build_bundle(HOMEWORKS, tmp_path_factory.mktemp("dist") / "student-bundle")


def test_student_bundle_has_no_solutions_and_no_hidden_tests(bundle):
    names = {name for name, _ in _texts(bundle)}
    wheel = next(bundle.glob("dgm_course-*-py3-none-any.whl")).name
    assert {"README.md", "homeworks/hw1_pixelcnn/hw1_pixelcnn.ipynb", f"{wheel}/dgm/data.py", f"{wheel}/dgm/weights/digits.pt"} <= names
    assert {f"seminars/{source.name}" for source in release.seminar_sources()} <= names
    assert not [n for n in names if "grading" in n or "source" in n or n.endswith("thresholds.json") or "autograder" in n]
    assert f'pip install "./{wheel}[student]"' in (bundle / "README.md").read_text()
    with zipfile.ZipFile(bundle.parent / "student-bundle.zip") as archive:
        assert sorted(n for n in archive.namelist() if not n.endswith("/")) == sorted(f"student-bundle/{p.relative_to(bundle).as_posix()}" for p in bundle.rglob("*") if p.is_file())
    assert _leaks(bundle) == {}


def test_leak_scan_finds_a_planted_solution_and_check(bundle, tmp_path):
    planted = shutil.copytree(bundle, tmp_path / "bundle")
    shutil.copy(HW1.source_notebook, planted / "homeworks" / "leaked_source.ipynb")
    wheel = next(planted.glob("dgm_course-*.whl"))
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.write(HW1.checks, "dgm/leaked_checks.py")
    shutil.copy(release.seminar_sources()[0], planted / "seminars" / "leaked_seminar.ipynb")
    assert set(_leaks(planted)) == {"homeworks/leaked_source.ipynb", f"{wheel.name}/dgm/leaked_checks.py", "seminars/leaked_seminar.ipynb"}


def test_release_has_stubs_and_keeps_visible_tests():
    text = HW1.release_notebook.read_text()
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text
    assert "MaskedConv2d passes the self-check." in text
    assert "BEGIN SOLUTION" not in text


def test_release_notebooks_are_committed_for_every_source():
    for homework in HOMEWORKS:
        assert homework.release_notebook.exists(), f"run `make release`: {homework.release_notebook} is missing"
    assert (REPO_ROOT / "homeworks" / "nbgrader_config.py").exists()


@pytest.mark.slow
def test_grading_homeworks_one_after_another_in_one_process_keeps_their_checks_apart():
    """`make release` grades every reference in one process: each homework's checks must run as its own module
    (a shared module name once made the second homework's checks vanish). Blank notebooks are enough to show it."""
    from autograder.harness import grade
    from autograder.homework import find_homework

    for key in ("hw1", "hw4"):
        homework = find_homework(key)
        result, _ = grade(homework, homework.release_notebook, "blank", "quick")
        lost = [c["id"] for c in result["checks"] if "grader has no check" in c["message"]]
        assert result["checks"] and not lost, f"{key}: the grader lost the checks {lost}"
        assert result["points"] == 0
