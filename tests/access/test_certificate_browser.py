"""A citizen's certificate in a real browser (Debian chromium), phone-sized.

The citizen registers and applies for a 档案证明 about a record by its 档号 (出具证明, 权益维护,
page 1); staff approve on ``/access`` at a desktop — the certificate is issued with the approval
and its code shows in the queue; back on the phone, 我的申请 shows the code, the citizen downloads
the PDF and opens the public verification page: the code → 有效, issued by this archive; the
downloaded file → authentic and unaltered; the same file with one byte flipped inside the signed
part → 已被篡改. Screenshots of 我的申请 and of the three verification results are saved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from access.conftest import Catalogue, id_number
from access.test_portal_browser import CITIZEN_PW, PHONE, Watch, _no_sideways_scroll
from lantai.instance import Instance
from lantai.store import Record
from lantai.web.app import create_app
from search_support import running_search
from web_support import BROWSER_MARKS, PASSWORD, chromium, served

pytestmark = BROWSER_MARKS

SHOTS_ENV = "LANTAI_TEST_SHOTS"


@pytest.fixture
def server(staffed: Instance, catalogue: Catalogue) -> Iterator[str]:
    app = create_app(staffed)
    with served(app) as url, running_search(app, staffed):
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _signed_length(pdf: bytes) -> int:
    """The length of the signed part, from the file's signature block (docs/certificates.md)."""
    found = re.findall(rb"/LantaiCertSignature <([0-9a-f]*)>", pdf)
    return int(json.loads(bytes.fromhex(found[-1].decode()))["signed_length"])


def _result(page: Any) -> Any:
    """The verification result section, after the page has it."""
    from playwright.sync_api import expect

    section = page.locator("section.cert-result")
    expect(section).to_be_visible()
    return section


