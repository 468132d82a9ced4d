"""Screening benchmark: machine pre-screening throughput on generated records.

Run ``.venv/bin/python bench/screening.py [--quick] [--records N]``. Prints ONE JSON object::

    {"bench": "screening", "machine": {...}, "results": {...}, "goals": [...]}

Records are generated in memory (seeded): catalogue field dicts and a full text of about 2 KB
drawn from realistic sentences, with personal data (身份证号, 手机, 银行卡, names beside 处分 …)
sprinkled into some of them. ``Screener.screen`` runs over all of them (100,000 by default;
``--quick`` 10,000). The baseline, measured in the same run over the same texts, is the bound of
a single pass: one compiled regex alternation of all terms and context words (``re.findall``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from typing import Any

from benchlib import log, machine
from lantai.appraisal.screening import Screener, TextPart, load_rules

SENTENCES = [
    "根据市政府常务会议精神，现将有关事项通知如下。",
    "各县（区）人民政府、市政府各部门要高度重视，认真组织实施。",
    "2003年全市完成地区生产总值123.4亿元，比上年增长11.2%。",
    "请各单位于5月31日前将落实情况报送市政府办公室。",
    "经研究，同意你局关于调整城区公交线路的请示。",
    "本次普查共登记户籍人口45万余人，常住人口41万余人。",
    "会议强调，要进一步加强档案工作，确保档案安全。",
    "项目总投资8600万元，其中申请省级补助资金1200万元。",
    "赣府发〔2003〕15号文件精神已传达到各乡镇。",
    "特此通知。",
    "附件：2003年度重点工程项目表（共3页）。",
    "该路段于2002年10月动工，计划2004年6月竣工通车。",
]
SPRINKLES = [
    "经查，{n}违纪问题属实，给予党内警告处分。",
    "申请人{n}，身份证号{i}，联系电话{m}。",
    "补助款已汇入{n}的银行卡号{c}。",
    "{n}患有精神病，由其家属代为申请。",
    "办公电话：0791-8862{d}。",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明"


def _id18(r: random.Random) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    first = f"360102{r.randrange(1940, 2000)}{r.randrange(1, 13):02d}{r.randrange(1, 29):02d}{r.randrange(1000):03d}"
    return first + "10X98765432"[sum(int(d) * k for d, k in zip(first, w, strict=True)) % 11]


def _card(r: random.Random) -> str:
    body = "622202" + "".join(r.choice("0123456789") for _ in range(9))
    for d in "0123456789":
        s = body + d
        t = sum(
            (v * 2 - 9 if v * 2 > 9 else v * 2) if i % 2 else v
            for i, v in enumerate(int(c) for c in reversed(s))
        )
        if t % 10 == 0:
            return s
    return body + "0"


def generate(n: int, seed: int = 7) -> list[tuple[dict[str, Any], str]]:
    r = random.Random(seed)
    out = []
    for k in range(n):
        parts: list[str] = []
        size = 0
        while size < 2000:
            if r.random() < 0.03:
                s = r.choice(SPRINKLES).format(
                    n=r.choice(SURNAMES) + r.choice(GIVEN),
                    i=_id18(r),
                    m=f"1{r.choice('3589')}{r.randrange(10**9):09d}",
                    c=_card(r),
                    d=f"{r.randrange(10000):04d}",
                )
            else:
                s = r.choice(SENTENCES)
            parts.append(s)
            size += len(s.encode("utf-8"))
        values = {
            "title": f"关于{r.choice(SENTENCES)[:12]}的通知",
            "responsible": "某市人民政府办公室",
            "doc_number": f"市府发〔{r.randrange(1990, 2005)}〕{k % 200 + 1}号",
            "security_level": "秘密" if r.random() < 0.01 else "公开",
            "date": f"{r.randrange(1990, 2005)}0305",
        }
        out.append((values, "".join(parts)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10,000 records")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args(argv)
    n = args.records or (10_000 if args.quick else 100_000)
    info = machine()
    log(f"generating {n:,} records")
    t0 = time.perf_counter()
    data = generate(n)
    gen_s = time.perf_counter() - t0
    text_bytes = sum(len(t.encode("utf-8")) for _, t in data)
    rules = load_rules()
    screener = Screener(rules)

    log("baseline: one regex alternation pass")
    words = sorted(
        {
            w
            for r in rules.rules
            for w in (getattr(r, "terms", ()) or getattr(r, "context_words", ()))
        },
        key=len,
        reverse=True,
    )
    rx = re.compile("|".join(re.escape(w) for w in words) + r"|\d{11,19}")
    t0 = time.perf_counter()
    base_hits = 0
    for values, text in data:
        base_hits += len(rx.findall(text)) + len(rx.findall(values["title"]))
    base_s = time.perf_counter() - t0

    log("screening")
    t0 = time.perf_counter()
    hits = 0
    flagged = 0
    suggestions: dict[str, int] = {}
    for values, text in data:
        res = screener.screen(values, [TextPart("正文", text)])
        hits += len(res.hits)
        flagged += bool(res.hits)
        suggestions[res.suggestion] = suggestions.get(res.suggestion, 0) + 1
    screen_s = time.perf_counter() - t0
    mb = text_bytes / 1e6
    results = {
        "records": n,
        "text_mb": round(mb, 1),
        "generate_s": round(gen_s, 2),
        "screen_s": round(screen_s, 2),
        "records_per_s": round(n / screen_s),
        "mb_per_s": round(mb / screen_s, 2),
        "hits": hits,
        "records_with_hits": flagged,
        "suggestions": suggestions,
        "baseline": {
            "what": "one re.findall pass of a regex alternation of all terms/context words + digit runs",
            "s": round(base_s, 2),
            "records_per_s": round(n / base_s),
            "mb_per_s": round(mb / base_s, 2),
            "matches": base_hits,
        },
        "share_of_baseline": round(base_s / screen_s, 3),
    }
    goals = [
        {
            "name": "screening throughput",
            "value": results["records_per_s"],
            "unit": "records/s",
            "goal": 1000,
            "met": results["records_per_s"] >= 1000,
        },
        {
            "name": "full-text throughput",
            "value": results["mb_per_s"],
            "unit": "MB/s",
            "goal": 2.0,
            "met": results["mb_per_s"] >= 2.0,
        },
    ]
    print(
        json.dumps(
            {"bench": "screening", "machine": info, "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
