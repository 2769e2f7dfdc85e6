"""Command line of the autograder: ``python -m autograder COMMAND --help``.

Commands:
    grade      grade a folder of submissions (nbgrader submitted/ layout or plain .ipynb files)
    release    validate homework sources, verify the reference, generate release notebooks and the student bundle
    calibrate  measure thresholds on correct solutions and known bugs and store them with provenance
    course     final course grades from graded homeworks and exam points
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .homework import COURSE_DIR, PROFILES, SMOKE, all_homeworks, find_homework


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade submissions of one homework", description=(
        "Grade every submission in SUBMISSIONS: either nbgrader's submitted/<student>/<homework>/*.ipynb layout or a "
        "folder of <student>.ipynb files. Writes OUT/<student>/result.json and feedback.html, OUT/grades.csv, and the "
        "scores into an nbgrader gradebook. Exits 0 when every submission was graded, whatever the scores."))
    grade.add_argument("homework", help="homework key or folder name, e.g. hw1 or hw1_pixelcnn")
    grade.add_argument("submissions", type=Path, help="folder of submissions")
    grade.add_argument("--profile", choices=PROFILES, default="quick", help="quick: CPU, embedded data; full: GPU, MNIST (default: quick)")
    grade.add_argument("--smoke", action="store_true", help="with --profile full: a CPU smoke run of the full recipe (300 "
                       "images, one epoch, 16 samples), values shown but judged against no threshold")
    grade.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default: 2)")
    grade.add_argument("--out", type=Path, required=True, help="folder for results and feedback")
    grade.add_argument("--checks", help="comma-separated check ids to run (default: all)")
    grade.add_argument("--timeout", type=float, help="CPU seconds each probe of a submission may use, unless a check sets "
                       "its own (default: 60 on quick, 900 on full); a wall-clock backstop five times larger stops code that "
                       "sleeps, so a busy machine gives the same grades")
    grade.add_argument("--gradebook", type=Path, help="nbgrader gradebook to update (default: gradebook.db of the course "
                       "directory for the submitted/ layout, else OUT/gradebook.db)")
    grade.add_argument("--no-gradebook", action="store_true", help="do not write a gradebook")
    grade.add_argument("--quiet", action="store_true", help="no progress bar and no table")

    release = commands.add_parser("release", help="generate release notebooks and the student bundle", description=(
        "For each homework: validate the source against its hidden checks, grade the reference solution (it must get "
        "full automatic marks), run nbgrader generate_assignment into homeworks/release/; write the student seminars "
        "(seminars/source/NN_topic.ipynb -> seminars/NN_topic.ipynb, solutions stubbed); then rebuild dist/student-bundle/."))
    release.add_argument("homeworks", nargs="*", help="homework keys (default: all)")
    release.add_argument("--no-verify", action="store_true", help="skip grading the reference solution")

    calibrate = commands.add_parser("calibrate", help="calibrate thresholds on correct solutions and known bugs", description=(
        "Run each calibrated measure of the homework on the reference solution and the correct alternatives of "
        "grading/variants.py for several seeds, and on its known bugs; print the table; store each threshold between the "
        "worst correct solution and the best bug (refusing when none separates them), the implausibility bound, every "
        "value and provenance in source/<hw>/grading/thresholds.json."))
    calibrate.add_argument("homework")
    calibrate.add_argument("--profile", choices=PROFILES, default="quick")
    calibrate.add_argument("--smoke", action="store_true", help="with --profile full: run the calibration on the smoke "
                           "recipe and print its tables; nothing is written")
    calibrate.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    calibrate.add_argument("--only", nargs="+", help="names of the calibrations to run (default: all)")

    course = commands.add_parser("course", help="course grades: homework points + exam with the course rule", description=(
        "Add up autograded points from grades.csv files (one per homework), hand-graded theory points and exam points "
        "from CSV files with columns student,points, and apply min(floor(total / 10), 10)."))
    course.add_argument("grades", type=Path, nargs="+", help="grades.csv files written by `grade`")
    course.add_argument("--manual", type=Path, nargs="*", default=[], help="CSV files student,points of hand-graded points")
    course.add_argument("--exam", type=Path, help="CSV file student,points of exam points (max 30)")
    course.add_argument("--out", type=Path, required=True, help="CSV file to write")

    args = parser.parse_args(argv)
    if getattr(args, "smoke", False):
        if args.profile != "full":
            parser.error("--smoke shrinks the full profile's recipe: use it with --profile full")
        args.profile = SMOKE
    return {"grade": _grade, "release": _release, "calibrate": _calibrate, "course": _course}[args.command](args)


def _grade(args) -> int:
    from .batch import find_submissions, grade_all

    homework = find_homework(args.homework)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    found, nbgrader_layout = find_submissions(args.submissions, homework)
    if not found:
        print(f"error: no submissions of {homework.name} in {args.submissions}", file=sys.stderr)
        return 2
    gradebook = None
    if not args.no_gradebook:
        gradebook = args.gradebook or (args.submissions.parent / "gradebook.db" if nbgrader_layout else args.out / "gradebook.db")
    checks = args.checks.split(",") if args.checks else None
    results = grade_all(homework, found, args.out, profile=args.profile, jobs=args.jobs, checks=checks, seconds=args.timeout,
                        gradebook_path=gradebook, progress=not args.quiet)
    if not args.quiet:
        _print_table(results, every_check=checks is None)
        print(f"\nresults in {args.out}/" + (f", gradebook {gradebook}" if gradebook else ""))
    return 0


def _print_table(results: list[dict], every_check: bool = True) -> None:
    """One row per student: autograded points and each check's status, under its full id; then how the
    homework's points split (only when every check ran: with --checks the points are those of the checks run)."""
    graded = [r for r in results if r["status"] == "graded" and r["checks"]]
    ids = [c["id"] for c in graded[0]["checks"]] if graded else []
    width = max(len("student"), *(len(r["student"]) for r in results))
    print(f"\n{'student':<{width}}  {'points':>7}  " + "  ".join(ids))
    for r in results:
        if r["status"] != "graded":
            print(f"{r['student']:<{width}}  {'-':>7}  {r['status']}: {r['message']}")
            continue
        statuses = {c["id"]: c["status"] for c in r["checks"]}
        print(f"{r['student']:<{width}}  {r['points']:>3g}/{r['max_points']:<3g}  " + "  ".join(f"{statuses.get(i, '-'):<{len(i)}}" for i in ids))
    if graded and every_check:
        auto, manual = graded[0]["max_points"], graded[0]["manual_max_points"]
        print(f"\npoints: {auto:g} autograded + {manual:g} by hand (theory, in formgrader) = {auto + manual:g}")


