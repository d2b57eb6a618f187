# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv when missing, run the whole recipe on the bundled digits example
#   make test   - create .venv when missing, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The versions this project's machines install from local disk; users get the ranges in pyproject.toml.
PINS   := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test bench clean

$(BIN)/dlcheck: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet $(PINS)
	$(BIN)/pip install --quiet --quiet -e '.[dev]'
	touch $(BIN)/dlcheck

demo: $(BIN)/dlcheck
	$(BIN)/dlcheck run recipes/digits.yaml --out dlcheck-out

# Two pytest workers (pytest-xdist), one torch thread each: the CI machine's two cores. A test file
# stays on one worker (--dist loadfile), so the runs it caches are made once. TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2

test: $(BIN)/dlcheck
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Each benchmark prints ratios measured side by side in one run (README, "Benchmarks").
# lr_find/lr_quality score torch-lr-finder too when it is installed:
#   $(BIN)/pip install --no-deps torch-lr-finder tqdm
bench: $(BIN)/dlcheck
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/run_digits.py
	$(BIN)/python benchmarks/lr_find.py
	$(BIN)/python benchmarks/lr_quality.py
	$(BIN)/python benchmarks/hooks.py

clean:
	rm -rf $(VENV) dlcheck-out
