"""The search API and pages through the web app: permissions, parameters, errors, rendering."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import make_settings
from factories import create_fonds, create_series, item_values
from lantai.appraisal.publication import publish_all_open
from lantai.archival import Level
from lantai.instance import Instance
from lantai.search import SearchParams, add_text
from lantai.security import Actor
from lantai.web.api.search import HitOut, SearchOut
from search_support import running_search, search_app
from web_support import PASSWORD, USERS, login

OP = Actor.operator()


def _item(inst: Instance, parent: int, **values: Any) -> int:
    with inst.db.write() as s:
        return inst.catalogue.create_record(
            s, OP, parent_id=parent, level=Level.ITEM, values=item_values(**values)
        ).id


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One instance for the module: the tests here only read."""
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("api") / "home"))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    with inst.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            inst.users.create(
                s,
                OP,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    yield inst
    inst.close()


@pytest.fixture(scope="module")
def ids(shared: Instance) -> dict[str, int]:
    inst = shared
    fonds = create_fonds(inst, OP)
    series = create_series(inst, OP, fonds.id, "文书档案")
    made = {
        "open": _item(
            inst,
            series.id,
            title="关于檔案館開放時間的通知",
            open_status="开放",
            date="20100305",
            doc_number="市府办发〔2010〕1号",
        ),
        "closed": _item(
            inst, series.id, title="关于档案馆库房改造的请示", open_status="控制", date="20120601"
        ),
        "secret": _item(
            inst,
            series.id,
            title="关于档案馆安全保卫工作的报告",
            security_level="机密",
            open_status="控制",
            date="20140101",
        ),
    }
    for n in range(25):
        made[f"bulk{n}"] = _item(
            inst,
            series.id,
            title=f"关于档案馆第{n}次业务培训的通知",
            date=f"2011{n % 12 + 1:02d}15",
        )
    add_text(
        inst,
        OP,
        made["open"],
        "正文.txt",
        "extracted",
        "为方便群众查阅档案，市档案馆每周一至周五开放。",
    )
    publish_all_open(inst, OP, reason="测试：开放条目经上网审查后公布")
    return made


@pytest.fixture(scope="module")
def app_client(shared: Instance, ids: dict[str, int]) -> Iterator[TestClient]:
    app = search_app(shared)
    with TestClient(app, base_url="http://127.0.0.1") as c, running_search(app, shared):
        yield c


@pytest.fixture
def client(app_client: TestClient) -> TestClient:
    app_client.cookies.clear()
    return app_client


def test_staff_search_finds_traditional_and_simplified(
    client: TestClient, ids: dict[str, int]
) -> None:
    login(client, "archivist")
    r = client.get("/api/search", params={"q": "档案馆开放时间"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["hits"][0]["id"] == ids["open"]
    hit = body["hits"][0]
    assert [s["text"] for s in hit["highlights"]["title"] if s["mark"]] == ["檔案館開放時間"]
    assert hit["level_label"] == "件"
    r = client.get("/api/search", params={"q": "檔案館 周一至周五"})
    assert [h["id"] for h in r.json()["hits"]] == [ids["open"]]
    assert any(s["mark"] for s in r.json()["hits"][0]["highlights"]["fulltext"])
    assert r.json()["hits"][0]["snippet_part"] == "正文.txt"


def test_clearance_limits_hits_and_facets(client: TestClient, ids: dict[str, int]) -> None:
    login(client, "archivist")  # 机密
    staff = client.get("/api/search", params={"q": "档案馆", "size": 100}).json()
    login(client, "reader")  # 公开
    reader = client.get("/api/search", params={"q": "档案馆", "size": 100}).json()
    assert staff["total"] == reader["total"] + 1 == 28
    assert ids["secret"] in {h["id"] for h in staff["hits"]}
    assert ids["secret"] not in {h["id"] for h in reader["hits"]}
    security = {f["value"]: f["count"] for f in reader["facets"]["security"]}
    assert security == {"公开": 27}


def test_public_search_shows_open_records_only(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/api/search", params={"q": "档案馆"})
    assert r.status_code == 401 and r.json()["code"] == "authentication_required"
    for logged_in in (False, True):
        if logged_in:
            login(client, "archivist")  # the portal searches as the public even for staff
        r = client.get("/api/public/search", params={"q": "档案馆", "size": 100})
        assert r.status_code == 200
        body = r.json()
        assert [h["id"] for h in body["hits"]] == [ids["open"]]
        assert body["total"] == 1
        assert set(body["facets"]) == {"fonds", "category", "year", "retention", "collections"}
        assert body["hits"][0]["security_level"] is None


def test_documents_match_the_declared_schema_exactly(client: TestClient) -> None:
    """The routes build their JSON without the pydantic models (speed); it must still be exactly
    the documented SearchOut: every field present, nothing extra, the right types."""
    login(client, "archivist")
    for path in ("/api/search", "/api/public/search"):
        body = client.get(path, params={"q": "檔案館 周一至周五", "size": 5}).json()
        assert body["hits"] and body["facets"]
        parsed = SearchOut.model_validate(body, strict=True)
        assert parsed.model_dump(mode="json") == body
        for hit in body["hits"]:
            assert set(hit) == set(HitOut.model_fields)
            for segs in hit["highlights"].values():
                assert all(set(seg) == {"text", "mark"} for seg in segs)


def test_structured_parameters(client: TestClient, ids: dict[str, int]) -> None:
    login(client, "archivist")

    def found(**params: Any) -> set[int]:
        r = client.get("/api/search", params={"size": 100, **params})
        assert r.status_code == 200, r.text
        return {h["id"] for h in r.json()["hits"]}

    assert found(title="库房改造") == {ids["closed"]}
    assert found(q="档案馆", year_from="2012", year_to="2014") == {ids["closed"], ids["secret"]}
    assert found(q="档案馆", date_from="2012-01-01", date_to="2012-12-31") == {ids["closed"]}
    assert found(docno="市府办发〔2010〕1号") == {ids["open"]}
    assert found(fulltext="周一至周五") == {ids["open"]}
    assert found(q="档案馆", open_status="控制") == {ids["closed"], ids["secret"]}
    assert found(q="档案馆", security="机密") == {ids["secret"]}
    assert found(q="档案馆", category="文书", within=["请示 OR 报告"]) == {
        ids["closed"],
        ids["secret"],
    }
    assert found(q="报告", within=["档案馆", "安全"]) == {ids["secret"]}


def test_sorting_and_pages(client: TestClient, ids: dict[str, int]) -> None:
    login(client, "archivist")
    newest = client.get(
        "/api/search", params={"q": "档案馆", "sort": "date_desc", "size": 3}
    ).json()
    assert [h["id"] for h in newest["hits"]][:2] == [ids["secret"], ids["closed"]]
    oldest = client.get("/api/search", params={"q": "档案馆", "sort": "date_asc", "size": 1}).json()
    assert oldest["hits"][0]["id"] == ids["open"]
    pages = [
        client.get("/api/search", params={"q": "业务培训", "size": 10, "page": p}).json()
        for p in (1, 2, 3)
    ]
    assert [len(p["hits"]) for p in pages] == [10, 10, 5]
    assert pages[0]["pages"] == 3
    seen = [h["id"] for p in pages for h in p["hits"]]
    assert len(set(seen)) == 25


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"q": "(档案"}, "q", "左括号「（」没有对应的右括号"),
        ({"q": "作者:张三"}, "q", "检索字段「作者」不存在"),
        ({"q": "档案", "within": ["OR"]}, "within", "「OR」前面缺少检索词"),
        ({"title": "("}, "title", "左括号"),
        ({"q": "档案", "size": "1000"}, "size", "每页条数"),
        ({"q": "档案", "page": "0"}, "page", "页码"),
        ({"q": "档案", "page": "600"}, "page", "只能翻阅前 10000 条"),
        ({"q": "档案", "sort": "random"}, "sort", "排序方式"),
        ({"q": "档案", "year_from": "abc"}, "year_from", "四位年份"),
        ({"q": "档案", "year_from": "2015", "year_to": "2010"}, "year_from", "晚于"),
        ({"q": "档案", "category": "不存在"}, "category", "不是有效的门类"),
        ({"q": "档案", "date_from": "2010-02-30"}, "date_from", "不是有效日期"),
    ],
)
def test_errors_are_explained_not_swallowed(
    client: TestClient, params: dict[str, Any], field: str, fragment: str
) -> None:
    login(client, "archivist")
    r = client.get("/api/search", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["ok"] is False and body["code"] == "validation_failed"
    assert body["errors"][0]["field"] == field
    assert fragment in body["error"] + body["errors"][0]["message"]


def test_no_index_yet_is_a_503(web_instance: Instance) -> None:
    app = search_app(web_instance)  # a fresh instance: nothing indexed, nothing started
    c = TestClient(app, base_url="http://127.0.0.1")  # no lifespan: nothing started
    login(c, "archivist")
    r = c.get("/api/search", params={"q": "档案"})
    assert r.status_code == 503 and r.json()["code"] == "search_unavailable"


def test_staff_page(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/search", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/search"
    login(client, "archivist")
    r = client.get("/search")
    assert r.status_code == 200 and 'name="q"' in r.text and "共找到" not in r.text
    r = client.get("/search", params={"q": "檔案館", "size": "10"})
    assert r.status_code == 200
    assert "<mark>" in r.text and f'href="/records/{ids["open"]}"' in r.text
    assert 'id="total">28<' in r.text
    assert "在结果中检索" in r.text and 'name="within" value="檔案館"' in r.text
    assert 'rel="next"' in r.text and "page=2" in r.text
    assert "category=WS" in r.text  # facet links narrow the results
    assert "<script" not in r.text.split("</main>")[0].split("<main>")[1]
    r = client.get(
        "/search", params={"q": "檔案館", "category": "WS", "year_from": "2012", "year_to": "2012"}
    )
    assert 'id="total">1<' in r.text and "年度：2012" in r.text
    r = client.get("/search", params={"q": "题名:"})
    assert r.status_code == 422 and 'id="search-error"' in r.text and "缺少检索词" in r.text


def test_public_page(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/public/search")
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text and 'name="viewport"' in r.text
    r = client.get("/public/search", params={"q": "档案馆"})
    assert r.status_code == 200
    assert 'id="total">1<' in r.text and "檔案館" in r.text
    assert "库房改造" not in r.text and "安全保卫" not in r.text
    # public hits lead to the portal's record pages, never to the staff record pages
    assert f'href="/portal/records/{ids["open"]}"' in r.text
    assert 'href="/records/' not in r.text
    assert "密级" not in r.text.split("<main>")[1]


def test_openapi_documents_both_routes() -> None:
    from fastapi import FastAPI

    from lantai.web.api import search as search_api

    app = FastAPI()
    app.include_router(search_api.router)
    app.include_router(search_api.public_router)
    paths = app.openapi()["paths"]
    assert set(paths) == {"/api/search", "/api/public/search"}
    params = {p["name"] for p in paths["/api/search"]["get"]["parameters"]}
    assert {"q", "within", "title", "fonds", "year_from", "sort", "page", "facets"} <= params


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(),
        SearchParams(q="档案 开放", category=("WS",), page=3, size=50),
        SearchParams(q="a&b=c", fonds=("Z109", "Z 1/2"), year_from=1999, year_to=1999),
        SearchParams(within=("旧",), collections=("民生",), year_from=1990, year_to=2000),
    ],
)
def test_facet_links_are_the_toggled_searches(params: SearchParams) -> None:
    """The facet links built in one pass say exactly what toggling each value says."""
    from urllib.parse import parse_qsl, urlsplit

    from lantai.search.service import FacetValue
    from lantai.web.pages.search import _facet_links, _href, _pairs, _toggle

    def query(href: str) -> list[tuple[str, str]]:
        return sorted(parse_qsl(urlsplit(href).query))

    facets = {
        "fonds": ["Z109", "Z 1/2", "X&Y"],
        "category": ["WS", "KJ"],
        "year": ["1999", "2001"],
        "collections": ["民生"],
    }
    for name, values in facets.items():
        current = (
            {str(params.year_from)}
            if name == "year" and params.year_from == params.year_to and params.year_from
            else set(getattr(params, name, ()) or ())
        )
        shown = [FacetValue(value=v, label=v, count=1, selected=v in current) for v in values]
        links = _facet_links("/s", params, name, shown, _pairs(replace(params, page=1)))
        for link, v in zip(links, shown, strict=True):
            expected = _href("/s", _toggle(params, name, v.value, v.selected))
            assert query(link.href) == query(expected), (name, v.value)
            assert link.href.startswith("/s")


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(),
        SearchParams(q="档案 开放", category=("WS",), page=3, size=50),
        SearchParams(q="a&b=c", fonds=("Z109", "Z 1/2"), year_from=1999, year_to=1999),
        SearchParams(sort="date_desc", page=7),
    ],
)
def test_page_links_are_the_paged_searches(params: SearchParams) -> None:
    """The pager's links, made from the first page's encoded parameters, are exactly the
    links of each page's search."""
    from urllib.parse import urlencode

    from lantai.web.pages.search import _href, _page_href, _pairs

    first_query = urlencode(_pairs(replace(params, page=1)))
    for n in range(1, 12):
        assert _page_href("/s", first_query, n) == _href("/s", replace(params, page=n)), n


