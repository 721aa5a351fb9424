# Two commands for a newcomer: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers. Many tests wait on real servers and terminals more than they compute,
# so a 2-core machine runs 4 workers well; `make test WORKERS=1` runs the suite in one process.
WORKERS ?= 4
PYTEST := $(BIN)/pytest -ra -n $(WORKERS) --dist loadgroup

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cutover-tui demo

# The whole suite: what CI runs (.ci/run), integration tests included.
test: $(STAMP)
	$(PYTEST)

# The inner loop: everything not marked slow or integration (see "Tests" in the README).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow and not integration"

bench: $(STAMP)
	$(BIN)/python -m benchmarks all

clean:
	rm -rf $(VENV) .pytest_cache
