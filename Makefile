# Two commands for a newcomer:  `make demo`  and  `make test`.
# Everything runs from the project-local virtual environment .venv/ (ignored by git).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast corpus bench clean

install: $(STAMP)

# Re-install when the dependency list changes. bubblewrap (the sandbox) and libseccomp2 (its syscall
# filter) come from Debian's packages.
$(STAMP): pyproject.toml
	@{ command -v bwrap >/dev/null 2>&1 && ldconfig -p | grep -q 'libseccomp\.so\.2'; } || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -q && apt-get install -y -q bubblewrap libseccomp2) >/dev/null; \
	  else echo "WARNING: bubblewrap/libseccomp2 missing and I am not root: run 'sudo apt-get install bubblewrap libseccomp2'"; fi; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(STAMP)

demo: install
	$(VENV)/bin/gradekit demo --out demo-out

# Two pytest-xdist processes by default (this is a 2-core machine; each sandboxed run is one thread).
# --dist loadfile: a test module is one unit, handed out in the order tests/conftest.py sorts them
# (longest first; --no-loadscope-reorder keeps that order); the shared cohort is graded once per run
# (tests/shared_cohort.py).  pytest's exit code 5 (no test collected) fails (.ci/pytest-nonempty).
TEST_JOBS ?= 2

test: install
	bash .ci/pytest-nonempty $(PY) -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The inner loop: no sandbox, nothing slow (under a minute).  `make test` is what CI runs.
test-fast: install
	bash .ci/pytest-nonempty $(PY) -m pytest -m "not sandbox and not slow" -q $(PYTEST_ARGS)

# Every hostile case on the course's own notebook (CI grades the engine's cases on tests/courses/mini).
corpus: install
	$(VENV)/bin/gradekit corpus --out corpus-out

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) demo-out corpus-out .gradekit-cache
