# Outpost: the README's two commands are `make demo` (the main job) and `make test`. Both install what they need on a fresh Debian 12 machine (as root).

GO        ?= go
GOFLAGS   ?=
# Integration tests run as root in network namespaces with the real control plane.
ITAGS     := integration

.PHONY: all deps k8s build demo lab lab-clean test unit integration vet fmt-check

all: build

deps:
	@hack/install-deps.sh

k8s:
	@hack/build-k8s.sh >/dev/null

build:
	$(GO) build ./...

# The mesh across NAT'd sites: KEEP=1 leaves it up, VERBOSE=1 shows every process's log.
demo: deps k8s
	$(GO) build -o _output/bin/demo ./test/cmd/demo
	_output/bin/demo

lab: deps k8s
	$(GO) build -o _output/bin/lab ./test/cmd/lab
	_output/bin/lab up

lab-clean:
	@hack/lab-clean

test: deps k8s fmt-check vet unit integration

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags $(ITAGS) ./...

# Unit tests need no root; all of them run under the race detector.
unit:
	$(GO) test -race -count=1 ./...

# Only the packages that have integration tests (their unit tests already ran above).
integration:
	OUTPOST_K8S_BIN=$$(hack/build-k8s.sh) $(GO) test -tags $(ITAGS) -count=1 -p 2 -timeout 25m \
		$$(git grep -l '^//go:build integration' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's|^|./|')
