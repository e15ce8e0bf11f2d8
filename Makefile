# vzkit — build, test and demo. Every target works on a fresh Debian 12 machine:
# scripts/deps installs what the target needs first (as root; as another user it
# names the missing packages) and finds or fetches Go. Root is needed for the
# sandbox and the integration tests.

TAGS     ?= seccomp
BIN      ?= bin
PREFIX   ?= /usr/local
GOFLAGS_ := -tags=$(TAGS)
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Integration tests build real Debian roots; give them room but stay well under CI's limit.
TESTTIMEOUT ?= 40m

.PHONY: all build test test-short lint bench demo install fuzz clean

all: build

# WITHGO runs the rest of a recipe line with the go that scripts/deps found
# first on PATH (the tests build binaries with it); its argument is the
# dependency set: build, demo or test.
WITHGO = go=$$(sh scripts/deps $(1)) && export PATH="$$(dirname "$$go"):$$PATH" &&

build:
	@$(call WITHGO,build) \
	go build $(GOFLAGS_) -ldflags "-X main.linkedVersion=$(VERSION)" -o $(BIN)/ ./cmd/vzpkg ./cmd/vzctl

# The test command the README and CI run: every unit and integration test.
test:
	@$(call WITHGO,test) $(MAKE) --no-print-directory lint && \
	go test $(GOFLAGS_) -timeout $(TESTTIMEOUT) -p 2 ./...

# Unit tests only: no network, no mmdebstrap oracles.
test-short:
	@$(call WITHGO,build) go test $(GOFLAGS_) -short ./...

lint:
	@$(call WITHGO,build) \
	out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi; \
	go vet $(GOFLAGS_) ./...

# Short fuzzing of every fuzz target (each for FUZZTIME).
FUZZTIME ?= 10s
fuzz:
	@$(call WITHGO,build) \
	for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; go test $(GOFLAGS_) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: build
	bench/run-all.sh

# The main job end to end: build a Debian cache, create a container, run a command in it.
demo:
	@sh scripts/deps demo >/dev/null
	@$(MAKE) --no-print-directory build
	./demo.sh

install: build
	install -D -m 0755 $(BIN)/vzpkg $(DESTDIR)$(PREFIX)/sbin/vzpkg
	install -D -m 0755 $(BIN)/vzctl $(DESTDIR)$(PREFIX)/sbin/vzctl
	ln -sf vzctl $(DESTDIR)$(PREFIX)/sbin/vzlist   # vzctl run as vzlist is vzlist(8)
	$(BIN)/vzpkg man $(DESTDIR)$(PREFIX)/share/man   # man8/vzpkg*.8
	$(BIN)/vzctl man $(DESTDIR)$(PREFIX)/share/man   # man8/vzctl*.8, vzlist.8, man5/ctid.conf.5, vz.conf.5
	mkdir -p $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	$(BIN)/vzpkg completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vzpkg
	$(BIN)/vzctl completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vzctl
	if [ -f dist/vzkit.service ]; then install -D -m 0644 dist/vzkit.service $(DESTDIR)/lib/systemd/system/vzkit.service; fi

clean:
	rm -rf $(BIN)
