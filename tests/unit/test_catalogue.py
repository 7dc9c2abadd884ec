"""Every UI string has a Chinese translation, and placeholders survive translation."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "fieldapp" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}


def _source_msgids() -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(ROOT / "fieldapp"), METHODS, keywords=KEYWORDS):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in ids if m}


def test_every_ui_string_is_translated_into_chinese():
    with PO.open("rb") as f:
        catalogue = read_po(f, locale="zh")
    translated = {}
    for m in catalogue:
        key = m.id[0] if isinstance(m.id, (tuple, list)) else m.id
        strings = m.string if isinstance(m.string, (tuple, list)) else (m.string,)
        if key and all(strings) and "fuzzy" not in m.flags:
            translated[key] = m.string
    missing = sorted(_source_msgids() - set(translated))
    assert missing == [], "run `make i18n` and translate these in " + str(PO.relative_to(ROOT)) + ":\n" + "\n".join(missing)


def test_placeholders_match():
    with PO.open("rb") as f:
        catalogue = read_po(f, locale="zh")
    for m in catalogue:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, (tuple, list)) else (m.id,)
        strings = [s for s in (m.string if isinstance(m.string, (tuple, list)) else (m.string,)) if s]
        wanted = sorted(set(re.findall(r"%\(\w+\)[sd]", " ".join(ids))))
        for string in strings:
            assert sorted(set(re.findall(r"%\(\w+\)[sd]", string))) == wanted, m.id
