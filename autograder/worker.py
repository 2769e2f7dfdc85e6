"""The process that runs student code: executes the graded program, then one probe.

Run as ``python -m autograder.worker FOLDER`` inside the sandbox, with a one-line secret on standard
input. ``FOLDER`` holds

- ``program.json``: the graded program (:class:`autograder.notebook.Program`),
- ``probes.py``: the homework's probes, functions ``probe(namespace, **kwargs) -> dict``,
- ``request.json``: ``{"probe": name, "kwargs": {...}, "seed": int}``,
- ``inputs.pt`` (optional): tensors the grader built for the probe (passed as further keyword
  arguments), e.g. an evaluation batch with paired inputs under a permutation only the grader knows.

The probes, the request and the inputs are read, then their files deleted, before any student code
runs. The worker writes ``program-done`` once the program has run, then ``result.pt`` (the probe's
dict of tensors and plain values) followed by ``complete.json`` (the secret and the SHA-256 of
``result.pt``), or ``error.json`` (what the student's code raised, with the answer cell and line).

Nothing here judges the result, and nothing here can be trusted: student code shares this process.
The completion record only stops the crudest forgery (a result file written by the notebook, which
then exits); what makes a result count is the evidence the grader checks in its own process, such
as consistency across paired inputs the sandbox cannot tell apart.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import traceback
import types
from pathlib import Path


class StudentCodeError(Exception):
    """Raised by probes to report a problem with the student's objects (wrong type, missing name)."""


def execute_program(program, module_name: str = "submission") -> types.ModuleType:
    """Execute every cell in one fresh module; each cell is compiled as ``<cell ID>`` for tracebacks."""
    module = types.ModuleType(module_name)
    module.__dict__["__builtins__"] = __builtins__
    sys.modules[module_name] = module
    for cell in program.cells:
        exec(compile(cell.source, f"<cell {cell.cell_id}>", "exec"), module.__dict__)
    return module


def describe_exception(error: BaseException) -> dict:
    """What the student needs to fix: the exception and the answer-cell lines it passed through."""
    frames = [
        f"cell '{frame.filename[6:-1]}', line {frame.lineno}, in {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith("<cell ")
    ]
    if isinstance(error, SystemExit):
        summary = f"the code called exit() / sys.exit({error.code!r})"
    elif isinstance(error, NotImplementedError):
        summary = "NotImplementedError: this part is not implemented yet"
    else:
        summary = f"{type(error).__name__}: {error}"
    return {"type": type(error).__name__, "summary": summary[:2000], "frames": frames[-5:]}


def _detached(value):
    """``value`` with every tensor detached and on the CPU (a view made under ``no_grad`` can still require grad)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _detached(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(item) for item in value)
    return value


def main(folder: str) -> None:
    import torch

    from autograder.notebook import Program

    secret = sys.stdin.readline().strip()
    sys.stdin.close()
    root = Path(folder)
    request = json.loads((root / "request.json").read_text())
    inputs = torch.load(root / "inputs.pt", weights_only=True) if (root / "inputs.pt").exists() else {}
    torch.set_num_threads(1)
    torch.manual_seed(request["seed"])
    spec = importlib.util.spec_from_file_location("probes", root / "probes.py")
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    for name in ("probes.py", "request.json", "inputs.pt"):  # nothing to steer by once student code runs
        (root / name).unlink(missing_ok=True)
    try:
        namespace = execute_program(Program.from_json((root / "program.json").read_text()))
        (root / "program-done").touch()
        torch.manual_seed(request["seed"])
        result = getattr(probes, request["probe"])(namespace, **request["kwargs"], **inputs)
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        (root / "error.json").write_text(json.dumps(describe_exception(error)))
        return
    if (root / "result.pt").exists() or (root / "complete.json").exists():
        return  # written by student code: the grader rejects a result without a valid completion record
    torch.save(_detached(result), root / "result.pt")
    digest = hashlib.sha256((root / "result.pt").read_bytes()).hexdigest()
    (root / "complete.json").write_text(json.dumps({"secret": secret, "sha256": digest}))


if __name__ == "__main__":
    main(sys.argv[1])
