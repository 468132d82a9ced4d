"""Make small OFD files in tests: a strictly valid GB/T 33190-2016 document, signed or not,
with or without an e-invoice attachment, and copies of OFDs with one member changed.

    make_ofd(path, pages=["第一页", "第二页"], signed="MD5", invoice=INVOICE)
    replace_member(src, dst, "Doc_0/Pages/Page_0/Content.xml", new_bytes)

``signed`` is None, "MD5", "SHA1" (strict) or "SM3" / the SM3 OID (tolerant only). The signature
value is a placeholder: only the References are meaningful (as in lantai.formats.ofd).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

NS = "http://www.ofdspec.org/2016"
SM3_OID = "1.2.156.10197.1.401"

INVOICE: dict[str, Any] = {
    "InvoiceCode": "044001900111",
    "InvoiceNo": "12345678",
    "IssueDate": "2024年03月05日",
    "InvoiceCheckCode": "12345678901234567890",
    "MachineNo": "499099999999",
    "BuyerName": "某市档案馆",
    "BuyerTaxID": "11440100MB2C12345X",
    "SellerName": "某某科技有限公司",
    "SellerTaxID": "91440101MA5CXXXX1Y",
    "TaxExclusiveTotalAmount": "100.00",
    "TaxTotalAmount": "6.00",
    "TaxInclusiveTotalAmount": "106.00",
}


def _digest(method: str, data: bytes) -> bytes:
    if method in ("SM3", SM3_OID):
        return hashlib.new("sm3", data).digest()
    if method == "SHA1":
        return hashlib.sha1(data).digest()
    return hashlib.md5(data).digest()


def _page(text: str, first_id: int) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="{first_id}">'
        f'<ofd:TextObject ID="{first_id + 1}" Boundary="20 20 170 10" Font="1" Size="5">'
        f'<ofd:TextCode X="0" Y="5">{escape(text)}</ofd:TextCode></ofd:TextObject>'
        f"</ofd:Layer></ofd:Content></ofd:Page>"
    ).encode()


def make_ofd(
    path: Path,
    *,
    pages: list[str] | None = None,
    signed: str | None = None,
    invoice: dict[str, Any] | None = None,
    version: str = "1.0",
    doc_type: str = "OFD",
) -> Path:
    """Write an OFD at ``path`` (strictly valid for version 1.0 / OFD / MD5 or SHA1)."""
    pages = pages if pages is not None else ["兰台测试文档"]
    members: dict[str, bytes] = {}
    max_id = 1 + 2 * len(pages) + 1
    page_refs = "".join(
        f'<ofd:Page ID="{100 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>'
        for i in range(len(pages))
    )
    attachments = "<ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments>" if invoice else ""
    members["Doc_0/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Document xmlns:ofd="{NS}">'
        f"<ofd:CommonData><ofd:MaxUnitID>{max_id + 200}</ofd:MaxUnitID>"
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
        f"<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
        f"<ofd:Pages>{page_refs}</ofd:Pages>{attachments}</ofd:Document>"
    ).encode()
    members["Doc_0/PublicRes.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res">'
        f'<ofd:Fonts><ofd:Font ID="1" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>'
    ).encode()
    for i, text in enumerate(pages):
        members[f"Doc_0/Pages/Page_{i}/Content.xml"] = _page(text, 2 + 2 * i)
    if invoice:
        fields = "".join(f"<fp:{k}>{escape(str(v))}</fp:{k}>" for k, v in invoice.items())
        members["Doc_0/Attachs/original_invoice.xml"] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<eInvoice '
            'xmlns:fp="http://www.edrm.org.cn/schema/e-invoice/2019" Version="1.0">'
            f"{fields}</eInvoice>"
        ).encode()
        members["Doc_0/Attachs/Attachments.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Attachments xmlns:ofd="{NS}">'
            '<ofd:Attachment ID="300" Name="original_invoice" Format="xml" Visible="false">'
            "<ofd:FileLoc>original_invoice.xml</ofd:FileLoc></ofd:Attachment></ofd:Attachments>"
        ).encode()
    signatures = "<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>" if signed else ""
    members["OFD.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ofd:OFD xmlns:ofd="{NS}" Version="{version}" DocType="{doc_type}"><ofd:DocBody>'
        f"<ofd:DocInfo><ofd:DocID>6f1c0e5a2b3d4c5e8f9a0b1c2d3e4f50</ofd:DocID>"
        f"<ofd:CreationDate>2024-03-05</ofd:CreationDate></ofd:DocInfo>"
        f"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>{signatures}</ofd:DocBody></ofd:OFD>"
    ).encode()
    if signed:
        refs = "".join(
            f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
            f"{base64.b64encode(_digest(signed, data)).decode()}</ofd:CheckValue></ofd:Reference>"
            for name, data in sorted(members.items())
        )
        members["Doc_0/Signs/Signatures.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="{NS}">'
            f"<ofd:MaxSignId>1</ofd:MaxSignId>"
            f'<ofd:Signature ID="1" Type="Sign" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
        ).encode()
        members["Doc_0/Signs/Sign_0/Signature.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="{NS}">'
            f'<ofd:SignedInfo><ofd:Provider ProviderName="lantai-test"/>'
            f"<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
            f'<ofd:References CheckMethod="{signed}">{refs}</ofd:References></ofd:SignedInfo>'
            f"<ofd:SignedValue>SignedValue.dat</ofd:SignedValue></ofd:Signature>"
        ).encode()
        members["Doc_0/Signs/Sign_0/SignedValue.dat"] = b"\x30\x00"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def replace_member(src: Path, dst: Path, member: str, data: bytes | None) -> Path:
    """Copy the OFD ``src`` to ``dst`` with ``member`` replaced (or removed when data is None)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == member:
                if data is not None:
                    zout.writestr(info.filename, data)
                continue
            zout.writestr(info, zin.read(info))
    return dst


def add_raw_member(src: Path, dst: Path, name: str, data: bytes) -> Path:
    """Copy ``src`` to ``dst`` adding a member under an arbitrary (possibly hostile) name."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zinfo = zipfile.ZipInfo(name)
        zout.writestr(zinfo, data)
    return dst
