"""Real-stack tests for fieldapp.core.pdf: WeasyPrint, Noto Sans CJK and poppler-utils."""

from __future__ import annotations

import base64
import io
import re
import shutil
import socket
import subprocess
import time

import pytest
from PIL import Image

from fieldapp.core.pdf import (
    PRINT_CSS_PATH,
    LocalOnlyURLFetcher,
    RemoteFetchRefused,
    render_pdf,
    render_pdf_with_pages,
)

# ISO/IEC 7810 ID-1 in PDF points (1 pt = 1/72 in).
CARD_W_PT = 85.6 / 25.4 * 72
CARD_H_PT = 54 / 25.4 * 72
A4_W_PT = 210 / 25.4 * 72
A4_H_PT = 297 / 25.4 * 72


def _poppler(tool: str, *args: str, pdf: bytes) -> str:
    """Run a poppler-utils tool on pdf bytes and return its stdout; fail if missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: install poppler-utils (done by `make test`)")
    result = subprocess.run(
        [path, *args, "-", *(["-"] if tool == "pdftotext" else [])],
        input=pdf, capture_output=True, check=True, timeout=60,
    )
    return result.stdout.decode("utf-8")


def _text(pdf: bytes, page: int | None = None) -> str:
    """Return pdftotext output (one page or all) with all whitespace removed."""
    args = ["-f", str(page), "-l", str(page)] if page else []
    return re.sub(r"\s+", "", _poppler("pdftotext", "-enc", "UTF-8", *args, pdf=pdf))


def _pdfinfo_pages(pdf: bytes) -> int:
    """Return the page count reported by pdfinfo."""
    return int(re.search(r"^Pages:\s+(\d+)", _poppler("pdfinfo", pdf=pdf), re.M).group(1))


def _page_sizes(pdf: bytes, first: int, last: int) -> list[tuple[float, float]]:
    """Return (width, height) in pt for the given page range, as reported by pdfinfo."""
    out = _poppler("pdfinfo", "-f", str(first), "-l", str(last), pdf=pdf)
    return [(float(w), float(h))
            for w, h in re.findall(r"^Page\s+\d+\s+size:\s+([\d.]+) x ([\d.]+) pts", out, re.M)]


def _image_count(pdf: bytes) -> int:
    """Return the number of images listed by pdfimages -list."""
    lines = _poppler("pdfimages", "-list", pdf=pdf).splitlines()
    return len(lines) - 2  # two header lines


def _png_bytes() -> bytes:
    """Return a small opaque PNG image."""
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _table_doc(rows: int, body_class: str = "") -> str:
    """Return an HTML review table with the given number of rows."""
    body = "".join(
        f"<tr><td>{i}</td><td>农户{i:03d}</td><td>第{i % 7 + 1}村民小组</td>"
        f"<td class='num'>{(i * 1000) % 97000 + 3000}</td></tr>"
        for i in range(1, rows + 1)
    )
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'></head>"
        f"<body class='{body_class}'><h1>农户授信审查表</h1>"
        "<table><thead><tr><th>序号</th><th>户主姓名</th><th>所在小组</th>"
        "<th class='num'>建议授信额度</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )


NOTICE = (
    "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'></head><body>"
    "<h1>整村授信公示</h1><p>以下农户经评议小组评定，拟给予授信，公示期七天。</p>"
    "</body></html>"
)


def test_one_page_chinese_notice_text_and_footer():
    pdf, pages = render_pdf_with_pages(NOTICE)
    assert pdf.startswith(b"%PDF-")
    assert pages == 1 == _pdfinfo_pages(pdf)
    text = _text(pdf)
    assert "整村授信公示" in text
    assert "公示期七天" in text
    assert "第1页共1页" in text


def test_render_pdf_matches_render_pdf_with_pages():
    pdf = render_pdf(NOTICE)
    assert _pdfinfo_pages(pdf) == 1
    assert "整村授信公示" in _text(pdf)


def test_page_is_a4_portrait():
    [(w, h)] = _page_sizes(render_pdf(NOTICE), 1, 1)
    assert abs(w - A4_W_PT) < 1 and abs(h - A4_H_PT) < 1


def test_long_table_repeats_header_and_footer_on_every_page():
    pdf, pages = render_pdf_with_pages(_table_doc(120))
    assert pages >= 3
    assert _pdfinfo_pages(pdf) == pages
    for n in range(1, pages + 1):
        text = _text(pdf, n)
        assert "户主姓名" in text and "建议授信额度" in text, f"header missing on page {n}"
        assert f"第{n}页共{pages}页" in text, f"footer wrong on page {n}"
    # Every row is printed exactly once and none is split across pages.
    full = _text(pdf)
    for i in (1, 60, 120):
        assert full.count(f"农户{i:03d}") == 1


def test_font_is_embedded_noto_sans_cjk_subset_and_small():
    pdf = render_pdf(NOTICE)
    assert len(pdf) < 200_000, f"1-page PDF is {len(pdf)} bytes; font subsetting broken?"
    rows = _poppler("pdffonts", pdf=pdf).splitlines()[2:]
    assert rows, "no fonts embedded"
    names = [row.split()[0] for row in rows]
    # poppler prints e.g. "TSPJMR+Noto-Sans-CJK-SC"; compare without hyphens.
    cjk = [name for name in names if "NotoSansCJK" in name.replace("-", "")]
    assert cjk, f"Noto Sans CJK not embedded: {names}"
    for name in cjk:
        assert re.match(r"^[A-Z]{6}\+", name), f"{name} is not a subset font"
    for row in rows:
        emb, sub = row.split()[-5:-3]
        assert (emb, sub) == ("yes", "yes"), row


def test_internal_body_marks_every_page():
    pdf, pages = render_pdf_with_pages(_table_doc(120, body_class="internal"))
    assert pages >= 3
    for n in range(1, pages + 1):
        text = _text(pdf, n)
        assert "内部" in text, f"内部 missing on page {n}"
        assert f"第{n}页共{pages}页" in text


def test_internal_mark_element_repeats_on_every_page():
    html = _table_doc(120).replace(
        "<h1>", "<div class='internal-mark'>内部资料</div><h1>", 1)
    pdf, pages = render_pdf_with_pages(html)
    assert pages >= 3
    for n in range(1, pages + 1):
        assert _text(pdf, n).count("内部资料") == 1, f"mark wrong on page {n}"


def test_public_notice_has_no_internal_mark():
    pdf, pages = render_pdf_with_pages(_table_doc(120))
    assert pages >= 3
    assert "内部" not in _text(pdf)


def test_cards_one_per_id1_page_without_footer():
    cards = "".join(
        f"<div class='card'><h3>农户信用证</h3><p>持证人：农户{i}</p>"
        f"<p>授信额度：{i * 10000} 元</p></div>"
        for i in range(1, 4)
    )
    html = f"<!doctype html><html><body class='cards'>{cards}</body></html>"
    pdf, pages = render_pdf_with_pages(html)
    assert pages == 3 == _pdfinfo_pages(pdf)
    sizes = _page_sizes(pdf, 1, 3)
    assert len(sizes) == 3
    for w, h in sizes:
        assert abs(w - CARD_W_PT) < 1 and abs(h - CARD_H_PT) < 1, (w, h)
    for n in range(1, 4):
        text = _text(pdf, n)
        assert f"持证人：农户{n}" in text
        assert "页" not in text, "cards must not carry the page footer"


def test_remote_image_is_not_fetched_and_render_still_succeeds(caplog):
    html = (
        "<!doctype html><html><body><h1>整村授信公示</h1>"
        "<img src='http://127.0.0.1:9/x.png'></body></html>"
    )
    start = time.perf_counter()
    pdf = render_pdf(html)
    assert time.perf_counter() - start < 10
    assert "整村授信公示" in _text(pdf)
    assert _image_count(pdf) == 0
    # The refusal is logged (by us and by WeasyPrint) with the reason.
    assert any("RemoteFetchRefused" in r.getMessage() for r in caplog.records)
    assert any("refused to fetch" in r.getMessage() for r in caplog.records)


def test_no_network_connection_is_attempted():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        html = (
            f"<!doctype html><html><head><link rel='stylesheet' href='{url}/a.css'>"
            f"<style>@font-face {{ font-family: X; src: url({url}/f.woff2); }}"
            f"h1 {{ background: url({url}/bg.png); font-family: X, sans-serif; }}</style>"
            f"</head><body><h1>公示</h1><img src='{url}/x.png'>"
            f"<img src='https://example.com/y.png'></body></html>"
        )
        pdf = render_pdf(html)
        with pytest.raises(BlockingIOError):
            server.accept()  # would return a connection if anything had connected
    assert _image_count(pdf) == 0


def test_fetcher_refuses_remote_schemes_with_clear_exception():
    fetcher = LocalOnlyURLFetcher()
    for url in ("http://example.com/x.png", "https://example.com/x.png",
                "ftp://example.com/x", "HTTP://EXAMPLE.COM/x"):
        with pytest.raises(RemoteFetchRefused, match="file: and data:"):
            fetcher.fetch(url)


def test_local_file_and_data_images_are_embedded(tmp_path):
    png = _png_bytes()
    (tmp_path / "logo.png").write_bytes(png)
    data_url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    html = f"<html><body><img src='logo.png'><img src='{data_url}'></body></html>"
    pdf = render_pdf(html, base_url=tmp_path.as_uri() + "/")
    assert _image_count(pdf) == 2


def test_extra_stylesheet_is_applied_after_print_css(tmp_path):
    assert PRINT_CSS_PATH.is_file()
    extra = tmp_path / "extra.css"
    extra.write_text("@page { size: A5 landscape; }", encoding="utf-8")
    pdf = render_pdf(NOTICE, stylesheets=[str(extra)])
    [(w, h)] = _page_sizes(pdf, 1, 1)
    assert abs(w - 210 / 25.4 * 72) < 1 and abs(h - 148 / 25.4 * 72) < 1
    assert "第1页共1页" in _text(pdf)  # base print.css still applied
