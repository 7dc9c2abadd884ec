"""HTML to PDF rendering for printed sheets (notices, review sheets, certificate cards)."""

from __future__ import annotations

import logging
from pathlib import Path

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

__all__ = [
    "ALLOWED_URL_SCHEMES",
    "PRINT_CSS_PATH",
    "LocalOnlyURLFetcher",
    "RemoteFetchRefused",
    "render_document",
    "render_pdf",
    "render_pdf_with_pages",
]

log = logging.getLogger(__name__)

PRINT_CSS_PATH = Path(__file__).resolve().parent.parent / "static" / "print.css"

# Printed sheets may only embed local files and inline data, never remote URLs.
ALLOWED_URL_SCHEMES = frozenset({"file", "data"})

# Options passed to WeasyPrint's PDF writer; full_fonts=False keeps font subsetting on.
_PDF_OPTIONS = {"full_fonts": False, "hinting": False}


class RemoteFetchRefused(ValueError):
    """Raised by the URL fetcher for any URL that is not file: or data:."""


class LocalOnlyURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that only serves file: and data: URLs."""

    def __init__(self) -> None:
        """Create a fetcher restricted to ALLOWED_URL_SCHEMES, with no redirects."""
        super().__init__(allowed_protocols=ALLOWED_URL_SCHEMES, allow_redirects=False)

    def fetch(self, url, headers=None):
        """Fetch a local URL, or raise RemoteFetchRefused before any network access."""
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        if scheme not in ALLOWED_URL_SCHEMES:
            log.warning("PDF rendering refused to fetch %r", url[:200])
            raise RemoteFetchRefused(
                f"refusing to fetch {url[:200]!r}: printed documents may only use "
                f"file: and data: URLs (got scheme {scheme or 'none'!r})"
            )
        return super().fetch(url, headers)


def _stylesheets(extra: list[str] | None, fetcher: URLFetcher) -> list[CSS]:
    """Return the base print stylesheet followed by the extra stylesheet files."""
    paths = [PRINT_CSS_PATH, *(extra or [])]
    return [CSS(filename=str(path), url_fetcher=fetcher) for path in paths]


def render_document(html: str, *, base_url: str | None = None,
                    stylesheets: list[str] | None = None):
    """Lay out html with the print stylesheet and return the WeasyPrint Document."""
    fetcher = LocalOnlyURLFetcher()
    source = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return source.render(stylesheets=_stylesheets(stylesheets, fetcher), **_PDF_OPTIONS)


def render_pdf(html: str, *, base_url: str | None = None,
               stylesheets: list[str] | None = None) -> bytes:
    """Render html (plus print.css and the given CSS file paths) to PDF bytes."""
    return render_pdf_with_pages(html, base_url=base_url, stylesheets=stylesheets)[0]


def render_pdf_with_pages(html: str, *, base_url: str | None = None,
                          stylesheets: list[str] | None = None) -> tuple[bytes, int]:
    """Render html to PDF and return (pdf_bytes, page_count)."""
    document = render_document(html, base_url=base_url, stylesheets=stylesheets)
    return document.write_pdf(**_PDF_OPTIONS), len(document.pages)
