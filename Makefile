# The two commands a new user runs: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.debian-packages
# Debian packages the tests and letters need: a CJK font for Chinese letters in PDF,
# pdftotext to read a rendered letter back, and Chromium for the browser tests (driven by
# Playwright through its executable path: no browser download).
DEBIAN_PACKAGES := fonts-wqy-microhei poppler-utils chromium

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(SYSTEM_STAMP): $(STAMP) Makefile
	@if [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && command -v pdftotext >/dev/null \
		&& [ -x /usr/bin/chromium ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES); \
	else \
		echo "please install the Debian packages $(DEBIAN_PACKAGES) (sudo apt-get install ...)" >&2; exit 1; \
	fi
	touch $@

demo: $(STAMP)
	$(BIN)/recoup demo

test: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/close_portfolio.py --accounts 100000 --days 90

clean:
	rm -rf $(VENV) recoup.db demo-portfolio bench/out
