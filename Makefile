# ser-live: commands for a fresh machine (Debian 12, Python >= 3.11), no prompts.
#
#   make setup      system libraries + .venv with ser-live and the training extras
#   make live       setup, then run ser-live (replays the bundled demo if there is no microphone)
#   make test-deps  system packages for the tests (PulseAudio null-sink microphone, espeak-ng, sox)
#                   + .venv with the dev and deep (CPU PyTorch) extras
#   make test       test-deps, then the test suite
#   make demo       rebuild ser_live/data/demo.wav from the RAVDESS corpus (../shared/data)
#
# Runs as root (apt-get) or as a user with sudo. Re-runs are fast: Debian packages are
# installed only when `dpkg-query` says they are missing, and pip runs again only when
# pyproject.toml is newer than the last install (stamp files in .venv/).
# Variables: PYTHON (interpreter for the venv), ARGS (extra arguments for `make live`),
# PYTEST_ARGS (extra arguments for `make test`; pytest also reads $PYTEST_ADDOPTS).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

APT_RUNTIME := libportaudio2 libsndfile1
APT_TEST := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox libsndfile1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export DEBIAN_FRONTEND := noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# $(call apt_ensure,packages...): install the packages that are not installed, nothing else.
define apt_ensure
missing=""; \
for p in $(1); do \
  status=$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null || true); \
  [ "$$status" = "install ok installed" ] || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "apt-get: installing$$missing"; \
  $(SUDO) apt-get update -qq; \
  $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

.PHONY: help setup live test-deps test demo apt-runtime apt-test venv clean-venv

help:
	@sed -n '3,8p' Makefile | sed 's/^# \{0,1\}//'

apt-runtime:
	@$(call apt_ensure,$(APT_RUNTIME))

apt-test:
	@$(call apt_ensure,$(APT_TEST))

# A venv needs ensurepip, which Debian's own python3 has only with python3-venv.
$(VPY):
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  $(call apt_ensure,python3-venv); \
	fi
	$(PYTHON) -m venv $(VENV)

venv: $(VPY)

$(VENV)/.installed-train: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[train]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[dev]'
	@touch $@

# The deep extra (PyTorch for tests/test_deep.py), then a check that pip took the CPU-only
# build (see the comment on `deep` in pyproject.toml), not a multi-GB CUDA one.
$(VENV)/.installed-deep: pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e '.[deep]'
	$(VPY) -c 'import sys, torch; sys.exit(None if torch.version.cuda is None else f"torch {torch.__version__} is a CUDA build: install the CPU one (pyproject.toml, extra deep)")'
	@touch $@

setup: apt-runtime $(VENV)/.installed-train

live: setup
	$(VENV)/bin/ser-live $(ARGS)

test-deps: apt-test $(VENV)/.installed-dev $(VENV)/.installed-deep

test: test-deps
	$(VPY) -m pytest -q -ra $(PYTEST_ARGS)

demo: $(VENV)/.installed-dev
	$(VPY) -m train.make_demo

clean-venv:
	rm -rf $(VENV)
