"""Course fixtures for the ANN checks, built on the engine's fixtures
(probes, identity, cid, exercise, reference, course)."""
import pytest


@pytest.fixture
def reference_sweep(course, reference, exercise, cid):
    """() -> the reference's final loss at every learning rate for this CID (course.expected_sweep;
    cached on disk per CID, rate, parameters and code, usually by `gradekit precompute`).  A callable,
    so that a check asks for it only once the student has a sweep to compare."""
    return lambda: course.expected_sweep(reference, exercise, cid)