def _query_app() -> Any:
    """Routes reading the search parameters as FastAPI does (``/declared``, the signature
    declared on the route) and as Lantai does (``/read``), answering their values or 422."""
    import inspect
    from dataclasses import asdict

    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from lantai.web.api.search import _query, checked, search_params

    def declared(**values: Any) -> dict[str, Any]:
        return values

    declared.__signature__ = inspect.signature(_query, eval_str=True)  # type: ignore[attr-defined]
    app = FastAPI()

    @app.exception_handler(RequestValidationError)
    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [[list(e["loc"]), e["msg"], e["type"]] for e in exc.errors()]
        return JSONResponse(errors, status_code=422)

    @app.get("/declared")
    def by_fastapi(values: dict[str, Any] = Depends(declared)) -> dict[str, Any]:
        return values

    @app.get("/read")
    def by_lantai(p: SearchParams = Depends(search_params)) -> dict[str, Any]:
        return asdict(checked(p))

    return app


@pytest.mark.parametrize(
    "query",
    [
        "q=a&page=abc",
        "page=1.5&size=x",
        "facets=maybe",
        "q=" + "x" * 1001,
        "q=a&title=" + "x" * 1001 + "&year_from=123456789",
        "within=" + "&within=".join(["b"] * 1001),
        "page=-1&size=abc&facets=z&date_to=" + "9" * 21,
        "q=a&page=99999999999999999999",
        "q=a&page=abc&page=2",  # the last value counts
        "q=a&page=2&page=abc",
        "size=%201&page=1_0&facets=yes&q=ok",
    ],
)
def test_parameters_are_refused_exactly_as_fastapi_refused_them(query: str) -> None:
    with TestClient(_query_app()) as c:
        declared = c.get(f"/declared?{query}")
        read = c.get(f"/read?{query}")
    assert read.status_code == declared.status_code
    if declared.status_code == 422:
        assert read.json() == declared.json()


