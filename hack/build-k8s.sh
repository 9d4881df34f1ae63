#!/usr/bin/env bash
# Builds the real Kubernetes binaries (kube-apiserver, kubectl, kube-controller-manager,
# kube-scheduler, kubelet) from the Go module proxy into a cache folder keyed by version.
# A second call finds them and returns at once. Prints the bin directory on stdout.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${OUTPOST_CACHE:-$root/.cache}
bin=$cache/k8s/$K8S_VERSION/bin
components=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet)

have_all() {
  local c
  for c in "${components[@]}"; do [ -x "$bin/$c" ] || return 1; done
}
if have_all; then echo "$bin"; exit 0; fi

log() { echo "build-k8s: $*" >&2; }
log "building Kubernetes $K8S_VERSION from the Go module proxy into $bin"
log "the first build takes about 7 minutes and 2.3 GB of memory; later calls return at once"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

modfile=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[ -f "$modfile" ] || { log "cannot download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
staging_version=v0.${K8S_VERSION#v1.}

{
  echo "module outpost.local/k8sbuild"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  # Every staging module kubernetes replaces with ./staging/... is served on the proxy as v0.X.Y.
  # k8s.io/sample-cli-plugin is not served and nothing we build uses it.
  sed -n 's|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*$|\1|p' "$modfile" | grep -v '^k8s.io/sample-cli-plugin$' |
    while read -r m; do echo "	$m => $m $staging_version"; done
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
log "resolving modules"
GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ld=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
mkdir -p "$bin.tmp"
for c in "${components[@]}"; do
  log "go build $c"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$bin.tmp/$c" "k8s.io/kubernetes/cmd/$c"
done
rm -rf "$bin" && mv "$bin.tmp" "$bin"
log "done"
echo "$bin"
