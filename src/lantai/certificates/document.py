"""The certificate PDF (A4 portrait, CJK font): 档案证明 or 档案复制件证明.

Page 1: the title, the verification code, the statement (issuing archive, applicant with the
masked ID number, purpose), the table of cited records (档号, 题名, 页码), for a certified copy
how many page images follow, the issuing archive and date with the electronic seal, and the QR
code of the verification URL with how to verify. A certified copy then has one page per cited
page image, each headed with its 档号 and 页号 and footed with the verification code.

:func:`render` returns the PDF bytes; they are signed as they are (:mod:`.sign`).
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image

from lantai.certificates.codes import display
from lantai.certificates.qr import QrFlowable
from lantai.store.certificates import CertificateKind

__all__ = ["CertificateContent", "Citation", "PageImage", "render"]

_MM = 72 / 25.4
_MAX_IMAGE_PX = 1654  # 150 dpi across A4: enough to read, small enough to send


@dataclass(frozen=True)
class PageImage:
    page_no: int
    image: Image.Image


@dataclass(frozen=True)
class Citation:
    record_id: int
    archival_code: str
    title: str
    pages: str  # "1-3,5" or "全部"
    images: tuple[PageImage, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CertificateContent:
    kind: CertificateKind
    code: str
    issuer_name: str
    issuer_code: str
    issued_at: datetime  # local date is printed
    applicant_name: str
    applicant_id_masked: str
    purpose: str
    verify_url: str
    verify_page: str
    algorithm: str
    key_id: str
    citations: list[Citation] = field(default_factory=list)
    request_ref: str | None = None


def _date_cn(value: datetime) -> str:
    local = value.astimezone()
    return f"{local.year}年{local.month}月{local.day}日"


def _jpeg(img: Image.Image) -> io.BytesIO:
    img = img.convert("L") if img.mode in ("1", "L", "LA", "I;16", "I") else img.convert("RGB")
    if max(img.size) > _MAX_IMAGE_PX:
        img = img.copy()
        img.thumbnail((_MAX_IMAGE_PX, _MAX_IMAGE_PX))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, optimize=True)
    out.seek(0)
    return out


def _statement(c: CertificateContent, e: Any) -> str:
    who = f"{e(c.applicant_name)}（身份证件号码 {e(c.applicant_id_masked)}）"
    issuer = f"{e(c.issuer_name)}（档案馆代码 {e(c.issuer_code or '未设置')}）"
    if c.kind is CertificateKind.CERTIFIED_COPY:
        pages = sum(len(ci.images) for ci in c.citations)
        if pages:
            body = (
                f"兹证明，本证明所附 {pages} 页复制件复制自{issuer}馆藏下列档案，"
                "与馆藏档案（数字化副本）内容一致。"
            )
        else:
            body = (
                f"兹证明，{issuer}馆藏下列档案的相应页码经核对无误。"
                "本馆未保存其数字化图像，本证明仅引用档号与页码，不附复制件。"
            )
    else:
        body = f"兹证明，{issuer}馆藏中存有下列档案。"
    return f"{body}应{who}申请，因「{e(c.purpose)}」需要，特出具本证明。"


def render(content: CertificateContent, *, font_path: Any = None) -> bytes:
    """The certificate as PDF bytes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import (
        Image as RLImage,
    )
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from lantai.catalogue.directory import register_cjk_font

    font = register_cjk_font(font_path)
    e = html.escape
    body = ParagraphStyle("b", fontName=font, fontSize=11.5, leading=20, wordWrap="CJK")
    small = ParagraphStyle("s", parent=body, fontSize=8.5, leading=12)
    cell = ParagraphStyle("c", parent=body, fontSize=9.5, leading=13)
    title = ParagraphStyle("t", parent=body, fontSize=24, leading=34, alignment=1)
    centre = ParagraphStyle("m", parent=body, fontSize=10, leading=14, alignment=1)
    right = ParagraphStyle("r", parent=body, alignment=2)
    code = display(content.code)
    width = A4[0] - 40 * _MM

    story: list[Any] = [
        Paragraph(e(content.kind.label), title),
        Paragraph(f"验证码：<b>{code}</b>", centre),
        Spacer(1, 8 * _MM),
        Paragraph(_statement(content, e), body),
        Spacer(1, 4 * _MM),
    ]
    copy = content.kind is CertificateKind.CERTIFIED_COPY
    head = ["序号", "档号", "题名", "页码"] + (["附复制件"] if copy else [])
    rows: list[list[Any]] = [[Paragraph(h, cell) for h in head]]
    for i, ci in enumerate(content.citations, start=1):
        row = [
            Paragraph(str(i), cell),
            Paragraph(e(ci.archival_code), cell),
            Paragraph(e(ci.title), cell),
            Paragraph(e(ci.pages), cell),
        ]
        if copy:
            row.append(Paragraph(f"{len(ci.images)} 页" if ci.images else "无", cell))
        rows.append(row)
    widths = [12 * _MM, 48 * _MM, width - 90 * _MM, 30 * _MM]
    if copy:
        widths = [12 * _MM, 44 * _MM, width - 104 * _MM, 28 * _MM, 20 * _MM]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [table, Spacer(1, 10 * _MM)]
    sign = [
        Paragraph(f"出具单位：{e(content.issuer_name)}", right),
        Paragraph(f"出具日期：{_date_cn(content.issued_at)}", right),
    ]
    if content.request_ref:
        sign.append(Paragraph(f"申请编号：{e(content.request_ref)}", right))
    seal = _seal(content.issuer_name, 38 * _MM, font)
    story.append(Table([[sign, seal]], colWidths=[width - 44 * _MM, 44 * _MM]))
    story.append(Spacer(1, 8 * _MM))
    qr = QrFlowable(content.verify_url, 34 * _MM)
    how = (
        "<b>验证方法</b>：用手机扫描左侧二维码，或访问 "
        f"{e(content.verify_page)} 输入验证码 {code}，可查验本证明是否由签发机构出具、"
        "是否被改动及是否有效；也可在该页上传本 PDF 文件查验。"
        f"<br/>本文件带有电子签名（{e(content.algorithm)}，签名密钥 {e(content.key_id[:27])}…），"
        "任何改动都会使验证失败。纸质打印件以验证码查验为准。"
    )
    story.append(Table([[qr, Paragraph(how, small)]], colWidths=[38 * _MM, width - 38 * _MM]))

    for ci in content.citations:
        for page in ci.images:
            story.append(PageBreak())
            story.append(
                Paragraph(f"复制件：档号 {e(ci.archival_code)} 第 {page.page_no} 页", centre)
            )
            story.append(Spacer(1, 3 * _MM))
            img = page.image
            max_w, max_h = width, A4[1] - 70 * _MM
            scale = min(max_w / img.width, max_h / img.height)
            story.append(RLImage(_jpeg(img), width=img.width * scale, height=img.height * scale))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawCentredString(
            A4[0] / 2,
            12 * _MM,
            f"{content.issuer_name} · {content.kind.label} · 验证码 {code} · 第 {doc.page} 页",
        )
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * _MM,
        rightMargin=20 * _MM,
        topMargin=22 * _MM,
        bottomMargin=22 * _MM,
        title=f"{content.kind.label} {code}",
        author=content.issuer_name,
        subject=f"{content.kind.label}（验证码 {code}）",
        creator="兰台 Lantai",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _seal(name: str, size: float, font: str) -> Any:
    """The round red 电子印章 drawing: the archive name on the arc, a star, 证明专用章."""
    from reportlab.graphics.shapes import Circle, Drawing, Group, Polygon, String
    from reportlab.lib import colors

    red = colors.HexColor("#c8102e")
    d = Drawing(size, size)
    r = size / 2
    d.add(Circle(r, r, r - 2, strokeColor=red, strokeWidth=2.2, fillColor=None))
    star: list[float] = []
    for i in range(10):
        radius = r * (0.22 if i % 2 == 0 else 0.09)
        angle = math.pi / 2 + i * math.pi / 5
        star += [r + radius * math.cos(angle), r + radius * math.sin(angle)]
    d.add(Polygon(star, fillColor=red, strokeColor=None))
    text = name[:16]
    span = math.radians(min(230, 20 * len(text)))
    for i, ch in enumerate(text):
        angle = math.pi / 2 + span / 2 - span * (i + 0.5) / len(text)
        glyph = String(0, 0, ch, fontName=font, fontSize=r * 0.24, fillColor=red)
        glyph.textAnchor = "middle"
        g = Group(glyph)
        g.translate(r + r * 0.68 * math.cos(angle), r + r * 0.68 * math.sin(angle))
        g.rotate(math.degrees(angle) - 90)
        d.add(g)
    label = String(r, r * 0.42, "证明专用章", fontName=font, fontSize=r * 0.2, fillColor=red)
    label.textAnchor = "middle"
    d.add(label)
    return d