def test_citizen_downloads_and_verifies_a_certificate_tampering_is_detected(
    server: str, browser: Any, staffed: Instance, catalogue: Catalogue, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with staffed.db.read() as s:
        rec = s.get(Record, catalogue.published)
        assert rec is not None and rec.archival_code
        archival_code = rec.archival_code
    archive = staffed.settings.archive_name
    watch = Watch()
    shots = tmp_path / "screenshots"
    shots.mkdir()

    phone_ctx = browser.new_context(**PHONE, accept_downloads=True)
    watch.attach(phone_ctx)
    phone = phone_ctx.new_page()

    # register, then apply for a certificate about the record (by its 档号, page 1)
    phone.goto(f"{server}/portal/register")
    phone.get_by_label("姓名").fill("赵丽华")
    phone.get_by_label("居民身份证号").fill(id_number("32010219900315262"))
    phone.get_by_label("手机号（登录名）").fill("13700137000")
    phone.get_by_label("口令（至少 10 位").fill(CITIZEN_PW)
    phone.get_by_role("button", name="注册并登录").click()
    expect(phone).to_have_url(f"{server}/portal/mine")
    phone.get_by_label("申请类型").select_option("出具证明")
    phone.get_by_label("利用目的").select_option("权益维护")
    phone.get_by_label("档号（知道时填写").fill(archival_code)
    phone.get_by_label("需要利用的档案和用途说明").fill("证明出土情况报告存于本馆，用于权益维护")
    phone.get_by_label("页码范围").fill("1")
    phone.get_by_role("button", name="提交申请").click()
    expect(phone).to_have_url(f"{server}/portal/mine#requests")
    row = phone.locator("tr.request-row").first
    expect(row.locator(".status")).to_have_text("待受理")
    request_id = row.get_attribute("data-id")

    # staff approve at a desktop: the certificate is issued with the approval
    desk_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    watch.attach(desk_ctx)
    desk = desk_ctx.new_page()
    desk.goto(f"{server}/login?next=/access")
    desk.get_by_label("用户名").fill("archivist")
    desk.get_by_label("口令").fill(PASSWORD)
    desk.get_by_role("button", name="登录").click()
    expect(desk).to_have_url(f"{server}/access")
    staff_row = desk.locator(f'tr.request-row[data-id="{request_id}"]')
    expect(staff_row).to_contain_text("出具证明 / 权益维护")
    expect(staff_row.get_by_label("批准的条目编号")).to_have_value(str(catalogue.published))
    expect(staff_row.get_by_label("出证页码")).to_have_value("1")
    staff_row.get_by_label("意见 / 理由").fill("经核，同意出具证明")
    staff_row.get_by_role("button", name="批准", exact=True).click()
    expect(desk).to_have_url(f"{server}/access")
    desk.goto(f"{server}/access?status=approved")
    staff_cert = desk.locator(f'tr.request-row[data-id="{request_id}"] .certificate')
    expect(staff_cert).to_contain_text("证明")
    code = staff_cert.get_attribute("data-code")
    assert code and len(code) == 16
    desk_ctx.close()

    # 我的申请: approved, with the certificate's code, download and verification links
    phone.goto(f"{server}/portal/mine")
    row = phone.locator(f'tr.request-row[data-id="{request_id}"]')
    expect(row.locator(".status")).to_have_text("已批准")
    cert = row.locator(f'.certificate[data-code="{code}"]')
    dashed = "-".join(code[i : i + 4] for i in range(0, 16, 4))
    expect(cert.locator(".cert-code")).to_have_text(dashed)
    expect(cert.locator(".cert-status")).to_have_text("有效")
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "phone-mine-certificate.png"), full_page=True)
    with phone.expect_download() as info:
        cert.get_by_role("link", name="下载证明（PDF）").click()
    download = info.value
    pdf_path = tmp_path / "certificate.pdf"
    download.save_as(str(pdf_path))
    pdf = pdf_path.read_bytes()
    assert pdf[:5] == b"%PDF-" and code in download.suggested_filename

    # the public verification page: by code
    phone.goto(f"{server}/verify")
    expect(phone.get_by_role("heading", name="档案证明查验", exact=True)).to_be_visible()
    phone.get_by_label("验证码").fill(dashed.lower())
    phone.get_by_role("button", name="查验", exact=True).click()
    expect(phone).to_have_url(f"{server}/verify/{dashed.lower()}")  # as typed; read normalised
    result = _result(phone)
    expect(result.get_by_role("heading")).to_have_text("查验结果：有效")
    expect(result).to_contain_text(f"签发机构{archive}")
    expect(result).to_contain_text(archival_code)
    expect(result).not_to_contain_text("赵丽华")  # only the first character of the name
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "verify-code-valid.png"), full_page=True)

    # by the downloaded file: authentic and unaltered
    phone.goto(f"{server}/verify")
    phone.get_by_label("证明 PDF 文件").set_input_files(str(pdf_path))
    phone.get_by_role("button", name="上传并查验").click()
    result = _result(phone)
    expect(result.get_by_role("heading")).to_have_text("查验结果：有效")
    expect(result).to_contain_text("真实（电子签名经签发机构公钥验证）")
    expect(result).to_contain_text("未被改动")
    expect(result).to_contain_text(archive)
    phone.screenshot(path=str(shots / "verify-file-valid.png"), full_page=True)

    # one byte flipped inside the signed part: 已被篡改
    signed = _signed_length(pdf)
    at = signed // 2
    tampered = tmp_path / "certificate-tampered.pdf"
    tampered.write_bytes(pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :])
    phone.goto(f"{server}/verify")
    phone.get_by_label("证明 PDF 文件").set_input_files(str(tampered))
    phone.get_by_role("button", name="上传并查验").click()
    result = _result(phone)
    expect(result.get_by_role("heading")).to_have_text("查验结果：已被篡改")
    expect(result).to_contain_text("已被改动")
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "verify-file-tampered.png"), full_page=True)
    phone_ctx.close()

    assert watch.errors == []
