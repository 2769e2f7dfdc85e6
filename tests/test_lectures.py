"""Lectures: one notation for slides and notebooks, and a build that fails on what a reader would trip over."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from autograder.homework import REPO_ROOT
from autograder.notebook import read_notebook
from lectures import build

LECTURES = REPO_ROOT / "lectures"
MACRO = re.compile(r"^\\newcommand\{(\\\w+)\}\{(.*)\}\s*(?:%(.*))?$")


def notation() -> dict[str, tuple[str, list[str]]]:
    """Macro -> (expansion, spellings that must appear nowhere), from lectures/notation.tex."""
    table = {}
    for line in (LECTURES / "notation.tex").read_text().splitlines():
        match = MACRO.match(line.strip())
        if match:
            name, expansion, comment = match.groups()
            assert name not in table, f"{name} is defined twice in notation.tex"
            banned = comment.split("not:", 1)[1].split(", ") if comment and "not:" in comment else []
            table[name] = (expansion, [spelling.strip() for spelling in banned])
    return table


def slides() -> list[Path]:
    return sorted(LECTURES.glob("[0-9][0-9]_*/lecture.tex"))


def test_every_week_has_a_lecture():
    assert [p.parent.name[:2] for p in slides()] == [f"{week:02d}" for week in range(1, 15)]


def notebook_markdown() -> dict[str, str]:
    """The markdown of every homework and seminar notebook (sources and student versions)."""
    paths = [*REPO_ROOT.glob("homeworks/*/*/*.ipynb"), *REPO_ROOT.glob("seminars/**/*.ipynb")]
    return {p.relative_to(REPO_ROOT).as_posix(): "\n".join(c.source for c in read_notebook(p).cells if c.cell_type == "markdown") for p in paths}


def test_notation_has_one_macro_per_symbol():
    table = notation()
    assert len(table) > 20
    expansions = [expansion for expansion, _ in table.values()]
    assert len(set(expansions)) == len(expansions), "two macros expand to the same symbol"


def raw_expansions(texts: dict[str, str]) -> dict[str, list[str]]:
    """Where slides write a macro's expansion (e.g. \\mathbf{x}) instead of the macro (\\bx).

    Expansions of three characters or fewer, such as \\pi, are also ordinary mathematics (the 2\\pi of
    a Gaussian), so they are not checked.
    """
    table = notation()
    found = {}
    for where, text in texts.items():
        text = re.sub(r"(?<!\\)%.*", "", text)
        used = [f"{expansion} (use {name})" for name, (expansion, _) in table.items() if len(expansion) > 3 and expansion in text]
        if used:
            found[where] = used
    return found


def banned_spellings(texts: dict[str, str]) -> dict[str, list[str]]:
    """Where slides or notebooks use a spelling that notation.tex lists after "not:"."""
    banned = {spelling: name for name, (_, spellings) in notation().items() for spelling in spellings}
    assert banned, "notation.tex lists no banned spellings"
    found = {where: [f"{s} (use {banned[s]})" for s in banned if s in text] for where, text in texts.items()}
    return {where: hits for where, hits in found.items() if hits}


def test_slides_spell_every_symbol_with_its_macro():
    """A slide that writes \\mathbf{x} instead of \\bx would drift from the notation when it changes."""
    assert raw_expansions({p.parent.name: p.read_text() for p in slides()}) == {}


def test_no_banned_spelling_in_slides_or_notebooks():
    assert banned_spellings({p.parent.name: p.read_text() for p in slides()} | notebook_markdown()) == {}


def test_lints_find_planted_spellings():
    slide = "$\\KL(p_{\\text{data}} \\,\\|\\, \\ptheta)$ for $\\mathbf{x}$ % \\mathbb{E} in a comment is fine"
    assert raw_expansions({"slide": slide}) == {"slide": ["\\mathbf{x} (use \\bx)"]}
    assert banned_spellings({"slide": slide}) == {"slide": ["p_{\\text{data}} (use \\pdata)"]}


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs the TeX toolchain (make lectures-deps)")
@pytest.mark.parametrize("body, complaint", [
    ("See \\citep{nobody2099}.", "undefined"),
    ("See slide~\\ref{nowhere}.", "undefined"),
    ("\\begin{itemize} \\item unclosed", "latexmk failed"),
])
def test_build_fails_on_errors_and_undefined_references(tmp_path, body, complaint):
    folder = tmp_path / "99_broken"
    folder.mkdir()
    (folder / "lecture.tex").write_text(
        "\\documentclass{beamer}\n\\input{preamble}\n\\begin{document}\n"
        f"\\begin{{frame}}{{Broken}}\n{body}\n\\end{{frame}}\n\\referencesframe\n\\end{{document}}\n"
    )
    with pytest.raises(RuntimeError, match=complaint):
        build.compile_pdf(folder, tmp_path / "out")


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs the TeX toolchain (make lectures-deps)")
def test_build_compiles_a_correct_lecture(tmp_path):
    folder = tmp_path / "99_fine"
    folder.mkdir()
    (folder / "lecture.tex").write_text(
        "\\documentclass{beamer}\n\\input{preamble}\n\\begin{document}\n"
        "\\begin{frame}{Fine}\\label{fine} $\\KL(\\pdata \\,\\|\\, \\ptheta)$, slide~\\ref{fine}, \\citet{dinh2017realnvp}.\\end{frame}\n"
        "\\referencesframe\n\\end{document}\n"
    )
    assert build.compile_pdf(folder, tmp_path / "out").stat().st_size > 10_000


@pytest.mark.parametrize("lecture", slides(), ids=lambda p: p.parent.name)
def test_figures_are_drawn_by_the_lecture_script_and_reproducible(lecture, tmp_path):
    """Every \\includegraphics has a figure in FIGURES, and drawing twice gives byte-identical PDFs."""
    included = set(re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}", lecture.read_text()))
    first = build.make_figures(lecture.parent, tmp_path / "first")
    second = build.make_figures(lecture.parent, tmp_path / "second")
    assert included <= {path.stem for path in first}, f"no figure script draws {included - {p.stem for p in first}}"
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second], "a figure is not seeded"


def test_every_reference_is_cited_by_some_lecture():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (LECTURES / "references.bib").read_text(), re.M))
    cited = {key.strip() for path in slides() for group in re.findall(r"\\cite\w*(?:\[[^\]]*\])*\{([^}]+)\}", path.read_text()) for key in group.split(",")}
    assert keys and keys <= cited, f"uncited entries in references.bib: {sorted(keys - cited)}"
