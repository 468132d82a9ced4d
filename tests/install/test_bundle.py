"""The offline installation bundle (issue 11 part 5): built, then installed with no registry.

``scripts/bundle.sh`` (``make bundle``) runs on a connected machine; the bundle is then installed
into a fresh virtualenv with every way pip could reach a registry blocked (index URL pointing at a
closed port, ``PIP_NO_INDEX``, HTTP(S) proxies pointing at a closed port, no pip configuration),
and the installed ``lantai`` initialises an instance. About a minute with a warm pip cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9/"  # the discard port: nothing listens, every connection is refused


def _offline_env(home: Path) -> dict[str, str]:
    """A minimal environment in which pip can reach no registry."""
    python_dir = str(Path(sys.base_prefix) / "bin")
    return {
        "PATH": os.pathsep.join([python_dir, "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_INDEX_URL": CLOSED,
        "PIP_EXTRA_INDEX_URL": CLOSED,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(home / "no-such-dir"),
        "http_proxy": CLOSED,
        "https_proxy": CLOSED,
        "HTTP_PROXY": CLOSED,
        "HTTPS_PROXY": CLOSED,
        "PYTHON": str(Path(sys.base_prefix) / "bin" / "python3.11"),
    }


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    subprocess.run(
        ["scripts/bundle.sh", str(out)], cwd=REPO, check=True, capture_output=True, timeout=900
    )
    return out


def test_bundle_has_every_wheel_the_packages_list_and_the_installer(bundle: Path) -> None:
    wheels = {p.name.split("-")[0].lower() for p in (bundle / "wheels").glob("*.whl")}
    assert not list((bundle / "wheels").glob("*.tar.gz")), "an sdist would need a build offline"
    for needed in ("lantai", "fastapi", "sqlalchemy", "tantivy", "rapidocr", "pip"):
        assert needed in wheels, needed
    lines = (bundle / "debian-packages.txt").read_text(encoding="utf-8").splitlines()
    packages = [ln for ln in lines if ln and not ln.startswith("#")]
    assert {"python3-venv", "libmagic1", "fonts-wqy-microhei", "tesseract-ocr"} <= set(packages)
    assert os.access(bundle / "install.sh", os.X_OK)
    assert (bundle / "docs" / "运维指南.md").is_file()
    # the vendored web assets (ECharts) travel inside the project wheel
    project = next((bundle / "wheels").glob("lantai-*.whl"))
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(project)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "lantai/web/static/vendor/echarts/echarts.min.js" in listing
    # SHA256SUMS covers every file
    sums = dict(
        reversed(line.split("  ", 1))
        for line in (bundle / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    )
    files = {
        str(p.relative_to(bundle))
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    }
    assert set(sums) == files
    assert sums["install.sh"] == hashlib.sha256((bundle / "install.sh").read_bytes()).hexdigest()


def test_installs_and_runs_with_registries_blocked(bundle: Path, tmp_path: Path) -> None:
    env = _offline_env(tmp_path)
    venv = tmp_path / "venv"
    done = subprocess.run(
        [str(bundle / "install.sh"), str(venv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lantai = venv / "bin" / "lantai"
    out = subprocess.run([str(lantai), "--help"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "兰台" in out.stdout
    env["LANTAI_HOME"] = str(tmp_path / "home")
    out = subprocess.run([str(lantai), "init"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "实例已就绪" in out.stdout
    assert (tmp_path / "home" / "lantai.db").is_file()
    # the installed package is the bundled wheel, not this checkout
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import lantai; print(lantai.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv))


def test_a_damaged_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    wheel = next((copy / "wheels").glob("fastapi-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:-10])
    done = subprocess.run(
        [str(copy / "install.sh"), str(tmp_path / "venv")],
        env=_offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "SHA256SUMS" in done.stderr
    assert not (tmp_path / "venv").exists()
