"""A village with more cards than CARDS_PER_PDF prints them in parts (WeasyPrint holds every page of a document in
memory, about 1.5 MB a card): each part is a whole number of A4 sheets, the village page links every part, a part
that does not exist is a clear 404, and "not printed yet" gives the next part of never-printed cards."""
from __future__ import annotations

import pytest

from fieldapp.extensions import db
from tests.support.routes_certificates import issued
from tests.web.test_certificates import _en, _pdfinfo, _pdftotext, _reload


@pytest.fixture
def app_config():
    return {"CARDS_PER_PDF": 10}


def test_a_village_prints_its_cards_in_parts_of_whole_sheets(app, client, world, tmp_path):
    certs = sorted((issued(world, world.v1) for _ in range(13)), key=lambda c: c.cert_no)
    db.session.commit()
    _en(client, world.manager)

    page = client.get(f"/villages/{world.v1.id}/certificates").get_data(as_text=True)
    assert "Print cards 1–10" in page and "Print cards 11–13" in page and "Print all cards" not in page
    assert "At most 10 cards go in one PDF" in page

    first = client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?part=1")
    second = client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?part=2")
    assert first.status_code == second.status_code == 200
    assert _pdfinfo(first.data, tmp_path)[0] == 2 and _pdfinfo(second.data, tmp_path)[0] == 2   # front, back
    text1, text2 = _pdftotext(first.data), _pdftotext(second.data)
    assert all(c.cert_no in text1 and c.cert_no not in text2 for c in certs[:10])
    assert all(c.cert_no in text2 and c.cert_no not in text1 for c in certs[10:])
    assert "certificates-" in first.headers["Content-Disposition"] and "-1.pdf" in first.headers["Content-Disposition"]
    assert all(_reload(c).print_count == 1 for c in certs)

    missing = client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?part=3")
    assert missing.status_code == 404 and "2 parts" in missing.get_data(as_text=True)
    assert client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?part=0").status_code == 404
    assert client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?part=x").status_code == 200   # part 1


def test_not_printed_yet_gives_the_next_part_of_never_printed_cards(app, client, world, tmp_path):
    certs = sorted((issued(world, world.v1) for _ in range(12)), key=lambda c: c.cert_no)
    db.session.commit()
    _en(client, world.manager)
    url = f"/villages/{world.v1.id}/certificates/cards.pdf?new=1"
    batch1 = _pdftotext(client.get(url).data)
    batch2 = _pdftotext(client.get(url).data)
    assert all(c.cert_no in batch1 for c in certs[:10]) and all(c.cert_no in batch2 for c in certs[10:])
    assert not any(c.cert_no in batch2 for c in certs[:10])
    assert client.get(url).status_code == 404   # every card printed
