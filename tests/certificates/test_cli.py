"""``lantai certificate``: issue, verify (also with only a key set), list, revoke, keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitisation_support import make_items
from lantai.cli.main import app
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_certificate_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.setenv("LANTAI_ARCHIVE_CODE", "136101")
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    inst = Instance.initialise(Settings.load())
    ((rid, _),) = make_items(inst, Actor.operator(), [5])
    inst.close()
    out = tmp_path / "证明.pdf"
    rc, text = invoke(
        "certificate",
        "issue",
        "--record",
        str(rid),
        "--pages",
        f"{rid}:1-2",
        "--applicant",
        "王五",
        "--id-masked",
        "110***********1234",
        "--purpose",
        "学术研究",
        "--out",
        str(out),
    )
    assert rc == 0, text
    assert out.read_bytes()[:5] == b"%PDF-" and "/verify/" in text
    rc, text = invoke("certificate", "verify", str(out))
    assert rc == 0 and "有效" in text and "SM2-with-SM3" in text
    file_digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"登记摘要（SHA-256）：{file_digest}" in text  # both, as on the /verify page
    assert f"文件摘要（SHA-256）：{file_digest}" in text and "逐字节相同" in text
    keyset = tmp_path / "keys.json"
    rc, _ = invoke("certificate", "keys", "export", "--out", str(keyset))
    assert rc == 0 and json.loads(keyset.read_text())["format"] == "LANTAI-CERT-KEYS-1"
    rc, text = invoke("certificate", "verify", str(out), "--keys", str(keyset))
    assert rc == 0 and "有效" in text
    data = bytearray(out.read_bytes())
    data[800] ^= 1
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    rc, text = invoke("certificate", "verify", str(bad))
    assert rc == 1 and "已被篡改" in text
    assert hashlib.sha256(bytes(data)).hexdigest() in text and "文件不同" in text
    rc, text = invoke("certificate", "list")
    assert rc == 0 and "共 1 份" in text and "王五" in text
    with Instance.open(Settings.load()).db.read() as s:
        from lantai.store import Certificate

        code = s.query(Certificate).one().code
    rc, text = invoke("certificate", "revoke", code, "--reason", "申请撤回")
    assert rc == 0
    rc, text = invoke("certificate", "verify", code)
    assert rc == 1 and "已撤销" in text and "申请撤回" in text
    rc, text = invoke("certificate", "keys", "rotate", "--profile", "rsa3072")
    assert rc == 0 and "sha256:" in text
    rc, text = invoke("certificate", "keys", "list")
    assert rc == 0 and "已停用" in text and "在用" in text
    rc, text = invoke("certificate", "revoke", code, "--reason", "")
    assert rc == 1 and "理由" in text
