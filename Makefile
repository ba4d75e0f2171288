# Set-up and the two jobs: `make book` (build the book) and `make test` (run the tests).
# Python packages install into .venv from pyproject.toml, pinned by constraints.txt (Go 1.23.4, uvicorn
# and gunicorn among them, from PyPI). As root on Debian/Ubuntu, the system packages the live pages use
# (haproxy, nginx, apache2, nodejs, Go's x/net and x/sync) are installed too, with their services never
# started; elsewhere the build says what is missing and those pages show recordings.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PDF_STAMP := $(VENV)/.installed-pdf

.PHONY: install system book test bench go go-reference lbs pdf clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[book,test,go,zoo]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages for the live pages (apt-get as root; says what is missing otherwise).
system:
	tools/system_packages.sh

book: $(STAMP) system
	$(BIN)/python tools/build_book.py

# The tests include checks of the built book, so the book is built (and every chapter run) first.
test: $(STAMP) system go-reference
	$(BIN)/python tools/build_book.py
	$(BIN)/python -m pytest

# Figures, not tests: the lab server's own overhead, the lab's cost per hop of the experiments' chain,
# and the lab server against the Go reference under Debian's wrk (installed with apt-get as root when
# missing; without it that last part says what to install).
bench: $(STAMP) go-reference
	@command -v wrk >/dev/null || [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
	$(BIN)/python benchmarks/server_overhead.py
	$(BIN)/python benchmarks/chain_overhead.py
	$(BIN)/python benchmarks/server_vs_go.py

# The Go programs under code/go-fixes, built and vetted with Go 1.23.4.
go: $(STAMP) system
	tools/go_build.sh

# The Go reference server for the fidelity comparison, built with Go 1.23.4 from .venv (status 3:
# no toolchain here, and the fidelity pages and tests use the recording instead).
go-reference: $(STAMP)
	tools/go_reference.sh || [ $$? -eq 3 ]

lbs: system

# pypdf, for `make pdf` only.
$(PDF_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[pdf]'
	touch $(PDF_STAMP)

# The whole book as one PDF, and the handout page alone, in _build/pdf: Debian's Chromium prints the
# pages the HTML build made (no chapter runs again, nothing is downloaded but the Debian package).
# Builds the book first when it was never built. Installs chromium with apt-get as root; otherwise
# says what to run and stops.
pdf: $(PDF_STAMP)
	@[ -f _build/html/index.html ] || $(MAKE) book
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
	    if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "pdf: installing Debian's chromium"; \
	        apt-get update -qq && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	    else \
	        echo "pdf: Chromium is missing; on Debian or Ubuntu: sudo apt-get install -y --no-install-recommends chromium" >&2; \
	        exit 1; \
	    fi; \
	fi
	$(BIN)/python tools/build_pdf.py

clean:
	rm -rf _build
