"""The test suite's own machinery: `make test` keeps each xdist group on one worker.

The heaviest fixtures (the graded hw1 batch, `make release` on a copy of the course) are module
scoped and their tests carry an ``xdist_group``; if the group were split across the two workers,
each would build the fixture again (pytest 9 with pytest-xdist 3.8 does, which is why pytest is
pinned below 9).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = '''
import os, pytest
pytestmark = pytest.mark.xdist_group(name="shared")

@pytest.fixture(scope="module")
def built():
    with open(os.path.join(os.path.dirname(__file__), "built_" + os.environ["PYTEST_XDIST_WORKER"]), "a") as f:
        f.write("x")

@pytest.mark.parametrize("n", range(8))
def test_uses_it(built, n):
    pass

@pytest.mark.parametrize("n", range(8))
def test_elsewhere(n):
    pass
'''


def test_an_xdist_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(MODULE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    built = sorted(p.name for p in tmp_path.glob("built_*"))
    assert len(built) == 1 and (tmp_path / built[0]).read_text() == "x", f"the group's module fixture was built on {built}"
