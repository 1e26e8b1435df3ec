# Quick start: `make demo` and `make test`. TORCH picks the torch requirement: on machines where a
# bare `torch` pulls a multi-GB CUDA build, `make test TORCH=torch==2.13.0` takes the local CPU wheel.
PYTHON ?= python3
TORCH ?= torch
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	# Only the CLIP BPE vocabulary file is used (tests build a real CLIPTokenizer from it);
	# --no-deps keeps open_clip's torchvision requirement out.
	$(BIN)/pip install -q --no-deps "open-clip-torch>=2.20"

demo: venv
	$(BIN)/diff2in1 demo

lint: venv
	$(BIN)/ruff check src tests bench

# Everything the tests need is installed above, so a fixture that is still missing fails instead of skipping.
test: venv
	$(BIN)/ruff check src tests bench
	DIFF2IN1_REQUIRE_FIXTURES=1 $(BIN)/pytest -q

clean:
	rm -rf $(VENV) runs data/rooms build *.egg-info src/*.egg-info