def test_parameters_are_read_as_fastapi_read_them() -> None:
    import json
    from dataclasses import asdict

    with TestClient(_query_app()) as c:
        r = c.get(
            "/read?q=a&q=b&fonds=Z1&fonds=&fonds=Z2&within=&page=2&size=5&facets=no"
            "&year_from=1999&collection=民生&unknown=1"
        )
    expected = SearchParams(
        q="b",
        fonds=("Z1", "Z2"),
        page=2,
        size=5,
        facets=False,
        year_from=1999,
        collections=("民生",),
    )
    assert r.status_code == 200 and r.json() == json.loads(json.dumps(asdict(expected)))


def test_openapi_parameters_are_the_declared_ones_in_fastapis_place() -> None:
    from fastapi import FastAPI

    from lantai.web.api import search as search_api
    from lantai.web.openapi import install_openapi

    reference = FastAPI()
    reference.get("/")(search_api._query)
    declared = reference.openapi()["paths"]["/"]["get"]["parameters"]
    app = FastAPI()
    install_openapi(app)
    app.include_router(search_api.router)
    app.include_router(search_api.public_router)
    for operation in (p["get"] for p in app.openapi()["paths"].values()):
        assert operation["parameters"] == declared
        assert list(operation) == ["tags", "summary", "operationId", "parameters", "responses"]


def test_invalid_parameters_are_refused_after_the_other_checks(client: TestClient) -> None:
    """As when FastAPI checked them: every dependency of the route runs first (a login redirect
    or a 401 wins over the 422)."""
    r = client.get("/search", params={"q": "档案", "page": "abc"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert client.get("/api/search", params={"page": "abc"}).status_code == 401
    r = client.get("/api/public/search", params={"q": "档案", "page": "abc"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "page"
    r = client.get("/public/search", params={"q": "档案", "page": "abc"})
    assert r.status_code == 422 and "page" in r.text
