#!/usr/bin/env bash
# Installs the Debian packages that Outpost's tests, demo and benchmarks need.
# Idempotent and quiet when nothing is missing.
set -euo pipefail

# command that must exist -> Debian package that provides it
declare -A need=(
  [etcd]=etcd-server
  [containerd]=containerd
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [conntrack]=conntrack
  [ip]=iproute2
  [iperf3]=iperf3
  [dnsperf]=dnsperf
  [dig]=dnsutils
  [nsenter]=util-linux
  [make]=make
  [git]=git
)
missing=()
for cmd in "${!need[@]}"; do
  if [[ $cmd == /* ]]; then [ -e "$cmd" ] && continue; else command -v "$cmd" >/dev/null 2>&1 && continue; fi
  missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# --no-install-recommends keeps etcd and containerd from pulling in unrelated services;
# policy-rc.d stops Debian's maintainer scripts from starting daemons we run ourselves.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy && created_policy=1; fi
trap '[ -n "$created_policy" ] && rm -f $policy' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
