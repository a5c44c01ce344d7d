"""Imported first in the local workers' server (gradekit.executors.worker_context), and nowhere else:
one intra-op thread for every numeric library that process (and each worker forked from it) loads
after it.  OpenMP and BLAS read these variables once, when they are loaded: a worker that set them
itself would be too late.  Importing this module is its whole point."""
import os

from .executors import SINGLE_THREAD_ENV

os.environ.update(SINGLE_THREAD_ENV)
