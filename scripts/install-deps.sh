#!/usr/bin/env bash
# Installs the system libraries Strata links (liblz4, zlib; SQLite for StrataSQLite, whose GRDB uses the system
# SQLite) when missing. Needs root for apt-get; otherwise names the packages to install. With the argument
# `bench`, also what the benchmarks run (xz; wrk for the HTTP workload).
set -euo pipefail

missing=()
pkg-config --exists liblz4 2>/dev/null || missing+=(liblz4-dev)
pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
pkg-config --exists sqlite3 2>/dev/null || missing+=(libsqlite3-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# `install-deps.sh bench`: also what the benchmarks run.
if [ "${1:-}" = "bench" ]; then
  command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Strata needs these system packages: ${missing[*]}" >&2
  echo "Install them, e.g.: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
