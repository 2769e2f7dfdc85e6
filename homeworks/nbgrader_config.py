"""nbgrader configuration of the course directory (this folder).

`make release` runs `nbgrader generate_assignment` here; the autograder (`python -m autograder`)
reads the same source/ and release/ folders and writes scores into gradebook.db beside this file.
"""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Only the notebook is released: hidden checks, probes and thresholds stay in source/<hw>/grading/.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "grading"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
