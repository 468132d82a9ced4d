"""Write tests/search/relevance.yaml: known-item queries over the relevance corpus, with the
complete set of relevant records of each query found by brute force (not by the index).

Run ``.venv/bin/python tests/search/make_relevance.py`` after the corpus or the generator's
vocabulary changes, and review the diff. The index is not consulted: relevance is decided by
folding every field and full text of every record and looking for the query's words in them.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import opencc
import yaml
from sqlalchemy import select

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import make_settings  # noqa: E402
from lantai.instance import Instance  # noqa: E402
from lantai.search.analysis import CJK, fold, key_form  # noqa: E402
from lantai.search.highlight import _pattern  # noqa: E402
from lantai.search.schema import _words  # noqa: E402
from lantai.store import Record, RecordText  # noqa: E402
from search_support import (  # noqa: E402
    RELEVANCE_FONDS,
    RELEVANCE_RECORDS,
    build_relevance_corpus,
)

OUT = HERE / "relevance.yaml"
S2T = opencc.OpenCC("s2t")  # only to write traditional-character queries; search uses t2s


@dataclass
class Doc:
    code: str
    title: str
    responsible: str
    docno: str
    year: int | None
    other: str
    text: str
    generated: bool

    @property
    def fields(self) -> dict[str, str]:
        return {
            "title": fold(self.title),
            "responsible": fold(self.responsible),
            "code": fold(self.code),
            "docno": fold(self.docno),
            "other": fold(self.other),
            "fulltext": fold(self.text),
        }


def load(inst: Instance) -> list[Doc]:
    docs = []
    with inst.db.read() as s:
        texts: dict[int, list[str]] = {}
        for rid, text in s.execute(select(RecordText.record_id, RecordText.text)):
            texts.setdefault(rid, []).append(text)
        for r in s.scalars(select(Record).order_by(Record.id)):
            words = list(_words(r.fields or {}))  # what the index puts in `other`
            docs.append(
                Doc(
                    code=r.archival_code or "",
                    title=r.title,
                    responsible=r.responsible or "",
                    docno=r.doc_number or "",
                    year=r.year,
                    other=" | ".join(words),
                    text="\n".join(texts.get(r.id, [])),
                    generated=(r.archival_code or "").startswith(RELEVANCE_FONDS + "-"),
                )
            )
    return docs


class Judge:
    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs
        self.folded = [d.fields for d in docs]

    def relevant(
        self, text: str, fields: tuple[str, ...] | None = None, year: int | None = None
    ) -> list[str]:
        pattern = re.compile(_pattern(text) or "(?!)")
        out = []
        for d, f in zip(self.docs, self.folded, strict=True):
            if year is not None and d.year != year:
                continue
            names = fields or tuple(f)
            if any(pattern.search(f[n]) for n in names):
                out.append(d.code)
        return out


def substring(rng: random.Random, title: str, lo: int, hi: int) -> str | None:
    runs = re.findall(f"[{CJK}]{{{lo},}}", title)
    if not runs:
        return None
    run = rng.choice(runs)
    n = rng.randint(lo, min(hi, len(run)))
    a = rng.randrange(0, len(run) - n + 1)
    return run[a : a + n]


def traditional(text: str) -> str | None:
    t = str(S2T.convert(text))
    return t if t != text else None


def main() -> None:
    rng = random.Random(20261121)
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instance.initialise(make_settings(Path(tmp) / "home"))
        inst.catalogue.today = lambda: date(2026, 11, 21)
        build_relevance_corpus(inst)
        docs = load(inst)
        inst.close()
    judge = Judge(docs)
    queries: list[dict[str, object]] = []
    used: set[str] = set()

    def add(q: str, kind: str, target: str, relevant: list[str], cap: int = 50) -> bool:
        if q in used or target not in relevant or len(relevant) > cap or "" in relevant:
            return False
        used.add(q)
        queries.append({"q": q, "kind": kind, "target": target, "relevant": sorted(relevant)})
        return True

    generated = [d for d in docs if d.generated and d.title.startswith("关于")]
    rng.shuffle(generated)
    seeds = [d for d in docs if d.text]

    # exact titles: generated titles no other record contains
    n = 0
    for d in generated:
        if n < 20 and add(d.title, "exact_title", d.code, judge.relevant(d.title), cap=1):
            n += 1
    # partial phrases of unique titles
    n = 0
    for d in generated:
        sub = substring(rng, d.title, 6, 9)
        if n < 20 and sub and add(sub, "partial", d.code, judge.relevant(sub), cap=3):
            n += 1
    # traditional-character queries (titles, partial phrases, seed phrases) finding simplified text
    n = 0
    for d in generated:
        sub = substring(rng, d.title, 5, 10)
        trad = traditional(sub) if sub else None
        if n < 15 and trad and add(trad, "traditional", d.code, judge.relevant(sub or ""), cap=3):
            n += 1
    # 文号: exact (with bracket and character variants) and 档号: exact and partial
    n = 0
    for d in generated:
        if not d.docno or n >= 15:
            continue
        variants = [d.docno, d.docno.replace("〔", "[").replace("〕", "]"), traditional(d.docno)]
        q = rng.choice([v for v in variants if v])
        same = [x.code for x in docs if key_form(x.docno) == key_form(d.docno)]
        if add(q, "docno", d.code, same, cap=1):
            n += 1
    n = 0
    for d in generated:
        if n >= 15:
            continue
        q = d.code if n % 3 else d.code.replace("·", "・")
        if n % 5 == 4:
            q = "-".join(d.code.split("-")[1:])  # without the 全宗号: WS·2011-Y-BGS-0001
        if add(q, "code", d.code, judge.relevant(q, ("code",)), cap=1):
            n += 1
    # field queries
    n = 0
    for d in generated:
        sub = substring(rng, d.title, 4, 6)
        if n < 8 and sub and d.year:
            q = f"题名:{sub} 年度:{d.year}"
            if add(q, "field", d.code, judge.relevant(sub, ("title",), d.year), cap=3):
                n += 1
    n = 0
    for d in seeds:
        for name in (d.responsible,):
            if (
                n < 5
                and name
                and add(
                    f"责任者:{name}", "field", d.code, judge.relevant(name, ("responsible",)), cap=3
                )
            ):
                n += 1
    # the speeches: phrases of their full texts (either script) and of their titles
    n = 0
    for _ in range(4000):
        if n >= 25:
            break
        d = rng.choice(seeds)
        lines = [ln for ln in d.text.splitlines() if len(ln) > 20]
        sub = substring(rng, rng.choice(lines), 4, 8) if lines else None
        if not sub:
            continue
        form = rng.choice(["plain", "fulltext", "traditional"])
        q = {"plain": sub, "fulltext": f"全文:{sub}", "traditional": traditional(fold(sub)) or sub}[
            form
        ]
        rel = judge.relevant(sub, ("fulltext",) if form == "fulltext" else None)
        if add(q, f"seed_{form}", d.code, rel, cap=2):
            n += 1
    n = 0
    for d in seeds:
        for _ in range(30):
            sub = substring(rng, d.title, 4, 8)
            if not sub:
                break
            rel = judge.relevant(sub)
            in_title = judge.relevant(sub, ("title",))
            if (
                in_title == [d.code]
                and 2 <= len(rel) <= 50
                and add(sub, "title_over_text", d.code, rel)
            ):
                n += 1
                break
    data = {
        "version": 1,
        "corpus": {
            "demo": True,
            "generated": {
                "fonds": RELEVANCE_FONDS,
                "records": RELEVANCE_RECORDS,
                "seed": 11,
                "years": [2005, 2014],
            },
        },
        "queries": queries,
    }
    header = (
        "# Relevance test set of the search (tests/search/test_relevance.py).\n"
        "# Written by tests/search/make_relevance.py: known-item queries over the demo catalogue (with\n"
        "# the five seed speeches as full texts) and 3,000 generated records; `relevant` is the\n"
        "# complete set of records containing the query's words, found by brute force. Do not edit\n"
        "# by hand; regenerate and review the diff.\n"
    )
    OUT.write_text(
        header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120),
        encoding="utf-8",
    )
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[str(q["kind"])] = kinds.get(str(q["kind"]), 0) + 1
    print(f"{len(queries)} queries written to {OUT}: {kinds}")


if __name__ == "__main__":
    main()
