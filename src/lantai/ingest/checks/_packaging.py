"""Package-level items that depend on how the package was made (BagIt, EEP, offline folder).

- :func:`description_findings` — 1-12 说明文件和目录文件: BagIt ``bagit.txt``/``bag-info.txt``/
  manifests; EEP 封装包格式描述; offline 登记表 + catalogue spreadsheet.
- :func:`structure_findings` — 1-13 目录结构: what the reader found about the organisation of the
  package (its notes for 1-13 and its general notes), EEP 封装包类型.
- :func:`package_metadata_findings` — 2-10 信息包元数据: DA/T 48 附录C elements of an EEP, the
  six fields of a 登记表.

The reader owns parsing; these functions read ``Transfer.structure``, ``Transfer.register``, the
TAG files and ``Transfer.notes``. EEP facts are looked up under their DA/T 48 element names.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from lantai.ingest.checks._core import CheckContext, Finding, Status
from lantai.ingest.checks._evidence import reader_findings
from lantai.ingest.transfer import FileRole, SourceKind

__all__ = [
    "EEP_DESCRIPTION",
    "EEP_PACKAGE_ELEMENTS",
    "description_findings",
    "eep_packages",
    "package_metadata_findings",
    "structure_findings",
]

EEP_DESCRIPTION = "本EEP根据中华人民共和国档案行业标准DA/T 48-2009《基于XML的电子文件封装规范》生成"
EEP_TYPES = ("原始型", "修改型")
# DA/T 48-2009 附录C: the package-level (封装) elements every EEP carries.
EEP_PACKAGE_ELEMENTS = (
    "封装包格式描述",
    "版本",
    "eep版本",
    "封装包类型",
    "封装包类型描述",
    "封装包创建时间",
    "封装包创建单位",
)
REGISTER_FIELDS = (
    ("unit", "单位"),
    ("time", "时间"),
    ("category", "门类"),
    ("items", "件数"),
    ("bytes", "字节数"),
    ("method", "方式"),
)
KIND_LABELS = {
    SourceKind.BAGIT: "BagIt（RFC 8493）",
    SourceKind.EEP: "DA/T 48-2009 EEP",
    SourceKind.EEP_SET: "DA/T 48-2009 EEP 集合",
    SourceKind.OFFLINE: "离线移交（文件夹与目录表格）",
}


def eep_packages(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """Package-level facts of every EEP in the transfer, by its name in the package.

    ``structure["eep_packages"]`` (EEP sets, bags holding EEPs), else the single package's
    ``structure["eep"]`` — or the structure itself — for an EEP transfer; ``{}`` otherwise.
    """
    s = ctx.transfer.structure
    packages = s.get("eep_packages")
    if isinstance(packages, dict) and packages:
        return {str(k): v for k, v in packages.items() if isinstance(v, dict)}
    if ctx.transfer.kind in (SourceKind.EEP, SourceKind.EEP_SET):
        nested = s.get("eep")
        return {ctx.transfer.source_name: nested if isinstance(nested, dict) else s}
    return {}


def _tag_names(ctx: CheckContext) -> set[str]:
    return {
        PurePosixPath(f.path).name.lower() for f in ctx.transfer.files if f.role is FileRole.TAG
    }


def _f(c: str, status: Status, message: str, **evidence: Any) -> Finding:
    return Finding(code=c, status=status, message=message, **evidence)


def description_findings(ctx: CheckContext, c: str) -> list[Finding]:
    t = ctx.transfer
    out = reader_findings(ctx, "1-12")
    if t.kind is SourceKind.BAGIT:
        tags = _tag_names(ctx)
        if "bagit.txt" not in tags:
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "缺少 BagIt 声明文件 bagit.txt",
                    file="bagit.txt",
                    expected="存在",
                    found="缺失",
                    rule="RFC 8493 §2.1.1",
                )
            )
        if not any(n.startswith("manifest-") and n.endswith(".txt") for n in tags):
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "缺少载荷清单（目录文件）manifest-<算法>.txt",
                    file="manifest-*.txt",
                    expected="存在",
                    found="缺失",
                    rule="RFC 8493 §2.1.3",
                )
            )
        if "bag-info.txt" not in tags:
            out.append(
                _f(
                    c,
                    Status.MANUAL,
                    "缺少说明文件 bag-info.txt（移交单位、时间、数量等），须人工核对交接单据",
                    file="bag-info.txt",
                    expected="存在",
                    found="缺失",
                    rule="RFC 8493 §2.2.2",
                )
            )
    for name, facts in eep_packages(ctx).items():
        described = facts.get("封装包格式描述")
        if described is None or str(described).strip() != EEP_DESCRIPTION:
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "封装包缺少「封装包格式描述」"
                    if described is None
                    else "「封装包格式描述」不是 DA/T 48-2009 规定的文字",
                    file=name,
                    field="封装包格式描述",
                    expected=EEP_DESCRIPTION,
                    found="缺失" if described is None else str(described),
                    rule="DA/T 48-2009",
                )
            )
    if t.kind in (SourceKind.EEP, SourceKind.EEP_SET):
        if not t.records:
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "封装包中没有文件实体（目录信息）",
                    field="文件实体块",
                    expected="至少一个文件实体",
                    found="无",
                    rule="DA/T 48-2009",
                )
            )
    elif t.kind is SourceKind.OFFLINE:
        if t.register is None:
            out.append(
                _f(
                    c,
                    Status.MANUAL,
                    "缺少移交接收登记表（说明文件），须对照纸质登记表人工核对",
                    field="登记表",
                    expected="单位、时间、门类、件数、字节数、方式",
                    found="缺失",
                    rule="档发〔2012〕7号 附件3",
                )
            )
        if not any(f.role is FileRole.METADATA for f in t.files):
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "缺少目录文件（机读目录表格）",
                    field="目录文件",
                    expected="目录表格（XLSX/CSV）",
                    found="缺失",
                    rule="GB/T 18894-2016",
                )
            )
    if not out:
        out.append(_f(c, Status.PASSED, f"说明文件和目录文件齐全（{KIND_LABELS[t.kind]}）"))
    return out


def structure_findings(ctx: CheckContext, c: str) -> list[Finding]:
    t = ctx.transfer
    out = reader_findings(ctx, "1-13")
    for note in t.notes:
        if note.code == "reader":
            out.append(
                _f(
                    c,
                    Status.FAILED if note.severity == "error" else Status.MANUAL,
                    note.message,
                    file=note.file,
                    rule="读取信息包时发现",
                )
            )
    for name, facts in eep_packages(ctx).items():
        kind = facts.get("封装包类型")
        if kind is not None and str(kind).strip() not in EEP_TYPES:
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    f"封装包类型「{kind}」不是原始型或修改型",
                    file=name,
                    field="封装包类型",
                    expected="原始型、修改型",
                    found=str(kind),
                    rule="DA/T 48-2009",
                )
            )
    if not t.content_files():
        out.append(
            _f(c, Status.MANUAL, "信息包中没有内容文件", expected="至少一个内容文件", found="无")
        )
    if not out:
        out.append(_f(c, Status.PASSED, f"信息包目录结构符合 {KIND_LABELS[t.kind]}"))
    return out


def package_metadata_findings(ctx: CheckContext, c: str) -> list[Finding]:
    t = ctx.transfer
    out = reader_findings(ctx, "2-10")
    checked = False
    for package, facts in eep_packages(ctx).items():
        checked = True
        for name in EEP_PACKAGE_ELEMENTS:
            value = facts.get(name)
            if value is None or not str(value).strip():
                out.append(
                    _f(
                        c,
                        Status.FAILED,
                        f"封装包缺少封装元数据「{name}」",
                        file=package,
                        field=name,
                        expected="非空",
                        found="缺失",
                        rule="DA/T 48-2009 附录C",
                    )
                )
        version, eep_version = facts.get("版本"), facts.get("eep版本")
        if version and eep_version and str(version).strip() != str(eep_version).strip():
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "「版本」与被签名对象的 eep版本 属性不一致",
                    file=package,
                    field="版本",
                    expected=str(eep_version),
                    found=str(version),
                    rule="DA/T 48-2009",
                )
            )
    if t.register is not None:
        checked = True
        reg = t.register
        lacking = [label for attr, label in REGISTER_FIELDS if getattr(reg, attr) in (None, "")]
        if lacking:
            out.append(
                _f(
                    c,
                    Status.FAILED,
                    "登记表缺少：" + "、".join(lacking),
                    field="、".join(lacking),
                    expected="单位、时间、门类、件数、字节数、方式",
                    found="缺项",
                    rule="档发〔2012〕7号 附件3；GB/T 18894-2016 表A.1",
                )
            )
    if not checked and not out:
        return [_f(c, Status.NOT_APPLICABLE, "信息包不含封装元数据或登记表（非 EEP、无登记表）")]
    if not out:
        out.append(_f(c, Status.PASSED, "信息包元数据齐全"))
    return out
