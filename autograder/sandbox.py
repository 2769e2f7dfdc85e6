"""Running untrusted code in a separate, limited process.

Every probe of a submission runs as its own process with

- a wall-clock limit (the process group is killed when it runs over),
- CPU-time, address-space and file-size limits (``setrlimit``),
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


@dataclass(frozen=True)
class Limits:
    """Resource limits of one process.

    Attributes:
        wall_seconds: killed after this long.
        memory_bytes: address-space limit (``RLIMIT_AS``); torch needs a few GiB of it.
        file_bytes: largest file it may write.
    """

    wall_seconds: float = 120.0
    memory_bytes: int = 8 << 30
    file_bytes: int = 512 << 20


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed process ended."""

    returncode: int | None
    timed_out: bool
    seconds: float
    output_tail: str


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


def run(argv: list[str], scratch: Path, limits: Limits, readonly: dict[str, str], env: dict[str, str]) -> Outcome:
    """Run ``argv`` with ``scratch`` as its working folder, under ``limits``.

    Args:
        argv: the command; paths in it must be valid inside the sandbox.
        scratch: read-write folder, seen as :data:`SANDBOX_DIR` inside bubblewrap (as itself otherwise).
        limits: resource limits.
        readonly: host path -> path inside the sandbox, bound read-only (bubblewrap only).
        env: the whole environment of the process.

    Returns:
        The exit code (``None`` when killed for time), whether it timed out, and the last
        4,000 characters of its output.
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
            command, cwd=cwd, env=process_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=lambda: _apply_limits(limits),
        )
        try:
            returncode, timed_out = process.wait(timeout=limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
        finally:
            _kill_group(process)
    seconds = time.monotonic() - start
    return Outcome(returncode, timed_out, seconds, _tail(log_path))


def _apply_limits(limits: Limits) -> None:
    cpu = int(limits.wall_seconds) + 10
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
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
