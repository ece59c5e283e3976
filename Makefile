# sessionbridge — see README.md. Every target works on a fresh clone.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
NODE_DIR := testdata/node
# Modules of their own, using the library in this checkout (replace ../):
# their dependencies (chromedp, web frameworks, the bench drivers) stay out
# of the library's go.mod. `go test ./...` at the root does not enter them.
NESTED_MODULES := examples bench
# go test -v output minus the per-test RUN/PASS chatter.
TEST_FILTER := '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- PASS|PASS$$)'
FUZZTIME ?= 3m

.PHONY: demo test vet lint browser node-deps fixtures fixtures-check services services-stop bench bench-quick fuzz

## demo: the Node app and the Go chat server sharing one login, on
## http://localhost:3000 (STORE=file by default; redis, postgres, mongo,
## memcached start their server via scripts/services.sh).
demo:
	bash scripts/demo.sh

## test: vet, fixture check, and every Go test with the race detector, in
## the library and in the nested modules (examples, bench), including the
## Node-backed checks (installs testdata/node deps if needed).
# -v so the Node-backed tests can say what Node confirmed; the filter drops
# only the per-test RUN/PASS chatter. Every module runs even when an earlier
# one failed; the target fails if any did.
test: vet node-deps fixtures-check services browser
	@set -o pipefail; rc=0; for m in . $(NESTED_MODULES); do \
	  [ "$$m" = . ] || echo "== module $$m"; \
	  $(GO) -C $$m test -race -count=1 -v ./... 2>&1 | grep -Ev $(TEST_FILTER) || rc=1; \
	done; exit $$rc
	@# Allocation counts mean nothing under the race detector: those tests
	@# skip there and run here.
	$(GO) test -count=1 -run 'NoAlloc' ./cookiesig/


## vet: gofmt (tracked and new files) and go vet, in every module.
vet:
	@unformatted=$$(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^testdata/' | \
	  while read -r f; do [ ! -f "$$f" ] || echo "$$f"; done | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@for m in $(NESTED_MODULES); do echo "$(GO) -C $$m vet ./..."; $(GO) -C $$m vet ./... || exit 1; done

## node-deps: npm ci where node_modules is missing or stale (the Node
## oracle and harness, and the demo's Node app).
node-deps: $(NODE_DIR)/node_modules/.package-lock.json testdata/nodestores/node_modules/.package-lock.json testdata/nodemongo/node_modules/.package-lock.json examples/node-app/node_modules/.package-lock.json bench/node/node_modules/.package-lock.json
	@# The SQLite harness's native modules compile from source (about 4 min): built once per
	@# machine and cached outside the checkout.
	bash scripts/node-cache.sh testdata/nodesqlite "new (require('better-sqlite3'))(':memory:').close(); require('sqlite3')"

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

## bench: the Go-vs-Node comparison (bench/, its own module) into
## docs/benchmarks.md.
bench:
	@bash scripts/ensure-valgrind.sh
	@cd bench/node && { [ node_modules/.package-lock.json -nt package-lock.json ] || \
	  npm ci --no-audit --no-fund --loglevel=error; }
	cd bench && $(GO) run . -sections all -out ../docs/benchmarks.md $(BENCHFLAGS)

## bench-quick: every section in about a minute, for development: too few
## repetitions for verdicts; the report goes to the terminal only.
bench-quick:
	@bash scripts/ensure-valgrind.sh
	@cd bench/node && { [ node_modules/.package-lock.json -nt package-lock.json ] || \
	  npm ci --no-audit --no-fund --loglevel=error; }
	cd bench && $(GO) run . -sections all -quick $(BENCHFLAGS)

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME); \
	  done; done
