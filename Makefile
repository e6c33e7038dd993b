# mirror-tools: build, test, benchmark, install.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
CARGO ?= cargo
TOOLS = mtree-list mhash

.PHONY: all build test lint bench install uninstall clean

all: build

build:
	$(CARGO) build --release --locked

# The whole suite: unit and integration tests against the real peers, then lints.
test: build
	$(CARGO) test --release --locked
	$(MAKE) lint

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

bench: build
	bench/run

install: build
	install -d $(BINDIR)
	for t in $(TOOLS); do install -m755 target/release/$$t $(BINDIR)/$$t; done

uninstall:
	for t in $(TOOLS); do rm -f $(BINDIR)/$$t; done

clean:
	$(CARGO) clean
