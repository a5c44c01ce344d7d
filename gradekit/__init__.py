"""gradekit: grade Jupyter notebooks by running them sandboxed and judging their outputs outside."""

__version__ = "0.1.0"
