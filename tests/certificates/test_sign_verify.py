"""Issue → verify for each signing profile; tampering, truncation, unknown issuers, revocation,
key rotation, and verification with only another archive's exported key set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certificates.conftest import issue
from digitisation_support import make_items
from lantai.certificates import (
    KeyRing,
    Verdict,
    export_keys,
    import_trusted,
    key_ring,
    list_keys,
    revoke_certificate,
    rotate_key,
    verify_code,
    verify_file,
    verify_pdf,
)
from lantai.certificates.profiles import digest_hex
from lantai.certificates.sign import find_block
from lantai.errors import ConfigError, Conflict, InputError
from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Certificate, Event

EXPECTED = {
    "sm2": ("SM2-with-SM3", "sm3"),
    "ed25519": ("Ed25519", "sha256"),
    "rsa3072": ("RSA-PSS-SHA256", "sha256"),
}


def test_issue_then_verify_by_code_and_by_file(profile_instance: Instance, operator: Actor) -> None:
    inst = profile_instance
    (rid, code), (rid2, code2) = make_items(inst, operator, [4, 2])
    c = issue(inst, [rid, rid2], pages={rid: "1-2,4"})
    algorithm, digest_alg = EXPECTED[inst.settings.certificate_profile]
    assert c.key_id.startswith(f"{digest_alg}:") and len(c.key_id) == len(digest_alg) + 65
    block = find_block(c.pdf)
    assert block is not None and block.algorithm == algorithm and block.code == c.code
    assert block.digest == digest_hex(digest_alg, c.pdf[: block.signed_length]) == c.digest
    assert c.verify_url == f"http://127.0.0.1:8000/verify/{c.code}"
    with inst.db.read() as s:
        by_file = verify_file(inst, s, c.pdf)
        by_code = verify_code(inst, s, c.code.lower())
        row = s.query(Certificate).one()
        assert row.pdf == c.pdf and row.file_size == len(c.pdf) and row.status == "valid"
        assert [x["pages"] for x in row.citations] == ["1-2,4", "全部"]
        event = s.query(Event).filter(Event.action == "certificate:document:issued").one()
        assert event.object_id == c.code and "110***********1234" not in json.dumps(event.detail)
    for r in (by_file, by_code):
        assert r.verdict is Verdict.VALID and r.authentic and r.unaltered, r.message
        assert r.issuer_name == "示范市档案馆" and r.issuer_code == "136101"
        assert r.citations == [
            {"archival_code": code, "pages": "1-2,4"},
            {"archival_code": code2, "pages": "全部"},
        ]
        assert r.applicant == "张**" and "1234" not in json.dumps(r.to_dict())
    assert "有效" in by_code.message and by_code.verdict.label == "有效"


def test_one_flipped_byte_anywhere_in_the_signed_part_is_detected(
    profile_instance: Instance, operator: Actor
) -> None:
    inst = profile_instance
    (rid, _), _ = make_items(inst, operator, [4, 2])
    c = issue(inst, [rid])
    block = find_block(c.pdf)
    assert block is not None
    with inst.db.read() as s:
        ring = key_ring(s)
    n = block.signed_length
    positions = sorted({0, 1, n // 2, n - 2, n - 1, *range(3, n, 89)})
    for pos in positions:
        bad = bytearray(c.pdf)
        bad[pos] ^= 0x01
        check = verify_pdf(bytes(bad), ring)
        assert check.verdict is Verdict.TAMPERED and not check.authentic, (pos, check)
        assert "已被篡改" in check.message
    # the whole verification as the public sees it: the message says 已被篡改
    bad = bytearray(c.pdf)
    bad[n // 3] ^= 0x20
    with inst.db.read() as s:
        r = verify_file(inst, s, bytes(bad))
    assert r.verdict is Verdict.TAMPERED and r.verdict.label == "已被篡改"
    assert r.unaltered is False and r.authentic is False
    # bytes after the signed part (the signature block itself) never verify either
    for pos in range(n, len(c.pdf), 37):
        bad = bytearray(c.pdf)
        bad[pos] ^= 0x01
        assert verify_pdf(bytes(bad), ring).verdict in (Verdict.TAMPERED, Verdict.UNSIGNED), pos


def test_appended_content_and_truncation_are_detected(instance: Instance, items: list) -> None:
    c = issue(instance, [items[0][0]])
    n = find_block(c.pdf).signed_length  # type: ignore[union-attr]
    with instance.db.read() as s:
        ring = key_ring(s)
        # a later incremental update (e.g. one that paints over a page) is refused
        appended = verify_pdf(c.pdf + b"5 0 obj\n<< >>\nendobj\n%%EOF\n", ring)
        assert appended.verdict is Verdict.TAMPERED and "追加" in appended.message
        cut_tail = verify_pdf(c.pdf[:-7], ring)
        assert cut_tail.verdict is Verdict.TAMPERED and not cut_tail.authentic
        half = verify_file(instance, s, c.pdf[: len(c.pdf) // 2])
        assert half.verdict is Verdict.UNSIGNED and "截断" in half.message and not half.authentic
        stripped = verify_file(instance, s, c.pdf[:n])
        assert stripped.verdict is Verdict.UNSIGNED
        not_pdf = verify_file(instance, s, b"hello")
        assert not_pdf.verdict is Verdict.UNSIGNED and "不是 PDF" in not_pdf.message


def test_a_certificate_signed_by_an_unknown_key_has_an_unknown_issuer(
    instance: Instance, items: list, tmp_path: Path, operator: Actor
) -> None:
    other = Instance.initialise(
        Settings(
            home=tmp_path / "other",
            archive_name="另一市档案馆",
            archive_code="136102",
            password_time_cost=1,
            password_memory_kib=8192,
        )
    )
    try:
        ((rid, _),) = make_items(other, operator, [3])
        foreign = issue(other, [rid])
        with instance.db.read() as s:
            r = verify_file(instance, s, foreign.pdf)
        assert r.verdict is Verdict.UNKNOWN_ISSUER and r.verdict.label == "签发者未知"
        assert r.authentic is False and r.unaltered is True and "签发者未知" in r.message
        # after trusting the other archive's exported keys, the same file verifies as theirs
        with other.db.read() as s:
            exported = export_keys(s)
        claims_ours = json.loads(json.dumps(exported))
        claims_ours["keys"][0]["issuer_code"] = "136101"
        with instance.db.write() as s, pytest.raises(Conflict, match="与本馆相同"):
            import_trusted(instance, s, operator, claims_ours)
        with instance.db.write() as s:
            added = import_trusted(instance, s, operator, exported, note="线下核对指纹")
            assert added == [foreign.key_id]
        with instance.db.read() as s:
            r = verify_file(instance, s, foreign.pdf)
            own = verify_code(instance, s, foreign.code)  # not in this archive's register
        assert r.verdict is Verdict.VALID and r.issuer_name == "另一市档案馆"
        assert r.issuer_code == "136102" and "签发馆" in r.message
        assert own.verdict is Verdict.NOT_FOUND
    finally:
        other.close()


def test_file_alone_verifies_with_the_issuers_exported_key_set(
    instance: Instance, items: list
) -> None:
    """What another archive (issue 9) does: only the file and this archive's public keys."""
    c = issue(instance, [items[1][0]])
    with instance.db.read() as s:
        doc = json.loads(json.dumps(export_keys(s)))
    ring = KeyRing.from_json(doc)
    check = verify_pdf(c.pdf, ring)
    assert check.verdict is Verdict.VALID and check.issuer and check.issuer.issuer_code == "136101"
    assert verify_pdf(c.pdf, KeyRing()).verdict is Verdict.UNKNOWN_ISSUER
    doc["keys"][0]["key_id"] = "sm3:" + "0" * 64
    with pytest.raises(ConfigError, match="key_id"):
        KeyRing.from_json(doc)


