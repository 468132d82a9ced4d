#!/usr/bin/env bash
# Install Lantai from this offline bundle (built by `make bundle`); no package registry is used.
#   ./install.sh [VENV]      default VENV: /opt/lantai/venv
# Needs Python 3.11 (python3.11 or python3 on PATH, or PYTHON=…) and the Debian packages in
# debian-packages.txt (from debs/ with `apt-get install ./debs/*.deb`, or the local mirror).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-/opt/lantai/venv}

# Only this bundle: no pip configuration, index or find-links from the machine or environment.
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS

(cd "$here" && sha256sum --quiet -c SHA256SUMS) || {
  echo "install.sh: the bundle is damaged (SHA256SUMS does not match); copy it again" >&2
  exit 1
}

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$(command -v "$c"); break
    fi
  done
fi
[ -n "$PY" ] || { echo "install.sh: Python 3.11 is required (apt-get install python3 python3-venv)" >&2; exit 1; }

"$PY" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels")
"${pip[@]}" --upgrade pip
"${pip[@]}" -c "$here/constraints.txt" -r "$here/requirements.txt"
"$venv/bin/lantai" --help >/dev/null
echo "兰台已安装：$venv/bin/lantai（下一步：export LANTAI_HOME=/srv/lantai && $venv/bin/lantai init）"
