"""``lantai certificate``: issue, verify, list and revoke certificates; the signing keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lantai.certificates import (
    KeyRing,
    export_keys,
    import_trusted,
    issue_certificate,
    list_certificates,
    list_keys,
    revoke_certificate,
    rotate_key,
    verify_code,
    verify_file,
    verify_pdf,
)
from lantai.certificates.codes import display
from lantai.certificates.service import VerificationResult
from lantai.cli.common import console, fail, open_instance, run
from lantai.errors import ConfigError
from lantai.security import Actor
from lantai.store.certificates import CertificateKind, CertificateStatus

__all__ = ["certificate_app"]

certificate_app = typer.Typer(
    help="档案证明与档案复制件证明：出具、查验、撤销，签名密钥", no_args_is_help=True
)
keys_app = typer.Typer(
    help="证明签名密钥：列出、轮换、导出公钥、导入他馆公钥", no_args_is_help=True
)
certificate_app.add_typer(keys_app, name="keys")


def _pages(values: list[str] | None) -> dict[int, str]:
    out: dict[int, str] = {}
    for v in values or []:
        rid, sep, rng = v.partition(":")
        if not sep or not rid.strip().isdigit():
            fail(f"--pages「{v}」应写作 条目id:页码，如 12:1-3,5")
        out[int(rid)] = rng
    return out


@certificate_app.command("issue")
def issue(
    record: Annotated[list[int], typer.Option("--record", help="引用的条目 id（可重复）")],
    applicant: Annotated[str, typer.Option("--applicant", help="申请人姓名或单位名称")],
    purpose: Annotated[str, typer.Option("--purpose", help="利用目的，如 权益维护")],
    out: Annotated[Path, typer.Option("--out", help="证明 PDF 写到这里")],
    id_masked: Annotated[
        str, typer.Option("--id-masked", help="脱敏后的证件号码，如 110***********1234")
    ] = "",
    kind: Annotated[
        str, typer.Option("--kind", help="certificate（档案证明）或 certified_copy（复制件证明）")
    ] = "certificate",
    pages: Annotated[
        list[str] | None, typer.Option("--pages", help="条目id:页码，如 12:1-3,5（可重复）")
    ] = None,
    request_ref: Annotated[str | None, typer.Option("--request-ref", help="利用申请编号")] = None,
) -> None:
    """出具一份档案证明或档案复制件证明（带电子签名、验证码与二维码）。"""
    inst = open_instance()

    def work() -> tuple[str, str, int, int]:
        with inst.db.write() as s:
            c = issue_certificate(
                inst,
                s,
                Actor.operator(),
                kind=kind,
                record_ids=record,
                pages=_pages(pages),
                applicant_name=applicant,
                applicant_id_masked=id_masked,
                purpose=purpose,
                request_ref=request_ref,
            )
        out.write_bytes(c.pdf)
        return c.code, c.verify_url, len(c.pdf), c.page_images

    code, url, size, images = run(work)
    console.print(f"已出具 {display(code)}：{out}（{size} 字节，复制件页面 {images} 页）")
    console.print(f"查验地址：{url}")


def _print_result(r: VerificationResult) -> None:
    colour = "green" if r.ok else "red"
    console.print(f"[bold {colour}]{r.verdict.label}[/]：{r.message}", highlight=False)
    for label, value in (
        ("验证码", r.code_display),
        ("证明类型", r.kind_label),
        ("签发机构", f"{r.issuer_name}（{r.issuer_code}）" if r.issuer_name else None),
        ("出具时间", r.issued_at.isoformat() if r.issued_at else None),
        ("签名算法", r.algorithm),
        ("签名密钥", r.key_id),
        ("摘要", f"{r.digest_algorithm}:{r.digest}" if r.digest else None),
        ("登记摘要（SHA-256）", r.file_sha256),
        ("文件摘要（SHA-256）", r.uploaded_sha256),
    ):
        if value:
            console.print(f"  {label}：{value}", highlight=False)
    if r.same_file is not None:  # as the /verify page says it
        same = "与本馆出具的文件逐字节相同" if r.same_file else "与本馆出具的文件不同"
        console.print(f"  文件比对：{same}", highlight=False)


@certificate_app.command("verify")
def verify(
    target: Annotated[str, typer.Argument(help="证明 PDF 文件，或验证码")],
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            help="只用此公钥集（LANTAI-CERT-KEYS-1 JSON）查验文件，不读本馆登记（可查验他馆证明）",
        ),
    ] = None,
) -> None:
    """查验证明：真实性（签名）、完整性（摘要）、签发机构与状态。不通过时退出码为 1。"""
    path = Path(target)
    if keys is not None:
        if not path.is_file():
            fail(f"找不到文件 {path}")
        try:
            ring = KeyRing.from_json(json.loads(keys.read_text(encoding="utf-8")))
        except (OSError, ValueError, ConfigError) as exc:
            fail(f"公钥集 {keys} 无法读取：{exc}")
        check = verify_pdf(path.read_bytes(), ring)
        _print_result(
            VerificationResult(
                verdict=check.verdict,
                message=check.message,
                authentic=check.authentic,
                unaltered=check.unaltered,
                code=check.block.code if check.block else None,
                issuer_name=check.issuer.issuer_name if check.issuer else None,
                issuer_code=check.issuer.issuer_code if check.issuer else None,
                algorithm=check.block.algorithm if check.block else None,
                key_id=check.block.key_id if check.block else None,
            )
        )
        raise typer.Exit(0 if check.verdict.value == "valid" else 1)
    inst = open_instance()
    with inst.db.read() as s:
        if path.is_file():
            result = verify_file(inst, s, path.read_bytes())
        else:
            result = verify_code(inst, s, target)
    _print_result(result)
    raise typer.Exit(0 if result.ok else 1)


@certificate_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="valid 或 revoked")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多列出几份")] = 50,
) -> None:
    """已出具的证明（新的在前）。"""
    inst = open_instance()
    with inst.db.read() as s:
        rows, total = list_certificates(s, Actor.operator(), status=status, limit=limit)
        table = Table(
            "验证码", "类型", "引用档案", "申请人", "出具时间", "状态", title=f"共 {total} 份"
        )
        for r in rows:
            table.add_row(
                display(r.code),
                CertificateKind(r.kind).label,
                "；".join(f"{c['archival_code']}（{c['pages']}）" for c in r.citations),
                r.applicant_name,
                f"{r.issued_at:%Y-%m-%d %H:%M}",
                CertificateStatus(r.status).label
                + (f"：{r.revoke_reason}" if r.revoke_reason else ""),
            )
    console.print(table)


@certificate_app.command("revoke")
def revoke(
    code: Annotated[str, typer.Argument(help="验证码")],
    reason: Annotated[str, typer.Option("--reason", help="撤销理由（必填）")],
) -> None:
    """撤销一份证明（查验时显示“已撤销”及理由）。"""
    inst = open_instance()

    def work() -> str:
        with inst.db.write() as s:
            return revoke_certificate(inst, s, Actor.operator(), code, reason=reason).code

    console.print(f"已撤销 {display(run(work))}")


@keys_app.command("list")
def keys_list() -> None:
    """本馆签名密钥（在用、已停用）与受信任的他馆公钥。"""
    inst = open_instance()
    with inst.db.read() as s:
        table = Table("密钥", "来源", "算法", "签发机构", "状态", "启用", "停用")
        for k in list_keys(s):
            table.add_row(
                k.key_id,
                "本馆" if k.origin == "own" else "他馆（受信任）",
                k.algorithm,
                f"{k.issuer_name}（{k.issuer_code}）",
                "在用" if k.state == "active" else "已停用",
                f"{k.valid_from:%Y-%m-%d %H:%M}",
                f"{k.retired_at:%Y-%m-%d %H:%M}" if k.retired_at else "—",
            )
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(
    profile: Annotated[
        str | None, typer.Option("--profile", help="sm2、ed25519 或 rsa3072（默认按设置）")
    ] = None,
) -> None:
    """停用在用的签名密钥（仍可查验它签过的证明）并生成新密钥。"""
    inst = open_instance()

    def work() -> str:
        with inst.db.write() as s:
            return rotate_key(inst, s, Actor.operator(), profile_name=profile).key_id

    console.print(f"新签名密钥：{run(work)}")


@keys_app.command("export")
def keys_export(
    out: Annotated[Path | None, typer.Option("--out", help="写到文件（默认输出到屏幕）")] = None,
) -> None:
    """导出本馆签名公钥集（LANTAI-CERT-KEYS-1），供他馆导入或离线查验。"""
    inst = open_instance()
    with inst.db.read() as s:
        text = json.dumps(export_keys(s), ensure_ascii=False, indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"已导出：{out}")


@keys_app.command("trust")
def keys_trust(
    path: Annotated[Path, typer.Argument(help="他馆导出的公钥集 JSON")],
    note: Annotated[str, typer.Option("--note", help="备注（如 核对渠道）")] = "",
) -> None:
    """导入他馆的证明签名公钥（跨馆出证：查验他馆出具的证明）。请先线下核对公钥指纹。"""
    inst = open_instance()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"无法读取 {path}：{exc}")

    def work() -> list[str]:
        with inst.db.write() as s:
            return import_trusted(inst, s, Actor.operator(), doc, note=note)

    added = run(work)
    console.print(f"已导入 {len(added)} 个公钥" + "".join(f"\n  {k}" for k in added))
