#!/usr/bin/env bash
# Runs every test of Greenlight. Starts or installs what the tests need where
# it is missing (as root: git, bubblewrap, chromium, PostgreSQL, sshd, nginx), then runs
# `go test -race ./...`. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v git >/dev/null || need+=(git)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v chromium >/dev/null || need+=(chromium)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: missing ${need[*]}; tests that need them fail in CI and skip here" >&2
  fi
fi

# PostgreSQL for the store's conformance suite (trust auth on 127.0.0.1:5432).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then
    ver=$(ls /etc/postgresql | sort -n | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
export GREENLIGHT_TEST_POSTGRES=${GREENLIGHT_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

# sshd refuses to start without its privilege-separation directory.
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go test -race -timeout 30m "$@" ./...