def _release(args) -> int:
    from .harness import grade
    from .release import ReleaseError, build_bundle, generate, release_seminar, seminar_sources, validate

    homeworks = [find_homework(key) for key in args.homeworks] if args.homeworks else all_homeworks()
    try:
        for homework in homeworks:
            validate(homework)
            if not args.no_verify:
                result, _ = grade(homework, homework.source_notebook, "reference", "quick")
                failed = [f"{c['id']} ({c['status']}: {c['message']})" for c in result["checks"] if c["status"] != "pass"]
                if failed:
                    raise ReleaseError(f"{homework.name}: the reference solution fails: {'; '.join(failed)}")
            print(f"{homework.name}: wrote {generate(homework, COURSE_DIR)}")
    except ReleaseError as error:
        print(f"release refused: {error}", file=sys.stderr)
        return 1
    for source in seminar_sources():
        print(f"seminar: wrote {release_seminar(source)}")
    print(f"student bundle: {build_bundle(all_homeworks())}")
    return 0


def _calibrate(args) -> int:
    from .calibrate import calibrate

    calibrate(find_homework(args.homework), args.profile, args.seeds, args.only)
    return 0


def _course(args) -> int:
    from .report import write_course_grades

    write_course_grades(args.out, args.grades, args.manual, args.exam)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
