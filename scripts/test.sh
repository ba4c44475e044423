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
# The tests connect as postgres over TCP without a password, which needs
# trust authentication on 127.0.0.1. Debian's default asks for a password
# there: then, as root, make a superuser role with a password through the
# local socket (peer authentication) and connect as it instead.
if [ -z "${GREENLIGHT_TEST_POSTGRES:-}" ]; then
  GREENLIGHT_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
  if command -v psql >/dev/null && ! psql -w "$GREENLIGHT_TEST_POSTGRES" -Atqc 'SELECT 1' >/dev/null 2>&1 &&
     [ "$(id -u)" = 0 ] && pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "test.sh: PostgreSQL wants a password on 127.0.0.1; using role greenlight_test"
    runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT 'CREATE ROLE greenlight_test' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'greenlight_test')
\gexec
ALTER ROLE greenlight_test LOGIN SUPERUSER PASSWORD 'greenlight-test';
SQL
    GREENLIGHT_TEST_POSTGRES='postgres://greenlight_test:greenlight-test@127.0.0.1:5432/postgres?sslmode=disable'
  fi
fi
export GREENLIGHT_TEST_POSTGRES

# sshd refuses to start without its privilege-separation directory.
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go test -race -timeout 30m "$@" ./...
