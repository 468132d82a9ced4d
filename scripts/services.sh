#!/usr/bin/env bash
# Start (or check) the local servers the PostgreSQL/Redis test paths use.
# The embedded default (SQLite, local files) needs none of them.
set -uo pipefail
cmd=${1:-status}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

start_pg() {
  pg_up && return 0
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$ver" ] || { echo "services: PostgreSQL is not installed" >&2; return 1; }
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  # Test machines use trust on loopback (see docs/operations.md); production sets passwords.
  if ! grep -q "lantai-test" "$hba" 2>/dev/null; then
    { echo "# lantai-test: trust on loopback for the test suite"
      echo "host all all 127.0.0.1/32 trust"
      echo "host all all ::1/128 trust"
      cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  for _ in $(seq 30); do pg_up && return 0; sleep 1; done
  echo "services: PostgreSQL did not come up" >&2; return 1
}

start_redis() {
  redis_up && return 0
  command -v redis-server >/dev/null 2>&1 || { echo "services: redis-server is not installed" >&2; return 1; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/lantai.log
  for _ in $(seq 20); do redis_up && return 0; sleep 0.5; done
  echo "services: Redis did not come up" >&2; return 1
}

case "$cmd" in
  start) start_pg; start_redis; true ;;
  status)
    pg_up && echo "PostgreSQL: up" || echo "PostgreSQL: down"
    redis_up && echo "Redis: up" || echo "Redis: down" ;;
  *) echo "usage: $0 start|status" >&2; exit 2 ;;
esac
