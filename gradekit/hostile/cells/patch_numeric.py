# A hostile cell of the gradekit corpus: np.allclose, numpy.testing and math.isclose always agree.
import math, numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_almost_equal = lambda *a, **k: None
np.testing.assert_equal = np.testing.assert_array_almost_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
