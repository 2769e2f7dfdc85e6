"""Build the lecture slides: run each lecture's figure script, then latexmk, and check the log.

Every lecture is a folder ``lectures/NN_topic/`` with ``lecture.tex`` and, optionally, ``figures.py``,
whose ``FIGURES`` maps a file name to a function that draws that figure with fixed seeds and returns
it. The shared ``preamble.tex``, ``notation.tex`` and ``references.bib`` live in ``lectures/``. Outputs go to ``out/lectures/``:
the PDFs ``NN_topic.pdf`` and, per lecture, the figures and LaTeX's auxiliary files.

A LaTeX error, an undefined reference or citation, or a BibTeX warning fails the build (exit 1);
content that overflows a slide is reported as a warning with its line.
Needs a TeX distribution with beamer and latexmk (``make lectures-deps``).
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path

LECTURES = Path(__file__).resolve().parent
OUT = LECTURES.parent / "out" / "lectures"
# What LaTeX writes to its log when a \ref or \cite has no target (latexmk -Werror also catches them).
UNRESOLVED = re.compile(r"(Reference|Citation) `[^']*' on page \d+ undefined|There were undefined references")
# Content that runs off a slide (vbox) or past its margin (hbox): reported, not fatal.
OVERFULL = re.compile(r"^Overfull \\[hv]box \((\d+\.\d+)pt too \w+\).*?lines? (\d+)", re.M)


def lecture_folders() -> list[Path]:
    """The lecture folders ``NN_topic`` that have a ``lecture.tex``, in course order."""
    return sorted(path.parent for path in LECTURES.glob("[0-9][0-9]_*/lecture.tex"))


def make_figures(folder: Path, out: Path) -> list[Path]:
    """Draw every figure of ``folder/figures.py`` and save it as ``out/figures/<name>.pdf``.

    The PDFs carry no creation date, so the same code draws byte-identical files.
    """
    script = folder / "figures.py"
    if not script.exists():
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "figures").mkdir(parents=True, exist_ok=True)
    saved = []
    for name, draw in runpy.run_path(str(script))["FIGURES"].items():
        figure = draw()
        saved.append(out / "figures" / f"{name}.pdf")
        figure.savefig(saved[-1], metadata={"CreationDate": None})
        plt.close(figure)
    return saved


def compile_pdf(folder: Path, out: Path) -> Path:
    """Compile ``folder/lecture.tex`` into ``out`` with latexmk; raise on errors and unresolved references."""
    search_path = os.pathsep.join([str(folder), str(LECTURES), str(out / "figures"), ""])  # "" keeps TeX's own
    env = {**os.environ, "TEXINPUTS": search_path, "BIBINPUTS": search_path}
    command = ["latexmk", "-pdf", "-Werror", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
               f"-outdir={out}", "lecture.tex"]
    completed = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    log = out / "lecture.log"
    unresolved = UNRESOLVED.findall(log.read_text(errors="replace")) if log.exists() else []
    if completed.returncode != 0 or unresolved:
        errors = [line for line in completed.stdout.splitlines() if line.startswith(("!", "./", "l.")) or "undefined" in line]
        raise RuntimeError(f"{folder.name}: latexmk failed (exit {completed.returncode}); see {log}\n" + "\n".join(errors[-20:]))
    return out / "lecture.pdf"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="lecture numbers or folder names to build (default: all)")
    parser.add_argument("--no-figures", action="store_true", help="reuse the figures already in out/lectures")
    args = parser.parse_args(argv)
    if shutil.which("latexmk") is None:
        parser.exit(2, "latexmk not found: install the TeX toolchain with `make lectures-deps` (see lectures/README.md)\n")

    folders = [f for f in lecture_folders() if not args.only or any(f.name == o or f.name[:2] == o.zfill(2) for o in args.only)]
    if not folders:
        parser.exit(2, f"no lecture matches {args.only}; have: {', '.join(f.name for f in lecture_folders())}\n")
    failed = []
    for folder in folders:
        out = OUT / folder.name
        started = time.perf_counter()
        try:
            if not args.no_figures:
                make_figures(folder, out)
            pdf = compile_pdf(folder, out)
        except RuntimeError as error:
            print(f"FAILED {error}", file=sys.stderr)
            failed.append(folder.name)
            continue
        shutil.copy(pdf, OUT / f"{folder.name}.pdf")
        print(f"{folder.name:32s} {time.perf_counter() - started:6.1f} s  -> {(OUT / folder.name).relative_to(LECTURES.parent)}.pdf")
        for size, line in OVERFULL.findall((out / "lecture.log").read_text(errors="replace")):
            print(f"  warning: {folder.name}/lecture.tex:{line}: content overflows the slide by {float(size):.1f}pt")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