def test_revoked_certificates_say_so_with_the_reason(instance: Instance, items: list) -> None:
    c = issue(instance, [items[0][0]])
    op = Actor.operator()
    with instance.db.write() as s, pytest.raises(InputError, match="理由"):
        revoke_certificate(instance, s, op, c.code, reason="  ")
    with instance.db.write() as s:
        revoke_certificate(instance, s, op, c.code, reason="申请人提供的材料不实")
    with instance.db.write() as s, pytest.raises(Conflict, match="已于"):
        revoke_certificate(instance, s, op, c.code, reason="again")
    with instance.db.read() as s:
        by_code = verify_code(instance, s, c.code)
        by_file = verify_file(instance, s, c.pdf)
        assert s.query(Event).filter(Event.action == "certificate:document:revoked").count() == 1
    for r in (by_code, by_file):
        assert r.verdict is Verdict.REVOKED and r.verdict.label == "已撤销"
        assert r.revoke_reason == "申请人提供的材料不实" and "已撤销" in r.message
        assert r.authentic is True and r.unaltered is True  # genuine, but no longer valid


def test_key_rotation_keeps_old_certificates_verifiable(instance: Instance, items: list) -> None:
    first = issue(instance, [items[0][0]])
    with instance.db.write() as s:
        new_key = rotate_key(instance, s, Actor.operator(), profile_name="ed25519")
    second = issue(instance, [items[1][0]])
    assert second.key_id == new_key.key_id != first.key_id
    assert second.key_id.startswith("sha256:") and first.key_id.startswith("sm3:")
    with instance.db.read() as s:
        states = {k.key_id: (k.state, k.retired_at is not None) for k in list_keys(s)}
        assert states == {first.key_id: ("retired", True), second.key_id: ("active", False)}
        for c in (first, second):
            assert verify_file(instance, s, c.pdf).verdict is Verdict.VALID
            assert verify_code(instance, s, c.code).verdict is Verdict.VALID
        q = s.query(Event).filter(Event.object_type == "certificate_key").order_by(Event.seq)
        actions = [e.action for e in q]
    assert actions == [
        "certificate:key:created",
        "certificate:key:retired",
        "certificate:key:created",
    ], actions
    keyfiles = sorted(p.name for p in (instance.settings.secrets_dir / "certificates").iterdir())
    assert len(keyfiles) == 2 and all(
        (instance.settings.secrets_dir / "certificates" / f).stat().st_mode & 0o077 == 0
        for f in keyfiles
    )


