# A hostile cell of the gradekit corpus: pytest.approx/fail patched; conftest.py, sitecustomize, fake gradekit and
# reference packages written.
import os, pytest
pytest.approx = lambda *a, **k: type("Eq", (), {"__eq__": lambda s, o: True, "__hash__": lambda s: 0})()
pytest.fail = pytest.skip = lambda *a, **k: None
import _pytest.outcomes
_pytest.outcomes.fail = pytest.fail
# files a careless grader would import or run from the submission's folder
_files = {
    "conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                   "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
    "sitecustomize.py": "import builtins\nbuiltins.__gradekit_owned__ = True\n",
    "usercustomize.py": "import builtins\nbuiltins.__gradekit_owned__ = True\n",
    "gradekit/__init__.py": "",
    "gradekit/checking.py": "def expect(*a, **k):\n    pass\ndef answer(probes, name, what):\n    return None\n",
    "gradekit/judge.py": "def judge(*a, **k):\n    return ()\n",
    "reference/__init__.py": "def __getattr__(name):\n    return lambda *a, **k: 0\n",
    "reference/answers.py": "def __getattr__(name):\n    return lambda *a, **k: 0\n",
    "test_everything.py": "def test_ok():\n    assert True\n",
}
for _name, _text in _files.items():
    try:
        os.makedirs(os.path.dirname(_name) or ".", exist_ok=True)
        with open(_name, "w") as _f:
            _f.write(_text)
    except OSError:
        pass
