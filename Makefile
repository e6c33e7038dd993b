# mirror-tools: build, test, benchmark, install.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
CARGO ?= cargo
TOOLS = mtree-list mhash mcopy mcheck
PAGES = $(addsuffix .1,$(TOOLS) run-mirror)

.PHONY: all build test lint bench fuzz stress install uninstall clean

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
	shellcheck bin/run-mirror bench/run bench/stress bench/hdd .ci/run
	for p in $(PAGES); do mandoc -T lint -W warning man/$$p || exit 1; done

bench: build
	bench/run

# The parsers of untrusted input (manifests, path streams) under the mutation fuzzer.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release --locked --test fuzz -- --nocapture

# A tree of 1,000,000 empty files listed, hashed, copied and checked, with peak memory.
stress: build
	bench/stress

install: build
	for t in $(TOOLS); do install -Dm755 target/release/$$t $(BINDIR)/$$t || exit 1; done
	install -Dm755 bin/run-mirror $(BINDIR)/run-mirror
	for p in $(PAGES); do install -Dm644 man/$$p $(MANDIR)/$$p || exit 1; done

uninstall:
	for t in $(TOOLS) run-mirror; do rm -f $(BINDIR)/$$t; done
	for p in $(PAGES); do rm -f $(MANDIR)/$$p; done

clean:
	$(CARGO) clean
