# Set-up and the two jobs: `make book` (build the book) and `make test` (run the tests).
# Everything installs into .venv from pyproject.toml, pinned by constraints.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install book test bench go-reference lbs clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[book,test,go]'
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/python tools/build_book.py

# The tests include checks of the built book, so the book is built (and every chapter run) first.
test: $(STAMP)
	$(BIN)/python tools/build_book.py
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/server_overhead.py

# The Go reference server for the fidelity comparison (installs Go with apt-get when run as root).
go-reference:
	tools/go_reference.sh

# Debian's haproxy and nginx for the real-load-balancer chapter (apt-get as root; never starts the services).
lbs:
	tools/install_lbs.sh

clean:
	rm -rf _build
