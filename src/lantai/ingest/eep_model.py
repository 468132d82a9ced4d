"""DA/T 48 EEP vocabulary shared by the EEP reader and writer.

- :data:`NS`, the fixed texts of the standard, and the identifier scheme ``修改R-…`` (R is the
  number of revisions: 0 in a 原始型 package).
- :data:`ELEMENT_PATHS` — where each Lantai metadata element key (``lantai.archival`` scheme
  keys) lives inside a 文件实体, as a path of DA/T 46 element names. The reader maps these paths
  to keys, the writer writes keys to these paths; everything else a 文件实体 holds is kept by
  the reader under its DA/T 46 name (``TransferRecord.source_names`` / ``Transfer.structure``).
- Scheme elements that DA/T 46 has no slot for travel in extra 附注 entries written as
  ``〔著录项〕名称：值`` (:data:`EXTRA_NOTE_PREFIX`), so an export → import round trip keeps them.
- The writer's input: :class:`EepPackage` → :class:`EepDocument` → :class:`EepContent`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lantai.ingest.transfer import ProcessStep

__all__ = [
    "DESCRIPTION_ORIGINAL",
    "DESCRIPTION_REVISED",
    "ELEMENT_PATHS",
    "ENCODING_DESCRIPTION",
    "EXTRA_NOTE_PREFIX",
    "FORMAT_DESCRIPTION",
    "NS",
    "EepContent",
    "EepDocument",
    "EepPackage",
    "EepSource",
    "q",
]

NS = "http://www.saac.gov.cn/standards/ERM/encapsulation"
FORMAT_DESCRIPTION = (
    "本EEP根据中华人民共和国档案行业标准DA/T 48-2009《基于XML的电子文件封装规范》生成"
)
DESCRIPTION_ORIGINAL = "本封装包包含电子文件数据及其元数据，原始封装，未经修改"
DESCRIPTION_REVISED = (
    "本封装包包含电子文件数据及其元数据，系修改封装，在保留原封装包的基础上，添加了修改层"
)
ENCODING_DESCRIPTION = (
    "本封装包中“编码数据”元素存储的是计算机文件二进制流的Base64编码，有关Base64编码规则参见"
    "IETF RFC 2045多用途邮件扩展（MIME）第一部分：互联网信息体格式。当提取和显现封装在编码数据"
    "元素中的计算机文件时，应对Base64编码进行反编码，并依据封装包中“反编码关键字”元素中记录的值"
    "还原计算机文件的扩展名"
)
EXTRA_NOTE_PREFIX = "〔著录项〕"


def q(local: str) -> str:
    """Clark name of an EEP element: ``q("题名")`` → ``"{NS}题名"``."""
    return f"{{{NS}}}{local}"


# element key → path below 文件实体 (DA/T 46 names). Order = the writer's order inside each parent.
ELEMENT_PATHS: Mapping[str, tuple[str, ...]] = {
    "archive_code": ("来源", "档案馆代码"),
    "year": ("档号", "年度"),
    "retention": ("档号", "保管期限"),
    "org_code": ("档号", "机构或问题"),
    "item_no": ("档号", "室编件号"),
    "title": ("内容描述", "题名"),
    "keywords": ("内容描述", "关键词"),
    "persons": ("内容描述", "人名"),
    "abstract": ("内容描述", "摘要"),
    "class_number": ("内容描述", "分类号"),
    "doc_number": ("内容描述", "文件编号"),
    "responsible": ("内容描述", "责任者"),
    "date": ("内容描述", "日期"),
    "doc_type": ("内容描述", "文种"),
    "urgency": ("内容描述", "紧急程度"),
    "main_recipient": ("内容描述", "主送"),
    "copy_recipient": ("内容描述", "抄送"),
    "security_level": ("内容描述", "密级"),  # "秘密★10年" ↔ 密级 + 保密期限
    "pages": ("形式特征", "页数"),
    "language": ("形式特征", "语种"),
    "draft": ("形式特征", "稿本"),
    "location": ("存储位置", "当前位置"),
    "microfilm_no": ("存储位置", "缩微号"),
    "open_status": ("权限管理", "控制标识"),
    "notes": ("附注",),
}


@dataclass(frozen=True, kw_only=True)
class EepSource:
    """来源: who holds and who formed the record."""

    unit: str  # 立档单位名称 (required)
    archive_name: str = ""
    archive_code: str = ""
    fonds_name: str = ""


@dataclass(frozen=True, kw_only=True)
class EepContent:
    """One 编码: one computer file, embedded as base64 (or referring to another 编码数据)."""

    name: str  # 计算机文件名
    source: Path | bytes | None = None  # the bytes; None when ``ref`` is given
    ref: str | None = None  # 引用编码数据ID: re-use the data of another 编码数据
    format: str = ""  # 格式信息
    creating_app: str = ""  # 文档创建程序
    declared_size: str | None = None  # 计算机文件大小 to write (default: the real size)
    digitization: Mapping[str, str] | None = None  # 数字化属性 element name → value


@dataclass(frozen=True, kw_only=True)
class EepDocument:
    """One 文档 (正文 or 附件) with its encodings."""

    contents: Sequence[EepContent]
    title: str = ""
    main: bool = True  # 文档主从声明: 主文档 / 附属文档


@dataclass(frozen=True, kw_only=True)
class EepPackage:
    """Everything the writer needs for one 文件实体 (one 件) and its process metadata."""

    key: str  # 电子文件号
    values: Mapping[str, Any]  # Lantai element key → value (stored form)
    documents: Sequence[EepDocument]
    source: EepSource
    creator_unit: str  # 封装包创建单位
    created: datetime
    fonds_code: str = ""  # 档号/全宗号
    archival_code: str = ""  # the full 档号, written as the 档号 element's own text
    extra_elements: Mapping[str, str] = field(default_factory=dict)  # scheme name → value (附注)
    process: Sequence[ProcessStep] = ()
    process_status: str = "历史行为"
    carrier_numbers: Sequence[str] = ()  # 脱机载体编号 (an empty one is written if none)
    information_systems: Sequence[str] = ()  # 信息系统描述
