"""What the grader writes: per-student ``result.json`` and ``feedback.html``, and ``grades.csv``.

Feedback shows statuses, messages, measured metrics with their thresholds and the sample grid the
grader drew from the student's model; it never shows the checks' code.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from pathlib import Path

import torch

from dgm.plots import grid_png

from .homework import SMOKE

STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#ef6c00", "timeout": "#6a1b9a"}


def course_grade(points: float) -> int:
    """The course's grade rule: ``min(floor(points / 10), 10)`` of all points (6 x 15 homework + 30 exam)."""
    return min(math.floor(points / 10), 10)


def write_student(out: Path, result: dict, artifacts: dict[str, torch.Tensor]) -> None:
    """Write ``out/<student>/result.json``, ``feedback.html`` and one PNG per artifact."""
    folder = out / result["student"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    images = {}
    for name, tensor in artifacts.items():
        png = grid_png(tensor)
        (folder / f"{name}.png").write_bytes(png)
        images[name] = png
    (folder / "feedback.html").write_text(feedback_html(result, images))


def feedback_html(result: dict, images: dict[str, bytes]) -> str:
    """A self-contained HTML page (images inlined) for one student."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c['id'])}</td><td style='color:{STATUS_COLOURS.get(c['status'], '#000')}'><b>{e(c['status'])}</b></td>"
        f"<td>{c['points']:g} / {c['max_points']:g}</td><td>{e(c['message'])}</td></tr>"
        for c in result["checks"]
    )
    metrics = "".join(
        f"<tr><td>{e(name)}</td><td>{_number(m['value'])}</td><td>{_needed(m)}</td><td>{_number(m['reference'])}</td></tr>"
        for name, m in result.get("metrics", {}).items()
    )
    pictures = "".join(
        f"<figure><img alt='{e(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<figcaption>{e(name)}: drawn by the grader from your model</figcaption></figure>"
        for name, png in images.items()
    )
    banner = f"<p class='banner'>{e(result['message'])}</p>" if result["message"] else ""
    if result["profile"] == SMOKE:
        banner += ("<p class='banner'>A smoke run: the full profile's recipe on a few hundred images for one epoch, to show that "
                   "it runs. Measured values are shown but judged against no threshold, so these points are not a grade.</p>")
    metrics_table = (
        f"<h2>Measured by the grader</h2><table><tr><th>metric</th><th>yours</th><th>needed</th><th>reference</th></tr>{metrics}</table>"
        if metrics else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(result['homework'])}: {e(result['student'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}}.banner{{background:#fff3e0;padding:.5em}}
img{{image-rendering:pixelated;max-width:100%}}</style></head><body>
<h1>{e(result['homework'])}: feedback for {e(result['student'])}</h1>
<p><b>Autograded points: {result['points']:g} / {result['max_points']:g}</b> (profile {e(result['profile'])}).
The homework has {result['max_points']:g} autograded + {result['manual_max_points']:g} hand-graded points = {result['max_points'] + result['manual_max_points']:g};
theory answers are graded by hand and are not included here.</p>
{banner}
<table><tr><th>check</th><th>status</th><th>points</th><th>message</th></tr>{rows}</table>
{metrics_table}
{pictures}
<p><small>Graded in {result['seconds']:g} s. Isolation: {e(result['sandbox'])}. Grader seed {result['seed']}.</small></p>
</body></html>
"""


def _needed(metric: dict) -> str:
    if metric.get("threshold") is None:
        return "(shown for information)"
    return f"{'at most' if metric['better'] == 'lower' else 'at least'} {_number(metric['threshold'])}"


def _number(value: float | None) -> str:
    """A measured value for people: counts (e.g. classes covered) as integers, the rest to 3 decimals."""
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"


def write_csv(path: Path, results: list[dict]) -> None:
    """One row per student: autograded points, their status, and what the course rule makes of them."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "homework", "profile", "status", "points", "max_points", "manual_max_points", "message"])
        for r in sorted(results, key=lambda r: r["student"]):
            writer.writerow([r["student"], r["homework"], r["profile"], r["status"], f"{r['points']:g}", f"{r['max_points']:g}", f"{r['manual_max_points']:g}", r["message"]])


def _read_points(path: Path) -> dict[str, float]:
    with open(path, newline="") as file:
        return {row["student"]: float(row["points"]) for row in csv.DictReader(file)}


def write_course_grades(out: Path, grades: list[Path], manual: list[Path], exam: Path | None) -> None:
    """Course grades: every homework's autograded points, hand-graded points and exam points, summed,
    with :func:`course_grade` applied. A homework that was ungradable for a student is named in the
    ``attention`` column instead of silently counting as 0."""
    columns: dict[str, dict[str, float]] = {}
    attention: dict[str, list[str]] = {}
    for path in grades:
        with open(path, newline="") as file:
            for row in csv.DictReader(file):
                columns.setdefault(row["homework"], {})[row["student"]] = float(row["points"])
                if row["status"] != "graded":
                    attention.setdefault(row["student"], []).append(f"{row['homework']} {row['status']}")
    for index, path in enumerate(manual):
        columns[f"manual_{index + 1}" if len(manual) > 1 else "manual"] = _read_points(path)
    if exam is not None:
        columns["exam"] = _read_points(exam)
    students = sorted({s for points in columns.values() for s in points})
    with open(out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student", *columns, "total", "grade", "attention"])
        for student in students:
            values = [columns[name].get(student, 0.0) for name in columns]
            total = sum(values)
            writer.writerow([student, *(f"{v:g}" for v in values), f"{total:g}", course_grade(total), "; ".join(attention.get(student, []))])
