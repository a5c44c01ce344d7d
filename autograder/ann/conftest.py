"""Course fixtures for the ANN checks, built on the engine's fixtures
(probes, identity, cid, exercise, reference, course)."""
import pytest


@pytest.fixture
def expected_sweep(course, reference, exercise, cid):
    """The reference sweep for this student's CID (cached on disk per CID, parameters and code)."""
    return course.expected_sweep(reference, exercise, cid)
