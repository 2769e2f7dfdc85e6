"""Running untrusted code in a separate, limited process.

Every probe of a submission runs as its own process with

- a CPU-time limit (``RLIMIT_CPU``): "too slow" is judged by the CPU time the code consumed, so a
  busy machine does not change a grade, and a wall-clock backstop several times larger for code
  that sleeps or blocks (the process group is killed when it runs over),
- address-space and file-size limits (``setrlimit``),
- on Linux with bubblewrap: no network, no view of the repository, the instructor's source,
  other submissions or the gradebook. Only the interpreter, the virtual environment, the course
  library, the grader's worker, the data folder (all read-only) and a scratch folder are visible.

Where bubblewrap is missing (macOS, Colab, a machine without it) the process runs as a plain
limited subprocess in a scratch folder, and :func:`sandbox_description` says so; the grader copies
that line into every result.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DIR = "/sandbox"
"""Where the scratch folder appears inside bubblewrap."""


WALL_FACTOR = 5.0
"""The wall-clock backstop is this many times the CPU-time limit (plus :data:`WALL_GRACE`): on a
machine loaded with two busy processes per core a single-threaded probe still gets a third of a core."""
WALL_GRACE = 30.0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one process.

    Attributes:
        cpu_seconds: CPU time (user + system, all threads) it may consume; this decides "too slow".
        memory_bytes: address-space limit (``RLIMIT_AS``); torch needs a few GiB of it.
        file_bytes: largest file it may write.
    """

    cpu_seconds: float = 120.0
    memory_bytes: int = 8 << 30
    file_bytes: int = 512 << 20

    @property
    def wall_seconds(self) -> float:
        """The wall-clock backstop, for code that sleeps or blocks instead of computing."""
        return WALL_FACTOR * self.cpu_seconds + WALL_GRACE


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed process ended.

    Attributes:
        returncode: exit code (negative: killed by that signal; ``None``: killed at the wall-clock backstop).
        out_of_time: ``"cpu"`` (it used up its CPU time: the kernel sent ``SIGXCPU``), ``"wall"`` (it
            reached the wall-clock backstop) or ``None``.
        seconds: wall-clock time.
        output_tail: the last 4,000 characters of its output.
    """

    returncode: int | None
    out_of_time: str | None
    seconds: float
    output_tail: str

    @property
    def timed_out(self) -> bool:
        return self.out_of_time is not None


def bubblewrap() -> str | None:
    """Path of ``bwrap`` if it can be used here (and ``DGM_SANDBOX`` does not say ``none``)."""
    if os.environ.get("DGM_SANDBOX", "auto") == "none" or not sys.platform.startswith("linux"):
        return None
    return shutil.which("bwrap")


def sandbox_description() -> str:
    """One line for results: which isolation the grader used."""
    if bubblewrap():
        return "bubblewrap: no network, read-only system, only the submission's program and grader data visible"
    return "none (bubblewrap not available): plain subprocess with time and memory limits, not isolated from the file system or network"


def run(argv: list[str], scratch: Path, limits: Limits, readonly: dict[str, str], env: dict[str, str], stdin: bytes = b"") -> Outcome:
    """Run ``argv`` with ``scratch`` as its working folder, under ``limits``.

    Args:
        argv: the command; paths in it must be valid inside the sandbox.
        scratch: read-write folder, seen as :data:`SANDBOX_DIR` inside bubblewrap (as itself otherwise).
        limits: resource limits.
        readonly: host path -> path inside the sandbox, bound read-only (bubblewrap only).
        env: the whole environment of the process.
        stdin: bytes written to its standard input, which is then closed (a secret that, once read,
            is in no file the process can read again, unlike its environment in ``/proc/self/environ``).

    Returns:
        How it ended: exit code, whether it ran out of CPU or wall-clock time, the wall-clock time
        it took and the last 4,000 characters of its output.
    """
    log_path = scratch / "output.log"
    bwrap = bubblewrap()
    if bwrap:
        command = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        command += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for name in ("bin", "lib", "lib64", "sbin"):
            path = Path("/" + name)
            if path.is_symlink():
                command += ["--symlink", os.readlink(path), str(path)]
            elif path.exists():
                command += ["--ro-bind", str(path), str(path)]
        for device in sorted(Path("/dev").glob("nvidia*")):  # GPU runners: the worker may use CUDA
            command += ["--dev-bind", str(device), str(device)]
        for host, inside in readonly.items():
            command += ["--ro-bind", host, inside]
        command += ["--bind", str(scratch), SANDBOX_DIR, "--chdir", SANDBOX_DIR]
        for key, value in env.items():
            command += ["--setenv", key, value]
        command += argv
        process_env, cwd = {}, None
    else:
        command, process_env, cwd = argv, env, scratch

    start = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=process_env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=lambda: _apply_limits(limits),
        )
        try:
            process.stdin.write(stdin)
            process.stdin.close()
        except BrokenPipeError:  # it exited without reading
            pass
        try:
            returncode = process.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            _kill_group(process)
    seconds = time.monotonic() - start
    if bwrap and returncode is not None and returncode > 128:  # bubblewrap reports a child killed by signal N as 128 + N
        returncode = -(returncode - 128)
    out_of_time = "wall" if returncode is None else "cpu" if returncode == -signal.SIGXCPU else None
    return Outcome(returncode, out_of_time, seconds, _tail(log_path))


def _apply_limits(limits: Limits) -> None:
    cpu = max(1, int(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU at the soft limit, SIGKILL 5 s later
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(path: Path, limit: int = 4000) -> str:
    with open(path, "rb") as file:
        file.seek(max(0, path.stat().st_size - limit))
        return file.read().decode("utf-8", errors="replace")