def test_invalid_requests_name_the_field(instance: Instance, items: list) -> None:
    rid = items[0][0]
    with pytest.raises(InputError) as exc:
        issue(instance, [rid], applicant_id_masked="110101199003071234", purpose="")
    fields = {p.field for p in exc.value.problems}
    assert fields == {"applicant_id_masked", "purpose"}
    with pytest.raises(InputError) as exc:
        issue(instance, [rid], pages={rid: "3-1"})
    assert exc.value.problems[0].field == "pages"
    with pytest.raises(InputError, match="只有 4 页"):
        issue(instance, [rid], pages={rid: "2-9"})
    with pytest.raises(InputError, match="未引用"):
        issue(instance, [rid], pages={items[1][0]: "1"})
    with instance.db.read() as s:
        assert s.query(Certificate).count() == 0


def test_issue_verify_revoke_on_sqlite_and_postgresql(
    any_instance: Instance, operator: Actor
) -> None:
    ((rid, _),) = make_items(any_instance, operator, [2])
    c = issue(any_instance, [rid])
    with any_instance.db.write() as s:
        revoke_certificate(any_instance, s, operator, c.code, reason="测试撤销")
    with any_instance.db.read() as s:
        assert s.query(Certificate).one().pdf == c.pdf
        assert verify_file(any_instance, s, c.pdf).verdict is Verdict.REVOKED
        assert verify_code(any_instance, s, c.code).verdict is Verdict.REVOKED
