"""The sandbox that runs student code: limits always, isolation where bubblewrap exists."""

from __future__ import annotations

import socket
import sys

import pytest

from autograder import sandbox
from autograder.homework import REPO_ROOT

needs_bwrap = pytest.mark.skipif(sandbox.bubblewrap() is None, reason="bubblewrap not installed")


def _python(tmp_path, code, **limits):
    (tmp_path / "script.py").write_text(code)
    inside = sandbox.SANDBOX_DIR if sandbox.bubblewrap() else str(tmp_path)
    binds = {p: p for p in {sys.prefix, sys.base_prefix}}
    return sandbox.run([sys.executable, f"{inside}/script.py"], tmp_path, sandbox.Limits(**limits), binds, {"PATH": "/usr/bin"})


def test_cpu_time_limit_stops_an_endless_loop(tmp_path):
    outcome = _python(tmp_path, "while True: pass", cpu_seconds=2)
    assert outcome.out_of_time == "cpu" and outcome.seconds < 10


def test_wall_clock_backstop_stops_a_sleeper(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "WALL_FACTOR", 2.0)
    monkeypatch.setattr(sandbox, "WALL_GRACE", 0.0)
    outcome = _python(tmp_path, "import time; time.sleep(60)", cpu_seconds=1)
    assert outcome.out_of_time == "wall" and outcome.returncode is None and outcome.seconds < 10


def test_standard_input_carries_a_secret_that_is_then_gone(tmp_path):
    code = "import sys; print(sys.stdin.readline().strip()); print('again:', repr(sys.stdin.read()))"
    (tmp_path / "script.py").write_text(code)
    inside = sandbox.SANDBOX_DIR if sandbox.bubblewrap() else str(tmp_path)
    binds = {p: p for p in {sys.prefix, sys.base_prefix}}
    outcome = sandbox.run([sys.executable, f"{inside}/script.py"], tmp_path, sandbox.Limits(), binds, {"PATH": "/usr/bin"}, stdin=b"s3cret\n")
    assert outcome.returncode == 0 and "s3cret\nagain: ''" in outcome.output_tail, outcome.output_tail


def test_memory_limit_stops_a_hog(tmp_path):
    outcome = _python(tmp_path, "x = bytearray(3 << 30)", memory_bytes=1 << 30)
    assert outcome.returncode != 0 and "MemoryError" in outcome.output_tail


def test_output_is_kept_and_exit_code_reported(tmp_path):
    outcome = _python(tmp_path, "print('hello'); raise SystemExit(7)")
    assert outcome.returncode == 7 and "hello" in outcome.output_tail


@needs_bwrap
def test_no_network_and_no_view_of_the_repository(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:  # a service on the host's loopback
        port = server.getsockname()[1]
        code = f"""
import os, socket
assert not os.path.exists({str(REPO_ROOT / 'homeworks')!r}), "repository visible"
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("reached the host")
except OSError as error:
    print("no network:", error)
"""
        outcome = _python(tmp_path, code)
    assert outcome.returncode == 0, outcome.output_tail
    assert "no network" in outcome.output_tail, outcome.output_tail


def test_description_says_which_isolation(monkeypatch):
    monkeypatch.setenv("DGM_SANDBOX", "none")
    assert sandbox.sandbox_description().startswith("none")
