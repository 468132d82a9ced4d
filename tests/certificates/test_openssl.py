"""The documented way to verify a certificate without Lantai (docs/certificates.md) works."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from certificates.conftest import issue
from digitisation_support import make_items
from lantai.certificates import export_keys
from lantai.instance import Instance
from lantai.security import Actor

DOC = Path(__file__).resolve().parents[2] / "docs" / "certificates.md"


def _script(tmp_path: Path) -> Path:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- verify-script -->\n```bash\n(.*?)```\n<!-- /verify-script -->", text, re.S)
    assert m, "the verify script block is missing from docs/certificates.md"
    path = tmp_path / "verify-certificate.sh"
    path.write_text(m.group(1), encoding="utf-8")
    return path


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_verifies_the_certificate_and_refuses_a_changed_one(
    profile_instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    inst = profile_instance
    ((rid, _),) = make_items(inst, operator, [3])
    c = issue(inst, [rid], pages={rid: "2"})
    with inst.db.read() as s:
        keys = export_keys(s)["keys"]
    pem = tmp_path / "issuer.pem"
    pem.write_text(keys[0]["public_key_pem"], encoding="ascii")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(c.pdf)
    script = _script(tmp_path)
    done = subprocess.run(["bash", str(script), str(pdf), str(pem)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Signature Verified Successfully|Verified OK", done.stdout)
    assert f"code: {c.code}" in done.stdout and f"key_id: {c.key_id}" in done.stdout

    changed = bytearray(c.pdf)
    changed[len(changed) // 4] ^= 0x01
    pdf.write_bytes(bytes(changed))
    done = subprocess.run(["bash", str(script), str(pdf), str(pem)], capture_output=True, text=True)
    assert done.returncode != 0 and "摘要不符" in done.stdout

    pdf.write_bytes(c.pdf + b"99 0 obj\n<< >>\nendobj\n%%EOF\n")
    done = subprocess.run(["bash", str(script), str(pdf), str(pem)], capture_output=True, text=True)
    assert done.returncode != 0 and "追加" in done.stdout
