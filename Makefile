# sessionbridge — see README.md. Every target works on a fresh clone.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
NODE_DIR := testdata/node
FUZZTIME ?= 3m

.PHONY: demo test vet lint node-deps fixtures fixtures-check services services-stop bench fuzz

## demo: the Node app and the Go chat server sharing one login, on
## http://localhost:3000 (STORE=file by default; redis, postgres, mongo,
## memcached start their server via scripts/services.sh).
demo:
	bash scripts/demo.sh

## test: vet, fixture check, and every Go test with the race detector,
## including the Node-backed checks (installs testdata/node deps if needed).
# -v so the Node-backed tests can say what Node confirmed; the filter drops
# only the per-test RUN/PASS chatter.
test: vet node-deps fixtures-check services
	@set -o pipefail; $(GO) test -race -count=1 -v ./... 2>&1 | \
	  grep -Ev '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- PASS|PASS$$)'


vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## node-deps: npm ci in testdata/node when node_modules is missing or stale.
node-deps: $(NODE_DIR)/node_modules/.package-lock.json

$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

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
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME); \
	  done; done
