"""Generate tests/appraisal/screening_set.yaml: labelled catalogue and full-text snippets.

Deterministic (fixed seed): ``.venv/bin/python tests/appraisal/make_screening_set.py``. Every case
has the text, where it sits (a catalogue field or a full text) and the hits expected (rule kind +
matched text). Positives: valid 身份证号 (18-digit, X check digit, full-width digits, legacy
15-digit after 身份证), mobiles (plain, 3-4-4, +86), landlines, bank cards (Luhn), names beside
sensitive context, sensitive terms (also in 繁体). Negatives: invalid check digits and dates,
12-digit runs, Luhn failures, 文号, 档号, dates, amounts, order numbers, anonymised names, place
names such as 王府井.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).with_name("screening_set.yaml")
SEED = 20261121
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
REGIONS = ["110101", "310104", "360102", "440305", "510107", "420106", "610113", "360403", "320102"]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官"]
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅志海波宁鹏辉林斌宇浩凯"
R = random.Random(SEED)


def check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def birth() -> str:
    d = date(1930, 1, 1) + timedelta(days=R.randrange(0, 365 * 75))
    return d.strftime("%Y%m%d")


def id18(valid: bool = True, want_x: bool = False) -> str:
    while True:
        first = R.choice(REGIONS) + birth() + f"{R.randrange(1000):03d}"
        cd = check_digit(first)
        if want_x and cd != "X":
            continue
        if valid:
            return first + cd
        wrong = R.choice([c for c in "0123456789X" if c != cd])
        return first + wrong


def luhn_complete(body: str) -> str:
    for d in "0123456789":
        s = body + d
        total = 0
        for i, ch in enumerate(reversed(s)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return s
    raise AssertionError


def card(valid: bool = True, length: int = 16) -> str:
    body = R.choice(["622202", "621700", "622848", "436742", "622588"]) + "".join(
        R.choice("0123456789") for _ in range(length - 7)
    )
    full = luhn_complete(body)
    if valid:
        return full
    return full[:-1] + str((int(full[-1]) + R.randrange(1, 10)) % 10)


def mobile() -> str:
    return "1" + R.choice("3456789") + "".join(R.choice("0123456789") for _ in range(9))


def name() -> str:
    s = R.choice(COMPOUND) if R.random() < 0.1 else R.choice(SURNAMES)
    return s + "".join(R.choice(GIVEN) for _ in range(R.choice((1, 2))))


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


def case(text: str, hits: list[tuple[str, str]], field: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text, "expected": [{"kind": k, "text": t} for k, t in hits]}
    if field:
        out["field"] = field
    return out


def build() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    add = cases.append
    # --- 身份证号 -----------------------------------------------------------------------------------
    for _ in range(30):
        i = id18()
        t = R.choice(
            ["申请人身份证号：{}，现住本市。", "公民身份号码{}", "经办人（身份证{}）签收", "{}"]
        )
        add(case(t.format(i), [("id_card", i)]))
    for _ in range(6):
        i = id18(want_x=True)
        shown = i.lower() if R.random() < 0.5 else i
        add(case(f"身份證號碼：{shown}。", [("id_card", shown)]))
    for _ in range(4):
        i = id18()
        add(case(f"证件号码：{fullwidth(i)}", [("id_card", fullwidth(i))]))
    for _ in range(4):
        d = birth()
        i15 = R.choice(REGIONS) + d[2:] + f"{R.randrange(1000):03d}"
        add(case(f"原身份证号码{i15}，已换领新证。", [("id_card", i15)]))
    for _ in range(15):
        add(case(f"登记号{id18(valid=False)}（校验位错误）", []))
    for _ in range(5):
        bad = R.choice(REGIONS) + "19901345" + f"{R.randrange(1000):03d}"
        bad += check_digit(bad)
        add(case(f"编号 {bad}", []))
    # --- 手机号 -------------------------------------------------------------------------------------
    for _ in range(30):
        m = mobile()
        form = R.randrange(4)
        if form == 0:
            add(case(f"联系电话：{m}", [("mobile", m)]))
        elif form == 1:
            s = f"{m[:3]}-{m[3:7]}-{m[7:]}"
            add(case(f"手机 {s}（本人）", [("mobile", s)]))
        elif form == 2:
            s = f"{m[:3]} {m[3:7]} {m[7:]}"
            add(case(f"联系人张先生，手机{s}。", [("mobile", s)]))
        else:
            add(case(f"境外来电请拨+86{m}", [("mobile", m)]))
    for _ in range(12):
        m = mobile()
        add(
            case(R.choice([f"流水号{m}5", f"批次{'2' + m}", f"编码12{m[2:]}", f"单号{m[:10]}"]), [])
        )
    # --- 固定电话 -----------------------------------------------------------------------------------
    for _ in range(25):
        local = R.choice("2345678") + "".join(
            R.choice("0123456789") for _ in range(R.choice((6, 7)))
        )
        area = R.choice(["010", "021", "0791", "0755", "0371", "0898"])
        if area in ("010", "021") and len(local) == 7:
            local += "1"
        s = R.choice(
            [f"({area}){local}", f"{area}-{local}", f"（{area}）{local}", f"{area}{local}"]
        )
        add(case(f"办公电话：{s}", [("landline", s)]))
    # --- 银行卡号 -----------------------------------------------------------------------------------
    for _ in range(25):
        c = card(length=R.choice((16, 19)))
        if R.random() < 0.3 and len(c) == 16:
            c = " ".join(c[i : i + 4] for i in range(0, 16, 4))
        add(case(f"补助款已汇入其银行卡号{c}。", [("bank_card", c)]))
    for _ in range(15):
        add(case(f"卡号{card(valid=False, length=R.choice((16, 19)))}作废", []))
    # --- 人名 + 敏感语境 ------------------------------------------------------------------------------
    templates = [
        "经研究，给予{n}同志党内警告处分。",
        "{n}因违纪被开除公职。",
        "关于{n}违纪问题的调查报告",
        "{n}受到记过处分",
        "{n}因犯盗窃罪被判处有期徒刑三年。",
        "判决书：被告人{n}，男，1962年生。",
        "{n}患有精神病，经鉴定无民事行为能力。",
        "{n}与其妻离婚一案",
        "门诊病历（患者{n}）",
        "对{n}作出撤职处分的决定",
        "{n}、{m}二人因赌博被行政拘留。",
        "{n}局长因违纪受到处分。",
    ]
    for _ in range(60):
        t = R.choice(templates)
        n, m = name(), name()
        hits = [("name_context", n)] + ([("name_context", m)] if "{m}" in t else [])
        add(case(t.format(n=n, m=m), hits, field="title" if R.random() < 0.4 else None))
    for t in [
        "张某因违纪被开除公职。",
        "李某某受到记过处分",
        "对严重违纪问题进行处分的规定",
        "任职期间受到警告处分的人员名单",
        "方案中关于处分的条款",
        "王府井大街商户违纪经营处理",
        "张家口市关于开除学籍的通知",
        "李村村委会关于违纪问题的报告",
        "黄河河务局处分决定",
        "关于加强党员违纪处分工作的意见",
        "精神病医院床位情况统计",
        "离婚登记工作规范",
    ]:
        add(case(t, []))
    for _ in range(20):
        n = name()
        add(case(R.choice([f"{n}同志任办公室主任。", f"{n}参加了表彰大会。", f"经办人：{n}"]), []))
    # --- 敏感词 -------------------------------------------------------------------------------------
    for _term, shown in [
        ("军事设施", "军事设施"),
        ("国家秘密", "國家秘密"),
        ("情报", "情報"),
        ("线人", "线人"),
        ("举报人", "舉報人"),
        ("商业秘密", "商业秘密"),
        ("投标报价", "投标报价"),
        ("政审", "政审"),
        ("邪教", "邪教"),
        ("边界谈判", "邊界談判"),
        ("技术侦察", "技术侦察"),
        ("干部考察", "干部考察"),
    ]:
        for tpl in ("该项材料涉及{}，请妥善保管。", "关于{}有关问题的报告"):
            add(
                case(
                    tpl.format(shown), [("terms", shown)], field="title" if "报告" in tpl else None
                )
            )
    # --- 干净的相似文本 -------------------------------------------------------------------------------
    clean = [
        "赣府发〔2010〕12号",
        "市府办发〔2011〕108号",
        "X001-WS·2011-Y-BGS-0012",
        "Z109-KJ·2003-D30-0045",
        "2010年3月5日",
        "20100305",
        "19990101-19991231",
        "金额：1,234,567.89元",
        "合计人民币贰拾万元整",
        "共计 12 页",
        "邮政编码 330006",
        "统一社会信用代码 91360100MA35F6XX1Q",
    ]
    for t in clean:
        add(case(t, [], field="doc_number" if "号" in t else None))
    for _ in range(25):
        order = "20" + "".join(R.choice("0123456789") for _ in range(R.choice((14, 16, 17))))
        add(
            case(
                R.choice(
                    [
                        f"订单号{order}",
                        f"发票号码 {order[:12]}",
                        f"合同编号HT{order}",
                        f"凭证号{order[:8]}-{order[8:12]}",
                    ]
                ),
                [],
            )
        )
    for _ in range(10):
        y = R.randrange(1950, 2020)
        add(
            case(
                f"{y}年{R.randrange(1, 13)}月{R.randrange(1, 29)}日印发，共印{R.randrange(50, 500)}份。",
                [],
            )
        )
    # --- 混合全文 -------------------------------------------------------------------------------------
    for _ in range(20):
        n, i, m = name(), id18(), mobile()
        text = (
            f"关于{n}违纪问题的处理决定\n经查，{n}（身份证号{i}，联系电话{m}）在任职期间"
            f"违反财经纪律。依据有关规定，决定给予其党内警告处分。\n市纪委 2003年5月6日"
        )
        add(case(text, [("name_context", n), ("name_context", n), ("id_card", i), ("mobile", m)]))
    return cases


def main() -> None:
    cases = build()
    for k, c in enumerate(cases, 1):
        c["id"] = f"s{k:04d}"
    header = (
        "# Labelled screening test set, generated by make_screening_set.py (do not edit by hand).\n"
        "# Each case: text, optional field (catalogue element; else a full text), expected hits.\n"
    )
    body = yaml.safe_dump(
        [{"id": c.pop("id"), **c} for c in cases], allow_unicode=True, sort_keys=False, width=120
    )
    OUT.write_text(header + body, encoding="utf-8")
    print(f"{len(cases)} cases → {OUT}")


if __name__ == "__main__":
    main()
