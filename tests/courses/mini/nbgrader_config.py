"""nbgrader's configuration for this course (gradekit's own settings are in gradekit.toml).

Both ``nbgrader generate_assignment mini --force`` (run from this folder) and
``gradekit.release.generate_release`` read this file, so they write the same release/mini/.
gradekit.nbgrader_ext.config.configure sets the folders, the markers and the release chain (nbgrader's
default with gradekit's two preprocessors in the one order that works); add your own settings below.

Seeded bugs: in any answer cell of source/mini/mini.ipynb, write

    ### BEGIN SEEDED BUG
    ### RELEASE: <the buggy line students get>      (one or more; indented like the code)
    <the correct line(s)>
    ### END SEEDED BUG

No Python needs to change to add one.  An answer cell whose given code students edit without a seeded
bug (e.g. "Your details") carries the cell tag ``keep-in-release``.
"""
import os

from gradekit.nbgrader_ext.config import configure

c = get_config()  # noqa: F821 -- provided by traitlets when it loads this file

# The course root is this folder wherever nbgrader is started from; `nbgrader autograde` (the benchmark
# baseline) gets gradekit.toml's cell_timeout_s (nbgrader's 30 s is shorter than the sweep).
configure(c, os.path.dirname(os.path.abspath(__file__)), cell_timeout_s=30)
