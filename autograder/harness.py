"""Grading one submission: probes in the sandbox, pytest checks in the grader's process.

A check is a pytest test ``test_<grade_id>`` in the homework's ``grading/test_checks.py``. It
asks for the ``submission`` fixture, calls :meth:`Submission.probe` (which runs the graded program
and one probe in a fresh sandboxed process and returns plain tensors), and judges the result with
``assert condition, "message for the student"``. Student code never runs in this process, so it
can neither patch the assertions nor see the thresholds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

import dgm

from . import sandbox
from .homework import EVERY_PROFILE, REPO_ROOT, SMOKE, Homework
from .notebook import Program, UngradableNotebook, build_program, grade_cells, grader_introspection, read_notebook

GRADER_SEED = 0
"""Seed of every probe unless a check asks for another. Training and measurements are deterministic;
only which inputs are paired, and how they are shuffled (:meth:`Submission.private_generator`), changes
from one grading to the next, which changes nothing for a correct solution."""

_FULL_LIMITS = sandbox.Limits(cpu_seconds=900, memory_bytes=32 << 30)
DEFAULT_LIMITS = {"quick": sandbox.Limits(cpu_seconds=60), "full": _FULL_LIMITS, SMOKE: _FULL_LIMITS}
"""Per probe: CPU seconds (one torch thread) and memory; the wall-clock backstop is several times larger."""

SMOKE_IMAGES, SMOKE_SAMPLES = 300, 16
"""A smoke run's share of the full recipe: the first images of each split, and samples drawn."""


def smoke_recipe(recipe: dict) -> dict:
    """The full ``recipe`` shrunk for a CPU smoke run: every ``dataset`` to its first :data:`SMOKE_IMAGES`
    images per split (``"mnist"`` -> ``"mnist[:300]"``), every ``epochs`` to 1, every ``n_samples`` to at
    most :data:`SMOKE_SAMPLES`; then the recipe's own ``"smoke"`` entries (nested dicts merged), for what
    only the homework knows how to shrink (e.g. a held-out share of the training images)."""

    rules = {"dataset": lambda name: f"{name}[:{SMOKE_IMAGES}]", "epochs": lambda epochs: 1, "n_samples": lambda n: min(n, SMOKE_SAMPLES)}

    def shrink(part):
        if not isinstance(part, dict):
            return part
        return {key: rules[key](value) if key in rules else shrink(value) for key, value in part.items() if key != "smoke"}

    def merge(base: dict, override: dict) -> dict:
        return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in override.items()}}

    return merge(shrink(recipe), recipe.get("smoke", {}))


class ProbeFailed(Exception):
    """The student's code could not deliver what a probe asked for."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class GraderMisconfigured(Exception):
    """Something on the grader's side is missing (e.g. a threshold for this profile)."""


