# Berth: build, run and test.
#
#   make up      set the machine up, build, run an all-in-one Berth
#   make test    set the machine up, vet, run every test (-race) but test-host's, fuzz briefly
#   make test-host  compose the real Debian host and boot it (test/hostboot; minutes)
#   make vet     gofmt, go vet and staticcheck; fails on any finding
#   make build   bin/berth (static, version stamped)
#   make image   the Docker image berth:$(VERSION) and berth:latest, offline
#   make bench   benchmarks in ./bench/...
#   make fuzz    short runs of the manifest decoder and treefile loader fuzz targets
#   make clean   remove build outputs

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
PKG      := github.com/berthpaas/berth
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/backend/version.Version=$(VERSION) -X $(PKG)/backend/version.Commit=$(COMMIT)
BIN      := bin/berth

# Version comes from the linker flags above, not from Go's VCS stamping (which
# fails in trees without .git or with odd ownership).
export GOFLAGS ?= -buildvcs=false

TEST_TIMEOUT  ?= 15m
HOST_TEST_TIMEOUT ?= 40m
FUZZTIME      ?= 10s
BENCH_TIMEOUT ?= 45m
# staticcheck at a pinned version, run from the module proxy's source and
# kept out of go.mod; go run caches its build, staticcheck its analysis.
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
IMAGE         ?= berth
IMAGE_CTX     := out/image

# Say what runs, then run it.
run = echo '==> $(subst ','\'',$(1))' && $(1)

.PHONY: all build setup up test test-host vet unit fuzz bench image clean help examples

all: build

help:
	@sed -n '3,12p' Makefile | sed 's/^# *//'

## build: the static berth binary in bin/berth
build:
	@mkdir -p bin
	@$(call run,CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth)
	@echo "built $(BIN) $(VERSION) ($(COMMIT))"

## setup: install what is missing on this machine and make sure Docker answers
setup:
	@$(call run,bash scripts/setup)

## up: all-in-one Berth on this machine (prints its URL and admin credentials)
up: setup build examples
	@$(call run,./$(BIN) up)

## test: vet, all tests with the race detector, then a short fuzz run
test: setup
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz
	@echo "==> make test: all passed"

## vet: gofmt (any unformatted file fails), go vet, staticcheck
vet:
	@echo '==> gofmt -l .'
	@files="$$(gofmt -l .)"; if [ -n "$$files" ]; then \
		echo "gofmt: not formatted (run gofmt -w on them):"; echo "$$files"; exit 1; fi
	@$(call run,$(GO) vet ./...)
	@$(call run,$(GO) run $(STATICCHECK) ./...)

# unit first builds, through the tests' own helper, the programs the tests
# run (berth, and kubectl from source: minutes on a cold cache), so that
# this happens once, outside the other packages' timeouts, and they link
# from Go's build cache.
unit:
	@$(call run,$(GO) test -count=1 -run '^Test(Kubectl|Berth)$$' ./internal/testbin)
	@$(call run,$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/test/hostboot$$'))

## test-host: compose Berth's Debian host from deb.debian.org and boot it
## (test/hostboot). It takes minutes (about four here on a quiet machine,
## most of it installing packages) and needs Debian's mirror, so make test,
## and with it CI, leaves it out: run it when hostimage/ or ostree-compose/
## change.
## Downloaded packages are kept in ~/.cache/berth/hostimage-test.
test-host: setup
	@$(call run,$(GO) test -count=1 -v -timeout $(HOST_TEST_TIMEOUT) ./test/hostboot)

## fuzz: the manifest decoder and the treefile loader fuzz targets for a short while
fuzz:
	@$(call run,$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./backend/manifest)
	@$(call run,$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./hostimage)

## bench: every benchmark in ./bench/... once, and the node agent's usage sampling; each prints its own figures
bench:
	@$(call run,bash scripts/setup --bench)
	@$(call run,$(GO) test -run '^$$' -bench . -benchtime 1x -timeout $(BENCH_TIMEOUT) ./bench/...)
	@$(call run,$(GO) test -run '^$$' -bench '^BenchmarkUsageSampling$$' -benchtime 1x -timeout $(BENCH_TIMEOUT) ./backend/node/)

## image: build the berth image without any registry (FROM scratch + binary)
image: build
	@rm -rf $(IMAGE_CTX)
	@mkdir -p $(IMAGE_CTX)/rootfs/tmp $(IMAGE_CTX)/rootfs/var/lib/berth
	@chmod 1777 $(IMAGE_CTX)/rootfs/tmp
	@cp $(BIN) $(IMAGE_CTX)/berth
	@cp Dockerfile .dockerignore $(IMAGE_CTX)/
	@echo "==> build context $(IMAGE_CTX): berth, Dockerfile, rootfs/{tmp,var/lib/berth}"
	@$(call run,docker build -t $(IMAGE):$(VERSION) -t $(IMAGE):latest $(IMAGE_CTX))

clean:
	rm -rf bin out

## examples: the sample images berth-examples/hello and berth-examples/shell, offline
EXAMPLES_CTX := out/examples
examples: setup
	@rm -rf $(EXAMPLES_CTX) && mkdir -p $(EXAMPLES_CTX)/hello $(EXAMPLES_CTX)/shell/rootfs/bin $(EXAMPLES_CTX)/shell/rootfs/tmp
	@$(call run,CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(EXAMPLES_CTX)/hello/hello ./examples/hello)
	@cp examples/hello/Dockerfile $(EXAMPLES_CTX)/hello/
	@$(call run,docker build -q -t berth-examples/hello:latest $(EXAMPLES_CTX)/hello)
	@cp /bin/busybox $(EXAMPLES_CTX)/shell/rootfs/bin/busybox
	@for a in $$(/bin/busybox --list); do [ "$$a" = busybox ] || ln -sf busybox $(EXAMPLES_CTX)/shell/rootfs/bin/$$a; done
	@chmod 1777 $(EXAMPLES_CTX)/shell/rootfs/tmp
	@cp examples/shell/Dockerfile $(EXAMPLES_CTX)/shell/
	@$(call run,docker build -q -t berth-examples/shell:latest $(EXAMPLES_CTX)/shell)
