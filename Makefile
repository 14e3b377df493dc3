# The two commands of the README. Each creates or refreshes .venv from pyproject.toml first,
# so a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL_DIR ?= model_artifacts/flights
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: run test install demo lint browser bench bench-repository bench-explorer bench-quality bench-scale docker-test audit clean

# One line per step (pip itself stays quiet); setuptools' note on editable installs is silenced.
$(STAMP): pyproject.toml
	@echo "install 1/3: the virtual environment $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "install 2/3: pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "install 3/3: catembed with TensorFlow, Ray and the test tools (the first time: 3-6 minutes)"
	@PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[train,dev,bench,distributed,onnx,mlflow]"  # bench: its smoke tests run in the suite; distributed: the Ray tests; onnx: the export tests; mlflow: the tracking tests
	@touch $@
	@echo "installed in $(VENV)"

install: $(STAMP)

# a demo bundle of an earlier catembed (format 1, pickled encoders) was trained by this checkout's own
# `make run`: it is converted in place (catembed upgrade-bundle) rather than trained again
demo: $(STAMP)
	@if ls $(MODEL_DIR)/*/manifest.json >/dev/null 2>&1; then \
		echo "demo model found in $(MODEL_DIR)"; \
		$(BIN)/catembed upgrade-bundle $(MODEL_DIR); \
	else \
		echo "training the built-in NYC flights demo model (once, 2-5 minutes: one line per step and epoch)"; \
		$(BIN)/catembed train --demo --out $(dir $(MODEL_DIR)) --name $(notdir $(MODEL_DIR)) && \
		echo "training it again with another seed: version 2, so the explorer can compare two versions" && \
		$(BIN)/catembed train --demo --seed 1 --out $(dir $(MODEL_DIR)) --name $(notdir $(MODEL_DIR)); \
	fi

run: demo
	CATEMBED_MODEL_DIR=$(MODEL_DIR) $(BIN)/catembed serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy features training app scoring cli
	$(BIN)/hadolint Dockerfile

# The explorer's browser tests drive Debian's Chromium (never a downloaded browser). Installed here
# when missing and we are root; if that fails, those tests skip and say why.
browser:
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the explorer's browser tests will be skipped"

test: lint browser
	$(BIN)/pytest -q

bench: $(STAMP)  # the README performance table: latency, throughput, batch, training, footprint
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.perf

bench-repository: $(STAMP)  # docs/repository.md: RSS of one server with 1 vs 10 demo-sized models
	nice -n 10 $(BIN)/python -m bench.repository --models 10

bench-explorer: $(STAMP) browser  # the explorer's time-to-drawn for a 50,000-value vocabulary
	nice -n 10 $(BIN)/python -m bench.explorer

bench-quality: $(STAMP)  # the README quality table: catembed vs LightGBM vs LightGBM + embeddings
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	nice -n 10 $(BIN)/python -m bench.quality.run --seeds 3

bench-scale: $(STAMP)  # docs/scale.md: peak RSS of streaming training at 1M/4M/16M rows, flights rows/s, stats engines
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	nice -n 10 $(BIN)/python -m bench.scale
	nice -n 10 $(BIN)/python -m bench.stats_engines --rows 16000000

# Known vulnerabilities in what the service ships: the serving dependency closure, pinned to the
# installed versions. --strict: a package the service cannot look up is a failure, not a pass.
audit: $(STAMP)
	@$(BIN)/python .ci/serving_requirements.py > $(VENV)/serving-requirements.txt
	$(BIN)/pip-audit --strict --disable-pip --no-deps --progress-spinner off -r $(VENV)/serving-requirements.txt

docker-test: $(STAMP)  # only the container test: build both images, compose up, call, down -v
	COMPOSE_BAKE=false $(BIN)/pytest -q -s -m docker tests/docker

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