@dataclass
class Submission:
    """What a check sees of one submission.

    Attributes:
        program: the graded program.
        homework: the homework being graded.
        profile: ``"quick"``, ``"full"`` or ``"smoke"`` (the full recipe shrunk, judged against no threshold).
        default_seconds: CPU-time limit of probes that do not set their own (default: the profile's).
        artifacts: images the checks want shown in the feedback (name -> ``(N, C, H, W)`` tensor).
        metrics: measured values shown in the feedback (name -> dict with value, threshold, ...).
    """

    program: Program
    homework: Homework
    profile: str
    default_seconds: float | None = None
    artifacts: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    _cache: dict[str, dict | ProbeFailed] = field(default_factory=dict)
    _program_failure: ProbeFailed | None = None
    _secret: int = field(default_factory=lambda: secrets.randbits(62))

    def probe(self, name: str, *, seconds: float | None = None, seed: int = GRADER_SEED, inputs: dict | None = None, **kwargs) -> dict:
        """Run probe ``name`` of the homework on the student's program and return its result.

        Args:
            name: a function of the homework's ``probes.py``.
            seconds: CPU-time limit (default: the submission's or the profile's).
            seed: torch's seed before the program runs and again before the probe.
            inputs: tensors the grader built (or dicts of them), passed to the probe as keyword
                arguments through a file the worker deletes before student code runs.
            kwargs: plain JSON values passed to the probe.

        Results are cached per (name, seed, kwargs, inputs), so two checks can share one expensive
        probe. When the program itself fails (before any probe ran), that failure is cached for every
        later probe: a notebook that hangs at import costs one time limit, not one per check.

        Raises:
            ProbeFailed: the student's code raised, crashed, ran out of time or memory, or its result
                was not written by the grader's worker.
        """
        inputs = inputs or {}
        key = json.dumps([name, seed, kwargs, {k: _digest(v) for k, v in sorted(inputs.items())}], sort_keys=True)
        if self._program_failure is not None:
            raise self._program_failure
        if key not in self._cache:
            self._cache[key] = self._run(name, seed, kwargs, inputs, seconds)
        outcome = self._cache[key]
        if isinstance(outcome, ProbeFailed):
            raise outcome
        return outcome

    def private_generator(self, purpose: str, seed: int = GRADER_SEED) -> torch.Generator:
        """A generator only this grader process can reproduce: the same for the same ``purpose`` and
        ``seed`` within one grading (so checks can share a probe), different in every grading. Use it
        for what the sandbox must not predict, e.g. which inputs of a batch are paired."""
        digest = hashlib.sha256(f"{self._secret}:{purpose}:{seed}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    @property
    def smoke(self) -> bool:
        """Is this a CPU smoke run of the full profile (values shown, no threshold judged)?"""
        return self.profile == SMOKE

    def recipe(self, recipes: dict[str, dict]) -> dict:
        """This profile's entry of a homework's ``RECIPES`` (``{"quick": ..., "full": ...}``); in a smoke
        run, :func:`smoke_recipe` of the full one."""
        return smoke_recipe(recipes["full"]) if self.smoke else recipes[self.profile]

    def threshold(self, name: str) -> dict:
        """The calibrated threshold record ``name`` for this profile, or for every profile (see ``thresholds.json``)."""
        records = self.homework.thresholds().get(name, {})
        record = records.get(EVERY_PROFILE) or records.get(self.profile)
        if not record:
            raise GraderMisconfigured(
                f"no calibrated threshold {name!r} for profile {self.profile!r}: run "
                f"`python -m autograder calibrate {self.homework.key} --profile {self.profile}`"
            )
        return record

    def show(self, label: str, value: float, better: str | None = None) -> None:
        """Show ``value`` in the feedback as ``label`` beside no threshold (for information, or in a smoke run)."""
        self.metrics[label] = {"value": value, "threshold": None, "better": better, "reference": None}

    def compare(self, label: str, value: float, name: str) -> dict:
        """Show ``value`` in the feedback as ``label`` beside calibrated threshold ``name``; return that record
        (``None`` in a smoke run, which shows the value beside no threshold, unless the threshold holds in
        every profile)."""
        if self.smoke and EVERY_PROFILE not in self.homework.thresholds().get(name, {}):
            self.show(label, value)
            return None
        record = self.threshold(name)
        self.metrics[label] = {"value": value, "threshold": record["threshold"], "better": record["better"], "reference": record["reference"],
                               "every_profile": EVERY_PROFILE in self.homework.thresholds().get(name, {})}
        return record

    def bound(self, label: str, value: float, limit: float, better: str) -> None:
        """Show ``value`` as ``label`` beside ``limit``, a bound the check states in every profile (not calibrated)."""
        self.metrics[label] = {"value": value, "threshold": limit, "better": better, "reference": limit, "every_profile": True}

    def judge(self, label: str, value: float, name: str, what: str) -> None:
        """Show ``value`` as ``label`` and fail unless it is finite, plausible and within threshold ``name``.

        A value beyond the calibrated ``implausible`` bound (e.g. an NLL below half of the best correct
        solution's) fails: no correct model reaches it, so something other than the model produced it.
        ``what`` starts the messages, e.g. "after the grader's recipe the test NLL".
        """
        record = self.compare(label, value, name)
        assert math.isfinite(value), f"{what} is not finite ({value}): NaN or infinite outputs"
        if record is None:
            return
        lower = record["better"] == "lower"
        bound = record.get("implausible")
        if bound is not None:
            assert (value >= bound) if lower else (value <= bound), (
                f"{what} is {value:.4g}, implausibly {'low' if lower else 'high'}: no correct solution comes near it "
                f"(best calibrated value {record['best']:.4g}, bound {bound:.4g}), so the grader cannot trust it"
            )
        limit = record["threshold"]
        assert (value <= limit) if lower else (value >= limit), (
            f"{what} is {value:.4g}; {'at most' if lower else 'at least'} {limit:.4g} is needed (the reference reaches {record['reference']:.4g})"
        )

    def _run(self, name: str, seed: int, kwargs: dict, inputs: dict, seconds: float | None) -> dict | ProbeFailed:
        limits = DEFAULT_LIMITS[self.profile]
        seconds = seconds or self.default_seconds
        if seconds is not None:
            limits = sandbox.Limits(seconds, limits.memory_bytes, limits.file_bytes)
        with tempfile.TemporaryDirectory(prefix="dgm-probe-") as tmp:
            scratch = Path(tmp)
            (scratch / "program.json").write_text(self.program.to_json())
            shutil.copy(self.homework.probes, scratch / "probes.py")
            (scratch / "request.json").write_text(json.dumps({"probe": name, "kwargs": kwargs, "seed": seed}))
            if inputs:
                torch.save(inputs, scratch / "inputs.pt")
            secret = secrets.token_hex(16)
            outcome = sandbox.run(*_worker_command(scratch), limits=limits, readonly=_readonly_binds(), env=_worker_env(scratch),
                                  stdin=f"{secret}\n".encode())
            result = self._interpret(scratch, outcome, limits, secret)
            if isinstance(result, ProbeFailed) and not (scratch / "program-done").exists():
                result.message = f"your notebook's code failed before any check could run: {result.message}"
                self._program_failure = result
            return result

    def _interpret(self, scratch: Path, outcome: sandbox.Outcome, limits: sandbox.Limits, secret: str) -> dict | ProbeFailed:
        if outcome.out_of_time == "cpu":
            return ProbeFailed("timeout", f"used up its {limits.cpu_seconds:.0f} s of CPU time: an endless loop, or far too slow "
                                          f"(judged by CPU time, so a busy machine does not change it){self._missing_note()}")
        if outcome.out_of_time == "wall":
            return ProbeFailed("timeout", f"stopped after {limits.wall_seconds:.0f} s of wall-clock time while using little CPU: "
                                          f"does it wait, sleep or read from standard input?{self._missing_note()}")
        if (scratch / "error.json").exists():
            error = json.loads((scratch / "error.json").read_text())
            where = f" (at {'; '.join(error['frames'])})" if error["frames"] else ""
            return ProbeFailed("error", f"{error['summary']}{where}{self._missing_note()}")
        if (scratch / "result.pt").exists() and outcome.returncode == 0:
            if not _completed_by_worker(scratch, secret):
                return ProbeFailed("fail", "the result file was not written by the grader's worker (it was written or changed by "
                                           "the notebook's code before the probe finished): results are only accepted from the grader")
            try:
                return torch.load(scratch / "result.pt", weights_only=True)
            except Exception as error:  # noqa: BLE001 - a tampered result is the student's problem
                return ProbeFailed("error", f"the result could not be read back ({error})")
        if outcome.returncode is not None and outcome.returncode < 0:
            how = f"was killed by {signal.Signals(-outcome.returncode).name}"
        else:
            how = f"exited with code {outcome.returncode}"
        tail = outcome.output_tail.strip().splitlines()[-3:]
        return ProbeFailed(
            "error",
            f"the process running your code {how} before returning a result (a crash, os._exit(), or the "
            f"{limits.memory_bytes >> 30} GiB memory limit){self._missing_note()}" + (f"; last output: {' | '.join(tail)}" if tail else ""),
        )

    def _missing_note(self) -> str:
        if not self.program.missing_answers:
            return ""
        return f". Answer cells missing from your notebook: {', '.join(self.program.missing_answers)}"


def _digest(value) -> str:
    """SHA-256 of a tensor, or of a dict of them (nested), for the probe cache key."""
    if isinstance(value, dict):
        return hashlib.sha256("".join(f"{key}:{_digest(item)};" for key, item in sorted(value.items())).encode()).hexdigest()
    return hashlib.sha256(value.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def _completed_by_worker(scratch: Path, secret: str) -> bool:
    """Does the worker's completion record carry this run's secret and the digest of ``result.pt``?"""
    try:
        record = json.loads((scratch / "complete.json").read_text())
        digest = hashlib.sha256((scratch / "result.pt").read_bytes()).hexdigest()
        return record["secret"] == secret and record["sha256"] == digest
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _worker_command(scratch: Path) -> tuple[list[str], Path]:
    root = sandbox.SANDBOX_DIR if sandbox.bubblewrap() else str(scratch)
    return [_interpreter(), "-m", "autograder.worker", root], scratch


def _interpreter() -> str:
    """This interpreter as the sandbox sees it: under the resolved ``sys.prefix`` (which is bound), so a
    virtual environment reached through a symbolic link still works; the interpreter itself is not
    resolved, since a venv's ``python`` is a link to the base interpreter and would lose the venv."""
    executable = Path(sys.executable)
    if executable.is_relative_to(sys.prefix):
        return str(Path(sys.prefix).resolve() / executable.relative_to(sys.prefix))
    return sys.executable


def _readonly_binds() -> dict[str, str]:
    """Host paths the worker needs, bound read-only: the interpreter's prefixes at the same place, and
    the grader package and the course library this process imported at /grader (on the worker's path)."""
    binds = {p: p for p in {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)}}
    binds[str(Path(__file__).resolve().parent)] = "/grader/autograder"
    binds[str(Path(dgm.__file__).resolve().parent)] = "/grader/dgm"
    data = dgm.data.data_dir()
    if data.exists():
        binds[str(data.resolve())] = "/data"
    return binds


def _worker_env(scratch: Path) -> dict[str, str]:
    isolated = sandbox.bubblewrap() is not None
    home = "/tmp" if isolated else str(scratch)
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": "/grader" if isolated else str(REPO_ROOT),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": home,
        "MPLCONFIGDIR": home,
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "DGM_DATA": "/data" if isolated else str(dgm.data.data_dir()),
        "TQDM_DISABLE": "1",
    }


