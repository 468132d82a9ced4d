"""The safe XML parser against hostile files, and the shipped XSDs it feeds.

Every file of defusedxml's test data must be refused or neutralised: never expanded, never
fetched. Fetching is checked for real, against a loopback HTTP server and a local file.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from lantai.errors import InputError, NotFound
from lantai.formats import (
    SCHEMAS,
    XmlMalformed,
    XmlRefused,
    XmlTooLarge,
    XmlUnsafe,
    compiled_schema,
    parse_bytes,
    parse_file,
    validate,
)
from lantai.formats.xmlsafe import safe_parser
from lantai.formats.xsd import SCHEMA_DIR

# The expected outcome of every file in the defusedxml test data: an exception class, or
# "parsed" for files that are harmless (or made harmless by not loading their DTD).
DEFUSED_EXPECTED: dict[str, type[XmlRefused] | str] = {
    "LICENSE": XmlMalformed,
    "cyclic.xml": XmlUnsafe,
    "dtd.xml": "parsed",
    "external.xml": XmlUnsafe,
    "external_file.xml": XmlUnsafe,
    "quadratic.xml": XmlUnsafe,
    "simple-ns.xml": "parsed",
    "simple.xml": "parsed",
    "xalan_exec.xsl": XmlUnsafe,
    "xalan_write.xsl": XmlUnsafe,
    "xmlbomb.xml": XmlUnsafe,
    "xmlbomb2.xml": XmlUnsafe,
}


@pytest.fixture(scope="module")
def defused_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "security" / "defusedxml-xmltestdata"


def test_every_defusedxml_file_has_an_expectation(defused_dir: Path) -> None:
    assert sorted(p.name for p in defused_dir.iterdir()) == sorted(DEFUSED_EXPECTED)


@pytest.mark.parametrize("name", sorted(DEFUSED_EXPECTED))
def test_defusedxml_file_refused_or_neutralised(
    defused_dir: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # xalan_write.xsl would write xalan_redirect.txt here
    expected = DEFUSED_EXPECTED[name]
    path = defused_dir / name
    if expected == "parsed":
        tree = parse_file(path)
        text = etree.tostring(tree, encoding="unicode")
        assert "text" in text
        dtd = tree.docinfo.internalDTD
        # dtd.xml names the XHTML DTD; it is not loaded, so no declaration of it is known.
        assert dtd is None or (list(dtd.iterelements()) == [] and list(dtd.iterentities()) == [])
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected) as info:
            parse_file(path)
        err = info.value
        assert isinstance(err, InputError)
        [problem] = err.problems
        assert problem.file == name
        assert problem.rule == "XML 安全解析"
        if expected is XmlUnsafe:
            assert problem.row is not None and problem.row >= 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "line"),
    [("xmlbomb.xml", 2), ("cyclic.xml", 2), ("quadratic.xml", 2), ("external.xml", 2)],
)
def test_entity_refusal_names_file_and_line_in_chinese(
    defused_dir: Path, name: str, line: int
) -> None:
    with pytest.raises(XmlUnsafe) as info:
        parse_file(defused_dir / name)
    [problem] = info.value.problems
    assert (problem.file, problem.row) == (name, line)
    assert "实体" in problem.message and "拒绝处理" in problem.message
    assert str(problem).startswith(f"{name}，第{line}行：")


def test_billion_laughs_is_refused_fast_and_never_expanded() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doc = f'<!DOCTYPE lolz [<!ENTITY l0 "lol">{levels}]><lolz>&l9;</lolz>'.encode()
    start = time.perf_counter()
    with pytest.raises(XmlUnsafe) as info:
        parse_bytes(doc, name="lolz.xml")
    assert time.perf_counter() - start < 10.0  # hang guard: expanding would take 3 GB and minutes
    assert "lollol" not in str(info.value)


def test_utf16_entity_declaration_is_refused_with_its_line() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r [\n<!ENTITY e "x">]>\n<r>&e;</r>'
    with pytest.raises(XmlUnsafe) as info:
        parse_bytes(doc.encode("utf-16"), name="u16.xml")
    assert info.value.problems[0].row == 3


# -- nothing is ever fetched ------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b'<!ENTITY leak "LEAKED-FROM-SERVER"><!ATTLIST root injected CDATA "pwned">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_external_entities_and_dtds_are_never_fetched(
    defused_dir: Path, http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, hits = http_server
    external = (defused_dir / "external.xml").read_text()
    assert "http://www.w3schools.com/xml/note.xml" in external
    dtd = (defused_dir / "dtd.xml").read_text()
    hostile = {
        "external.xml": external.replace("http://www.w3schools.com/xml/note.xml", f"{base}/ee"),
        "dtd.xml": dtd.replace(
            "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd", f"{base}/dtd"
        ),
        "pe.xml": f'<!DOCTYPE root [<!ENTITY % p SYSTEM "{base}/pe"> %p;]><root>&leak;</root>',
        "system.xml": f'<!DOCTYPE root SYSTEM "{base}/system.dtd"><root/>',
    }
    outcomes = {}
    for name, text in hostile.items():
        try:
            tree = parse_bytes(text.encode(), name=name)
            outcomes[name] = etree.tostring(tree, encoding="unicode")
        except XmlUnsafe:
            outcomes[name] = "refused"
    assert hits == []
    assert outcomes["external.xml"] == "refused" and outcomes["pe.xml"] == "refused"
    assert "pwned" not in outcomes["system.xml"] and "text" in outcomes["dtd.xml"]


def test_local_files_are_never_read(defused_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text("<s>TOP-SECRET-MARKER</s>")
    dtd = tmp_path / "local.dtd"
    dtd.write_text('<!ATTLIST root injected CDATA "pwned">')
    text = (defused_dir / "external_file.xml").read_text()
    assert "file:///PATH/TO/xmltestdata/simple.xml" in text
    hostile = text.replace("file:///PATH/TO/xmltestdata/simple.xml", secret.as_uri())
    with pytest.raises(XmlUnsafe) as info:
        parse_bytes(hostile.encode(), name="external_file.xml")
    assert "TOP-SECRET-MARKER" not in str(info.value)
    tree = parse_bytes(f'<!DOCTYPE root SYSTEM "{dtd.as_uri()}"><root/>'.encode(), name="d.xml")
    assert tree.getroot().get("injected") is None


def test_xinclude_and_xslt_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    doc = (
        '<root xmlns:xi="http://www.w3.org/2001/XInclude">\n'
        f'  <xi:include href="{secret.as_uri()}" parse="text"/>\n</root>'
    )
    with pytest.raises(XmlUnsafe) as info:
        parse_bytes(doc.encode(), name="inc.xml")
    assert info.value.problems[0].row == 2 and "XInclude" in info.value.message
    xsl = b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>'
    with pytest.raises(XmlUnsafe, match="XSLT"):
        parse_bytes(xsl, name="s.xsl")


# -- limits, errors, encodings ------------------------------------------------------------------------


def test_size_limit_refuses_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"<r>" + b"x" * 2000 + b"</r>")
    with pytest.raises(XmlTooLarge) as info:
        parse_file(path, max_bytes=1000)
    assert info.value.problems[0].file == "big.xml" and "超过" in info.value.message
    assert parse_file(path, max_bytes=3000).getroot().tag == "r"
    with pytest.raises(XmlTooLarge):
        parse_bytes(b"<r/>", name="m.xml", max_bytes=3)


def test_malformed_xml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<root>\n  <a>\n  </b>\n</root>\n")
    with pytest.raises(XmlMalformed) as info:
        parse_file(path)
    [problem] = info.value.problems
    assert (problem.file, problem.row) == ("bad.xml", 3)
    assert problem.message.startswith("不是格式正确的 XML")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(XmlRefused, match="无法读取"):
        parse_file(tmp_path / "nope.xml")


def test_chinese_encodings_parse() -> None:
    text = '<?xml version="1.0" encoding="GB18030"?><题名>關於档案工作的通知 &amp; 附件</题名>'
    tree = parse_bytes(text.encode("gb18030"), name="gb.xml")
    assert tree.getroot().text == "關於档案工作的通知 & 附件"
    assert tree.getroot().tag == "题名"


def test_external_dtd_reference_is_inert(tmp_path: Path) -> None:
    doc = b'<!DOCTYPE ead PUBLIC "+//ISBN 1-931666-00-8//DTD ead.dtd//EN" "ead.dtd"><ead/>'
    (tmp_path / "ead.dtd").write_text('<!ATTLIST ead audience CDATA "internal">')
    tree = parse_bytes(doc, name="ead.xml")
    assert tree.docinfo.system_url == "ead.dtd"
    assert tree.getroot().get("audience") is None


def test_parsers_are_not_shared() -> None:
    assert safe_parser() is not safe_parser()


# -- the shipped XSDs ----------------------------------------------------------------------------------


def test_shipped_schemas_are_the_published_files(fixtures_dir: Path) -> None:
    pairs = {
        "ead3/ead3.xsd": "ead3/ead3.xsd",
        "ead3/LICENSE": "ead3/LICENSE",
        "ead2002/ead.xsd": "ead2002/ead.xsd",
        "xlink/xlink.xsd": "w3c/xlink.xsd",
    }
    for shipped, published in pairs.items():
        ours = hashlib.sha256((SCHEMA_DIR / shipped).read_bytes()).hexdigest()
        theirs = hashlib.sha256((fixtures_dir / "schemas" / published).read_bytes()).hexdigest()
        assert ours == theirs, shipped
        assert ours in (SCHEMA_DIR / "README.md").read_text() or shipped.endswith("LICENSE")


def test_schemas_compile_offline_once() -> None:
    for name in SCHEMAS:
        assert compiled_schema(name) is compiled_schema(name)
    with pytest.raises(NotFound):
        compiled_schema("ead4")


def test_validate_reports_lines_without_the_namespace() -> None:
    doc = parse_bytes(
        b'<ead xmlns="http://ead3.archivists.org/schema/">\n<control/>\n</ead>', name="e.xml"
    )
    problems = validate(doc, "ead3", file="e.xml")
    assert problems and problems[0].row == 2 and problems[0].file == "e.xml"
    assert problems[0].rule == "EAD3 XML Schema"
    assert "{http://ead3" not in problems[0].message
