# sessionbridge — see README.md. Every target works on a fresh clone.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
NODE_DIR := testdata/node
FUZZTIME ?= 3m

.PHONY: demo test vet lint browser node-deps fixtures fixtures-check services services-stop bench fuzz

## demo: the Node app and the Go chat server sharing one login, on
## http://localhost:3000 (STORE=file by default; redis, postgres, mongo,
## memcached start their server via scripts/services.sh).
demo:
	bash scripts/demo.sh

## test: vet, fixture check, and every Go test with the race detector,
## including the Node-backed checks (installs testdata/node deps if needed).
# -v so the Node-backed tests can say what Node confirmed; the filter drops
# only the per-test RUN/PASS chatter.
test: vet node-deps fixtures-check services browser
	@set -o pipefail; $(GO) test -race -count=1 -v ./... 2>&1 | \
	  grep -Ev '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- PASS|PASS$$)'
	@# Allocation counts mean nothing under the race detector: those tests
	@# skip there and run here.
	$(GO) test -count=1 -run 'NoAlloc' ./cookiesig/


vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## node-deps: npm ci where node_modules is missing or stale (the Node
## oracle and harness, and the demo's Node app).
node-deps: $(NODE_DIR)/node_modules/.package-lock.json examples/node-app/node_modules/.package-lock.json

%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## browser: Debian's chromium for the demo's browser test.
browser:
	bash scripts/ensure-chromium.sh

## fixtures: regenerate testdata/fixtures with the real npm packages.
fixtures: node-deps
	cd $(NODE_DIR) && node gen-fixtures.js ../fixtures

## fixtures-check: fail if regenerating the fixtures would change them.
fixtures-check: node-deps
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd $(NODE_DIR) && node gen-fixtures.js "$$tmp" >/dev/null) && \
	diff -r testdata/fixtures "$$tmp" && echo "fixtures: regenerated with Node, no change"

## services: start Redis, PostgreSQL, memcached, the MongoDB-wire server and
## a Redis Cluster on 127.0.0.1 when they are not running.
services:
	bash scripts/services.sh

services-stop:
	bash scripts/services.sh stop

bench:
	@cd bench/node && { [ node_modules/.package-lock.json -nt package-lock.json ] || \
	  npm ci --no-audit --no-fund --loglevel=error; }
	$(GO) run ./bench -sections all -out docs/benchmarks.md $(BENCHFLAGS)

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME); \
	  done; done