# --------------------------------------------------------------------------------------------------
# Running the checks with pytest


class _ChecksPlugin:
    """Gives checks their fixtures and records each check's status and message."""

    def __init__(self, submission: Submission):
        self._submission = submission
        self.outcomes: dict[str, tuple[str, str]] = {}

    @pytest.fixture
    def submission(self) -> Submission:
        return self._submission

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        if report.when == "call" or report.failed:
            check_id = item.name.removeprefix("test_")
            self.outcomes.setdefault(check_id, _status(report, call))


def _status(report, call) -> tuple[str, str]:
    if report.passed:
        return "pass", ""
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, ProbeFailed):
        return error.status, error.message
    if isinstance(error, AssertionError):
        return "fail", str(error).split("\nassert ")[0]
    if isinstance(error, GraderMisconfigured):
        return "error", f"grader not ready: {error}"
    return "error", f"grader error, please tell the course staff ({type(error).__name__}: {error})"


def grade(
    homework: Homework, notebook: Path | None, student: str, profile: str, checks: list[str] | None = None, seconds: float | None = None
) -> tuple[dict, dict]:
    """Grade one notebook (``None``: nothing was submitted).

    Returns:
        The result record (what ``result.json`` holds) and the artifacts (images for the feedback).
    """
    start = time.monotonic()
    source = read_notebook(homework.source_notebook)
    cells = grade_cells(source)
    auto = [c for c in cells if c.autograded and (checks is None or c.grade_id in checks)]
    record = {
        "student": student, "homework": homework.name, "profile": profile, "status": "graded", "message": "", "review": [],
        "points": 0.0, "max_points": sum(c.points for c in auto),
        "manual_max_points": sum(c.points for c in cells if not c.autograded),
        "sandbox": sandbox.sandbox_description(), "seed": GRADER_SEED, "checks": [], "metrics": {},
    }
    try:
        if notebook is None:
            raise UngradableNotebook("no notebook was submitted")
        submitted = read_notebook(notebook)
        program = build_program(source, read_notebook(homework.release_notebook), submitted)
        if len(program.missing_answers) == sum(c.origin != "instructor" for c in program.cells):
            raise UngradableNotebook(f"none of the answer cells of {homework.name} is in it: is this the right notebook?")
    except UngradableNotebook as problem:
        record.update(status="ungradable", message=f"Ungradable: {problem}")
        record["checks"] = [_check(c, "error", f"not graded: {problem}") for c in auto]
        return _finish(record, start), {}

    submission = Submission(program, homework, profile, default_seconds=seconds)
    plugin = _ChecksPlugin(submission)
    # Relative to the rootdir the checks module is ``hwN_name.grading.test_checks``: one module per
    # homework, so grading several homeworks in one process (``make release``) never mixes them up.
    node_ids = [f"{homework.checks}::test_{c.grade_id}" for c in auto]
    args = ["-p", "no:cacheprovider", "--assert=plain", "--import-mode=importlib", "-o", "addopts=", "-q",
            "--rootdir", str(homework.course_dir / "source"), "-W", "ignore::DeprecationWarning", *node_ids]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(args, plugins=[plugin])
    for cell in auto:
        status, message = plugin.outcomes.get(cell.grade_id, ("error", f"grader has no check test_{cell.grade_id}; please tell the course staff"))
        record["checks"].append(_check(cell, status, message))
    notes = []
    if program.missing_answers:
        notes.append(f"Answer cells missing from the notebook: {', '.join(program.missing_answers)}")
    record["review"] = grader_introspection(program)
    if record["review"]:
        notes.append(f"Flagged for review: the answer cells inspect or steer the grader ({'; '.join(record['review'][:3])})")
    record["message"] = ". ".join(notes)
    record["metrics"] = submission.metrics
    return _finish(record, start), submission.artifacts


def _check(cell, status: str, message: str) -> dict:
    points = cell.points if status == "pass" else 0.0
    return {"id": cell.grade_id, "points": points, "max_points": cell.points, "status": status, "message": message}


def _finish(record: dict, start: float) -> dict:
    record["points"] = sum(c["points"] for c in record["checks"])
    record["seconds"] = round(time.monotonic() - start, 1)
    return record


def main(argv: list[str]) -> None:
    """``python -m autograder.harness HW NOTEBOOK STUDENT PROFILE CHECKS SECONDS OUT``: grade one notebook
    (empty NOTEBOOK: none was submitted; empty CHECKS: all; empty SECONDS: the profile's time limit)
    into OUT/result.json and OUT/artifacts.pt."""
    from .homework import find_homework

    key, notebook, student, profile, checks, seconds, out = argv
    result, artifacts = grade(find_homework(key), Path(notebook) if notebook else None, student, profile,
                              checks.split(",") if checks else None, float(seconds) if seconds else None)
    torch.save(artifacts, Path(out) / "artifacts.pt")
    (Path(out) / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
