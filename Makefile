# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit venv clean bench bench-plans bench-bank bench-social bench-send bench-portal bench-api system

# Debian packages: poppler-utils (pdftotext, pdftoppm) reads back the PDFs in tests;
# libharfbuzz-subset0 lets WeasyPrint subset fonts (it warns, and later refuses, without);
# chromium is the real browser the portal and console tests drive with Playwright (Debian's
# build at /usr/bin/chromium: no browser download).
SYSTEM_PACKAGES := poppler-utils libharfbuzz-subset0 chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

venv: $(STAMP)

# Re-install whenever the dependency pins change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) system
	$(BIN)/python -m respite.entrypoints.cli.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system
	$(BIN)/pytest

test: lint typecheck unit

# Performance targets live here, not in tests: one nightly cycle over 1M cases.
bench: $(STAMP)
	$(BIN)/python bench/cycle.py --cases $${CASES:-1000000}

# Coordinated payment plans for 100,000 debtors with 1-20 creditors each.
bench-plans: $(STAMP)
	$(BIN)/python bench/plans.py --debtors $${DEBTORS:-100000}

# Import, match and allocate a 100,000-entry CAMT.053; ratio to a bare lxml iterparse.
bench-bank: $(STAMP)
	$(BIN)/python bench/bank.py --entries $${ENTRIES:-100000}

# One morning's messages for a 5,000-debtor portfolio (SMTP sink, SMS provider, letters)
# and the day's print batch.
bench-send: $(STAMP) system
	$(BIN)/python bench/messaging.py --debtors $${DEBTORS:-5000}

# The social collection report over 1M cases and a year of events (portfolio cached).
bench-social: $(STAMP)
	$(BIN)/python bench/social_report.py --cases $${CASES:-1000000}

# The portal's case page and plan offer at 200 req/s (hey) and flat out (wrk), with 2 server
# workers (one per core; WORKERS=1 for one), beside a bare FastAPI route served the same way.
bench-portal: $(STAMP)
	@for p in hey wrk; do command -v $$p >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq hey wrk >/dev/null; break; }; done
	$(BIN)/python bench/portal.py --debtors $${DEBTORS:-2000} --workers $${WORKERS:-2}

# 100,000 claims by CSV through the creditor API (a real `respite serve`); ratio to the
# intake service called directly in the same run.
bench-api: $(STAMP)
	$(BIN)/python bench/api_intake.py --rows $${ROWS:-100000}

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
