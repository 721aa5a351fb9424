# Two commands for a newcomer: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers. Many tests wait on real servers and terminals more than they compute,
# so a 2-core machine runs 8 workers best of those tried (2026-12-02, on 2 cores: from fresh clones 8 workers
# 4 min 32 s, 6 workers 4 min 43 s; in a worktree 4 workers a fifth slower than 8); `make test WORKERS=0` runs the
# suite in this one process.
WORKERS ?= 8
PYTEST := $(BIN)/pytest -ra -n $(WORKERS) --dist loadgroup
# The suite starts hundreds of Python processes (workers, the CLI, benchmarks, crash writers).
# Cached bytecode spares each one compiling the sources (and pytest rewriting the tests) again:
# half the CPU of `make test-fast`. So the bytecode is written (__pycache__ is ignored by git),
# compiled once before the workers start, whatever PYTHONDONTWRITEBYTECODE says outside.
unexport PYTHONDONTWRITEBYTECODE
COMPILE := $(BIN)/python -m compileall -q -j 0 cutover_tui checks runbooks benchmarks tests
# pytest compiles the test modules itself (their assertions rewritten) into a cache of its own, and the first imports
# of the venv's packages write theirs: cold, 7.5 s of CPU in each worker, all of them at once. In a fresh clone, one
# collection before the workers does it once, in two halves side by side (10.7 s alone, 7.9 s in two); its errors,
# if any, are the suite's own to report. Once pytest's cache is there, it would only cost 3 s.
COLLECT := $(BIN)/pytest --collect-only -q -p no:cacheprovider
WARM := ls tests/unit/__pycache__/*-pytest-*.pyc >/dev/null 2>&1 \
	|| { $(COLLECT) tests/unit >/dev/null & $(COLLECT) tests/app tests/integration >/dev/null; wait; } || true

.PHONY: demo test test-fast check bench clean

# The venv: uv installs the packages (`uv pip install`, the same versions pip picks) in about 10 s where pip takes
# 60 s, most of it CPU: resolving, unpacking, compiling every package's bytecode, which the first imports write
# instead. uv comes first from PyPI, into the venv; where it cannot be had, or cannot reach an index, pip does it all.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	($(BIN)/pip install --quiet 'uv>=0.5' && $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test,dev]') \
	  || (echo "uv could not install the packages (above): pip installs them instead (about a minute)" \
	      && $(BIN)/pip install --quiet -e '.[test,dev]')
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cutover-tui demo

# The whole suite: what CI runs (.ci/run), integration tests included.
test: $(STAMP)
	$(COMPILE)
	$(WARM)
	$(PYTEST)

# The inner loop: everything not marked slow or integration (see "Tests" in the README).
test-fast: $(STAMP)
	$(COMPILE)
	$(WARM)
	$(PYTEST) -m "not slow and not integration"

# Lint and format (ruff), types (mypy), the layers' import contracts (import-linter): all in pyproject.toml.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m benchmarks all

clean:
	rm -rf $(VENV) .pytest_cache
