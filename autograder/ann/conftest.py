"""Course fixtures for the ANN checks, built on the engine's fixtures
(probes, identity, cid, exercise, reference, course)."""
import pytest


@pytest.fixture
def reference_sweep(course, reference, exercise, cid):
    """student sweep -> the reference's final losses at the rates to compare for that student (the
    spot checks of course.expected_sweep; cached on disk per CID, rate, parameters and code)."""
    return lambda student: course.expected_sweep(reference, exercise, cid, student)
