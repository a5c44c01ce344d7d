"""nbgrader's configuration for the minimal course (read by `nbgrader generate_assignment mini` and gradekit)."""
import os

from gradekit.nbgrader_ext.config import configure

c = get_config()  # noqa: F821 -- provided by traitlets when it loads this file
configure(c, os.path.dirname(os.path.abspath(__file__)), cell_timeout_s=30)
