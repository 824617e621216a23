# Two set-up commands matter: `make run` and `make test`. Both create the venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck bench clean emulator update-extractor docs

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt musicbot/voice/_rtpfast.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# With DISCORD_TOKEN (or a token_file in config.toml) this connects to Discord;
# without one it starts the local Discord emulator and a console in the same process.
run: $(STAMP)
	$(BIN)/python -m musicbot run --config config.toml

emulator: $(STAMP)
	$(BIN)/python -m musicbot emulator

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict musicbot actors

# The documentation build is part of the gate: a public name without a docstring or a broken
# cross-reference fails it (offline; `dot` comes from graphviz, .ci/system-packages.txt).
test: $(STAMP) lint typecheck docs
	$(BIN)/python -m pytest -q

# YouTube breaks old yt-dlp within weeks: upgrade yt-dlp, its challenge solver (yt-dlp-ejs) and
# deno inside the venv, outside the pins of constraints.txt (on purpose); prints what changed and
# whether yt-dlp still sees its runtime and solver. Restart the bot afterwards.
update-extractor: $(STAMP)
	$(BIN)/python -m musicbot.extract.update
# The documentation site (Sphinx): API reference, architecture, guides. Offline; a warning
# (broken cross-reference, public name without a docstring) fails the build.
docs: $(STAMP)
	rm -rf docs/_build docs/api/_autosummary
	$(BIN)/sphinx-build -b html -W --keep-going -n -q docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache docs/_build docs/api/_autosummary
