#!/usr/bin/env bash
# Builds a minimal CoreDNS (plugins: bind, errors, file) as the benchmark baseline.
#
# CoreDNS is a baseline only: it is built in a throwaway module under a temp
# directory, from the Go module proxy, at a pinned version, and never enters
# Outpost's go.mod. The binary is cached under .cache/coredns/VERSION/ (git-ignored)
# so a machine builds it once.
#
# Usage: bench/dns/build-coredns.sh            # prints the path of the binary
#        COREDNS_VERSION=v1.14.7 bench/dns/build-coredns.sh
set -euo pipefail

VERSION="${COREDNS_VERSION:-v1.15.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# RECIPE names the plugin set: change it when main.go below changes, so a
# cached binary of another recipe is rebuilt.
RECIPE="bind-errors-file"
OUT_DIR="${ROOT}/.cache/coredns/${VERSION}"
BIN="${OUT_DIR}/coredns"

if [[ -x "${BIN}" && "$(cat "${OUT_DIR}/recipe" 2>/dev/null)" == "${RECIPE}" ]]; then
  echo "${BIN}"
  exit 0
fi

WORK="$(mktemp -d /tmp/coredns-build.XXXXXX)"
trap 'rm -rf "${WORK}"' EXIT
cd "${WORK}"

# The documented way to build CoreDNS with a chosen plugin set: import the
# plugins, set dnsserver.Directives (their order in the chain), call coremain.Run.
cat > main.go <<'GO'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
)

func init() {
	dnsserver.Directives = []string{"bind", "errors", "file"} // CoreDNS's plugin.cfg order
}

func main() { coremain.Run() }
GO

{
  export GOFLAGS="-mod=mod -buildvcs=false"
  export GOWORK=off
  go mod init outpost.local/coredns-baseline
  go get "github.com/coredns/coredns@${VERSION}"
  go mod tidy
  mkdir -p "${OUT_DIR}"
  CGO_ENABLED=0 go build -trimpath -o "${BIN}.tmp" .
} >&2
mv "${BIN}.tmp" "${BIN}"
echo "${RECIPE}" > "${OUT_DIR}/recipe"
echo "${BIN}"
