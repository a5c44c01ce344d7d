"""gradekit: grade Jupyter notebooks by running them sandboxed and judging their outputs outside."""
import sys as _sys

# nbformat imports jsonschema, whose optional IRI format checker pulls in rfc3987_syntax, which
# compiles dozens of lark grammars at import: ~1.5 s of CPU in every gradekit process that reads a
# notebook, for a format nbformat's schema never uses.  Marked absent, jsonschema skips that checker
# (kernel_runner.py, which imports nothing from gradekit, does the same for the sandbox).
_sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__version__ = "0.1.0"
