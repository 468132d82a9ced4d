#!/usr/bin/env bash
# Build the offline installation bundle for isolated networks (政务内网), on a connected machine
# of the same kind as the target (Debian 12, x86_64, Python 3.11):
#   scripts/bundle.sh [OUT]          wheels + Debian package list + install.sh   (make bundle)
#   scripts/bundle.sh --debs [OUT]   … plus the .deb files of the Debian packages and their
#                                    dependencies (apt-get download; large, needs apt lists)
# OUT defaults to dist/bundle. The bundle installs with `OUT/install.sh VENV` and no registry.
set -euo pipefail
cd "$(dirname "$0")/.."

with_debs=0
if [ "${1:-}" = "--debs" ]; then with_debs=1; shift; fi
OUT=${1:-dist/bundle}
PY=${PYTHON:-.venv/bin/python}
work="$OUT.partial"
start=$(date +%s)

rm -rf "$work" build
mkdir -p "$work/wheels"

# 1. The project wheel and every runtime dependency as wheels for this platform, at the versions
#    pinned in constraints.txt (a dependency published only as an sdist is built into a wheel here).
"$PY" -m pip wheel --quiet --disable-pip-version-check -c constraints.txt \
  --wheel-dir "$work/wheels" .
rm -rf build # setuptools' in-tree build directory would keep files deleted from src/ next time
# pip itself, so that the target's venv installs with the pip this bundle was built and tested with
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$work/wheels" "pip==$("$PY" -m pip --version | awk '{print $2}')"

version=$("$PY" -c 'import lantai; print(lantai.__version__)')
{
  echo "# what install.sh installs: the project and its pinned dependencies"
  echo "lantai==$version"
} >"$work/requirements.txt"
cp constraints.txt "$work/constraints.txt"

# 2. The Debian packages (scripts/bootstrap.sh is the one list).
eval "$(awk '/^DEB_(PACKAGES|SERVICES)=\(/ {on = 1} on {print} on && /\)/ {on = 0}' scripts/bootstrap.sh)"
{
  echo "# Debian 12 packages Lantai needs (from scripts/bootstrap.sh DEB_PACKAGES); install them"
  echo "# from the local mirror or from debs/ before running install.sh. chromium is only needed"
  echo "# for the browser tests and wrk for the benchmarks; postgresql and redis-server only for"
  echo "# scale-out (see docs)."
  printf '%s\n' "${DEB_PACKAGES[@]}"
  echo "# optional services"
  printf '# %s\n' "${DEB_SERVICES[@]}"
} >"$work/debian-packages.txt"
if [ "$with_debs" = 1 ]; then
  mkdir -p "$work/debs"
  # the closure of Depends/PreDepends, downloaded as .deb files into debs/
  mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances "${DEB_PACKAGES[@]}" |
    grep -E '^[a-z0-9]' | sort -u)
  (cd "$work/debs" && apt-get download "${closure[@]}" >/dev/null)
  (cd "$work/debs" && dpkg-scanpackages -m . /dev/null 2>/dev/null | gzip -9 >Packages.gz) || true
fi

# 3. The installer, the operations guides and checksums of everything.
install -m 0755 scripts/bundle-install.sh "$work/install.sh"
mkdir -p "$work/docs"
cp docs/operations.md "docs/guide/运维指南.md" "$work/docs/"
(cd "$work" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort |
  xargs -d '\n' sha256sum >SHA256SUMS)

rm -rf "$OUT"
mv "$work" "$OUT"
echo "bundle: $OUT ($(du -sh "$OUT" | cut -f1), $(find "$OUT/wheels" -name '*.whl' | wc -l) wheels, $(($(date +%s) - start)) s)"
