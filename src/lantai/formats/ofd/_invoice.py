"""E-invoice data carried by an OFD (增值税电子发票 and 全面数字化电子发票 / 数电票).

Source, in order of preference:

1. the structured attachment ``original_invoice.xml`` (root ``eInvoice``, namespace
   ``http://www.edrm.org.cn/schema/e-invoice/2019``), found through Document.xml's Attachments or
   by its name anywhere in the package;
2. ``OFD.xml`` DocInfo ``CustomData`` entries named 发票代码, 发票号码, 开票日期, 校验码, 合计金额 …
   (what tax-platform OFDs without the attachment carry).

Elements are matched by local name, so the ``fp:`` prefix and the 数电票 element names
(InvoiceNumber, IssueTime, TotalAmWithoutTax …) [M: from secondary descriptions] are accepted.
:attr:`Invoice.key` is what identifies one invoice for duplicate detection (重复入账): (发票代码,
发票号码), or the 20-digit 数电票 号码 alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar

from lxml import etree

from lantai.formats.ofd._package import OfdPackage, local_name
from lantai.formats.ofd._structure import Structure

__all__ = ["Invoice", "duplicate_invoices", "invoice_from_xml", "invoice_of"]

K = TypeVar("K")

INVOICE_MEMBER: Final = "original_invoice.xml"
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "code": ("InvoiceCode",),
    "number": ("InvoiceNo", "InvoiceNumber", "EIid"),
    "issue_date": ("IssueDate", "IssueTime", "RequestTime"),
    "check_code": ("InvoiceCheckCode", "CheckCode"),
    "machine_no": ("MachineNo",),
    "amount": ("TaxExclusiveTotalAmount", "TotalAmWithoutTax"),
    "tax": ("TaxTotalAmount", "TotalTaxAm"),
    "total": ("TaxInclusiveTotalAmount", "TotalTax-includedAmount"),
    "buyer_name": ("BuyerName",),
    "buyer_tax_id": ("BuyerTaxID", "BuyerIdNum"),
    "seller_name": ("SellerName",),
    "seller_tax_id": ("SellerTaxID", "SellerIdNum"),
}
_CUSTOM_DATA: Final[dict[str, tuple[str, ...]]] = {
    "code": ("发票代码",),
    "number": ("发票号码",),
    "issue_date": ("开票日期",),
    "check_code": ("校验码",),
    "machine_no": ("机器编号",),
    "amount": ("合计金额",),
    "tax": ("合计税额",),
    "total": ("价税合计",),
    "buyer_name": ("购买方名称",),
    "buyer_tax_id": ("购买方纳税人识别号",),
    "seller_name": ("销售方名称",),
    "seller_tax_id": ("销售方纳税人识别号",),
}
_DATE_PATTERNS: Final = (
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日"),
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})"),
)


@dataclass(frozen=True, kw_only=True)
class Invoice:
    """The identifying and money fields of one e-invoice."""

    kind: str  # 增值税电子发票 | 数电票
    code: str | None  # 发票代码 (10 or 12 digits; none for 数电票)
    number: str  # 发票号码 (8 digits; 20 for 数电票)
    issue_date: date | None  # 开票日期
    issue_date_text: str  # as written (e.g. 2020年10月10日)
    check_code: str | None  # 校验码
    machine_no: str | None  # 机器编号
    amount: Decimal | None  # 合计金额 (excluding tax)
    tax: Decimal | None  # 合计税额
    total: Decimal | None  # 价税合计
    buyer_name: str | None
    buyer_tax_id: str | None
    seller_name: str | None
    seller_tax_id: str | None
    source: str  # package member the data came from (original_invoice.xml or OFD.xml)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two copies the same invoice: (发票代码, 发票号码); ("", 号码) for 数电票."""
        return (self.code or "", self.number)


def duplicate_invoices(items: Iterable[tuple[K, Invoice]]) -> list[tuple[K, K, Invoice]]:
    """Every later copy of an invoice already seen: (first holder, duplicate holder, invoice)."""
    first: dict[tuple[str, str], K] = {}
    out: list[tuple[K, K, Invoice]] = []
    for holder, inv in items:
        if inv.key in first:
            out.append((first[inv.key], holder, inv))
        else:
            first[inv.key] = holder
    return out


def invoice_of(pkg: OfdPackage, st: Structure) -> Invoice | None:
    """The invoice an OFD carries, or None when it carries none."""
    member = _invoice_member(pkg, st)
    if member is not None:
        root = pkg.xml(member)
        if root is not None:
            values = _from_xml(root)
            inv = _build(values, member)
            if inv is not None:
                return inv
    for doc in st.docs:
        values = {
            key: next((doc.custom_data[n] for n in names if doc.custom_data.get(n)), "")
            for key, names in _CUSTOM_DATA.items()
        }
        inv = _build(values, "OFD.xml")
        if inv is not None:
            return inv
    return None


def invoice_from_xml(root: etree._Element, source: str) -> Invoice | None:
    """The invoice in a parsed invoice XML (``original_invoice.xml``, a 数电票 XML file)."""
    return _build(_from_xml(root), source)


def _invoice_member(pkg: OfdPackage, st: Structure) -> str | None:
    for doc in st.docs:
        if doc.attachments is None:
            continue
        root = pkg.xml(doc.attachments)
        if root is None:
            continue
        for att in root:
            if local_name(att) != "Attachment":
                continue
            loc = next((c for c in att if local_name(c) == "FileLoc"), None)
            if loc is None:
                continue
            name = (att.get("Name") or "").strip()
            text = (loc.text or "").strip()
            if name == "original_invoice" or text.endswith(INVOICE_MEMBER):
                target = pkg.resolve(text, base=doc.attachments, what="发票附件 ")
                if target is not None:
                    return target
    candidates = sorted(m for m in pkg.members if m.rsplit("/", 1)[-1] == INVOICE_MEMBER)
    return candidates[0] if candidates else None


def _from_xml(root: etree._Element) -> dict[str, str]:
    by_name: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el).localname
        text = (el.text or "").strip()
        if text and name not in by_name:
            by_name[name] = text
    return {
        key: next((by_name[n] for n in names if by_name.get(n)), "")
        for key, names in _FIELDS.items()
    }


def _build(values: dict[str, str], source: str) -> Invoice | None:
    number = re.sub(r"\s", "", values.get("number", ""))
    if not number.isdigit():
        return None
    code = re.sub(r"\s", "", values.get("code", "")) or None
    kind = "数电票" if code is None and len(number) == 20 else "增值税电子发票"
    raw_date = values.get("issue_date", "")
    return Invoice(
        kind=kind,
        code=code,
        number=number,
        issue_date=_date(raw_date),
        issue_date_text=raw_date,
        check_code=values.get("check_code") or None,
        machine_no=values.get("machine_no") or None,
        amount=_money(values.get("amount", "")),
        tax=_money(values.get("tax", "")),
        total=_money(values.get("total", "")),
        buyer_name=values.get("buyer_name") or None,
        buyer_tax_id=values.get("buyer_tax_id") or None,
        seller_name=values.get("seller_name") or None,
        seller_tax_id=values.get("seller_tax_id") or None,
        source=source,
    )


def _date(text: str) -> date | None:
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text.strip())
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def _money(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace("¥", "").replace("￥", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
