# The two commands the README promises: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt lambda_src/requirements*.txt constraints.txt | sha256sum | cut -c1-12)

.PHONY: venv test lint typecheck unit demo model bench image-check lock clean

venv: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@rm -f $(VENV)/.installed-* && touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

unit: venv
	$(BIN)/python -m pytest

test: lint typecheck unit

lock: venv
	{ echo '# Every package of the dev environment, pinned (pip freeze). Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The demo model: the original architecture with seeded, untrained weights (models/README.md).
models/demo/model.tflite: | venv
	$(BIN)/python -m modelkit.build demo models/demo
	$(BIN)/python -m modelkit.convert models/demo models/demo

model: models/demo/model.tflite

# The whole pipeline on the embedded local cloud: moto + the program's resources + the function.
demo: model
	$(BIN)/python -m local demo

# Benchmarks: (a) our LiteRT path, (b) our TensorFlow path, (c) the original-style handler.
bench: model
	$(BIN)/python -m bench

# The function image built with buildah from a local stand-in base, checked and run against the
# local cloud for each runtime; then the check is shown to fail on broken copies of the image.
image-check: model
	@command -v buildah >/dev/null && command -v podman >/dev/null && command -v debootstrap >/dev/null \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman debootstrap; }
	$(BIN)/python -m imagecheck
	$(BIN)/python -m pytest -m image tests/test_image_build.py
