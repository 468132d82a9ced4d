#!/usr/bin/env bash
# Set up everything Lantai needs on a fresh Debian 12 machine, idempotently.
#   scripts/bootstrap.sh            system packages + virtualenv (.venv)
#   scripts/bootstrap.sh --services also make sure PostgreSQL and Redis answer on 127.0.0.1
# Only the Debian, PyPI and npm registries are used.
set -euo pipefail
cd "$(dirname "$0")/.."

want_services=0
[ "${1:-}" = "--services" ] && want_services=1

# Debian packages the system needs at run time (fonts for PDF/UI, chromium for browser tests)
# and at build time (python venv/headers). Tools that later capabilities need are added here.
DEB_PACKAGES=(python3 python3-venv python3-dev build-essential libmagic1 clamav clamav-daemon ffmpeg
  fonts-wqy-microhei fonts-noto-cjk chromium tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra
  poppler-utils libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  zbar-tools wrk)  # wrk: the load generator of bench/portal.py
DEB_SERVICES=(postgresql redis-server)

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$want_services" = 1 ]; then
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || {
    dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed" || missing+=(postgresql)
  }
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python: prefer a python3.11 on PATH (pyenv or Debian's).
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$(command -v "$c"); break
    fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: Python 3.11 is required" >&2; exit 1; }

stamp=.venv/.lantai-installed
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  touch "$stamp"
fi

if [ "$want_services" = 1 ]; then
  scripts/services.sh start
fi
