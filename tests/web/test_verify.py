"""The public certificate check (/V/<TOKEN>, /V?no=&code=) through the real routes on a real database.

Certificates are issued, suspended, resumed, reissued and revoked through the real services (fieldapp/certificates/
services.py, via tests/support/routes_verify.py); the clock moves with clock.set_now. Pages are read in English
(the lang cookie) so the assertions name msgids; the 429 page is read in Chinese.

Shown: each status shows exactly its fields and not the others'; revoked, unknown and malformed answers (and a wrong
check code) are byte-identical apart from the time of the check; the route is case-insensitive; the number + check
code lookup; no-store and noindex everywhere; 10,000 random tokens find nothing; the per-IP throttle, harder on
misses; each change shows on the next scan; a PII scan of every public answer with a positive control.
"""
from __future__ import annotations

import gzip
import html
import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldapp.certificates import rules, services
from fieldapp.certificates.models import Certificate
from fieldapp.core import clock
from fieldapp.core.masking import mask_name
from fieldapp.extensions import db, limiter
from fieldapp.households.models import Household, Member
from tests.support.routes_verify import UNKNOWN_TOKEN, fresh, issued

HOTLINE = "0872-1234567"  # CERT_HOTLINE defaults to NOTICE_HOTLINE
TIME = re.compile(r'<time datetime="[^"]*">[^<]*</time>')
PUBLIC_CSS = Path(__file__).resolve().parents[2] / "fieldapp" / "static" / "public.css"

# the element ids of the certificate's fields on the page, by public status
FIELDS = {
    "valid": {"holder", "village", "kind", "grade", "line", "valid-to", "cert-no", "check-code", "branch", "hotline"},
    "suspended": {"reason", "cert-no", "check-code", "hotline"},
    "expired": {"valid-to", "cert-no", "hotline"},
    "superseded": {"hotline"},
}
ALL_FIELDS = set().union(*FIELDS.values())


def en(app):
    c = app.test_client()
    c.set_cookie("lang", "en")
    return c


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def main(resp) -> str:
    return text(resp).split('<main id="main">')[1].split("</main>")[0]


def field_ids(resp) -> set[str]:
    return set(re.findall(r'id="([a-z-]+)"', main(resp))) & ALL_FIELDS


def field(resp, name: str) -> str:
    return re.search(rf'id="{name}"[^>]*>([^<]*)<', main(resp)).group(1)


def blank_time(resp) -> bytes:
    body = resp.get_data()
    assert len(TIME.findall(body.decode())) == 1
    return TIME.sub("<time>", body.decode()).encode()


def at_local(app, day, hour: int = 10) -> None:
    clock.set_now(app, datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ))


def revoked(w, card):
    cert = fresh(card.cert)
    services.request_revoke(cert, "骗取授信", w.officer)
    db.session.commit()
    services.approve_revoke(fresh(card.cert), w.manager)
    db.session.commit()
    return fresh(card.cert)


# ---------------------------------------------------------------- what each status shows

def test_a_valid_card_shows_the_card_its_hotline_the_time_and_the_domain_to_trust(app, world):
    card = issued(world, head="王大明")
    cert = fresh(card.cert)
    resp = en(app).get(f"/V/{card.token}")
    body = text(resp)
    assert resp.status_code == 200
    assert field_ids(resp) == FIELDS["valid"]
    assert 'class="verdict v-valid"' in body and "✓" in body and "Valid" in field_verdict(resp)
    assert field(resp, "holder") == "王*明"
    assert field(resp, "village") == "金星村"
    assert field(resp, "kind") == "Credit certificate"
    assert field(resp, "grade") == {"excellent": "Excellent", "good": "Good", "fair": "Fair"}[cert.grade]
    assert field(resp, "line") == f"Credit line {rules.wan_text(cert.line_fen)}"
    assert field(resp, "valid-to") == cert.valid_to.isoformat()
    assert field(resp, "cert-no") == cert.cert_no and field(resp, "check-code") == cert.check_code
    assert field(resp, "branch") == "金华支行"
    assert f'href="tel:08721234567"' in body and f"Call {HOTLINE}" in body
    now = clock.now().astimezone(clock.LOCAL_TZ)
    assert f"Checked at <time datetime=\"{now:%Y-%m-%d}T" in body
    assert "Only trust check pages at fieldapp.test." in body
    assert "<script" not in body and "style=" not in body
    assert resp.headers["Cache-Control"].startswith("no-store")
    assert resp.headers["X-Robots-Tag"].startswith("noindex")
    assert resp.headers.getlist("Set-Cookie") == []


def field_verdict(resp) -> str:
    return re.search(r'id="verdict">(.*?)</p>', main(resp), re.S).group(1)


def test_each_status_shows_exactly_its_fields_and_none_of_the_others(app, world):
    cards = {name: issued(world, head=head) for name, head in
             [("valid", "赵一二"), ("suspended", "钱三四"), ("superseded", "孙五六"), ("expired", "李七八")]}
    services.suspend(fresh(cards["suspended"].cert), "village_risk", "村里熔断", world.manager)
    replacement = services.reissue(fresh(cards["superseded"].cert), world.officer, "卡片遗失")
    db.session.commit()
    c = en(app)
    pages = {name: c.get(f"/V/{card.token}") for name, card in cards.items() if name != "expired"}
    views = {name: fresh(card.cert) for name, card in cards.items()}

    for name, resp in pages.items():
        assert resp.status_code == 200, name
        assert field_ids(resp) == FIELDS[name], name
        assert f'class="verdict v-{name}"' in text(resp)
    assert "Suspended" in field_verdict(pages["suspended"])
    assert field(pages["suspended"], "reason") == "Village risk control"
    assert "村里熔断" not in text(pages["suspended"])  # the reason's words stay inside the bank
    assert "Replaced by a new certificate" in field_verdict(pages["superseded"])

    def leaks(resp, cert, shown: set[str]) -> list[str]:
        values = {"holder": cert.holder_display, "village": "金星村", "branch": "金华支行",
                  "cert-no": cert.cert_no, "check-code": cert.check_code, "valid-to": cert.valid_to.isoformat(),
                  "line": rules.wan_text(cert.line_fen), "grade": "Fair"}
        return [k for k, v in values.items() if k not in shown and v in main(resp)]

    assert leaks(pages["suspended"], views["suspended"], FIELDS["suspended"]) == []
    assert leaks(pages["superseded"], views["superseded"], FIELDS["superseded"]) == []
    assert replacement.cert_no not in text(pages["superseded"])  # not even the new card's number

    # expired: three years and a day later (on read; no tick has run)
    at_local(app, views["expired"].valid_to + timedelta(days=1))
    resp = c.get(f"/V/{cards['expired'].token}")
    assert resp.status_code == 200
    assert field_ids(resp) == FIELDS["expired"]
    assert "Expired" in field_verdict(resp) and 'class="verdict v-expired"' in text(resp)
    assert field(resp, "valid-to") == views["expired"].valid_to.isoformat()
    assert leaks(resp, views["expired"], FIELDS["expired"]) == []
    assert fresh(cards["expired"].cert).status == "expired"  # made durable by the read


def test_a_lapsed_yearly_reconfirmation_reads_as_suspended_rating_expired(app, world):
    card = issued(world, head="周年审")
    line = services.line_of(fresh(card.cert))
    at_local(app, line.reconfirm_by + timedelta(days=1))
    resp = en(app).get(f"/V/{card.token}")
    assert field_ids(resp) == FIELDS["suspended"]
    assert field(resp, "reason") == "Rating expired"


# ---------------------------------------------------------------- the neutral page

def test_revoked_unknown_and_malformed_answers_are_the_same_bytes_apart_from_the_time(app, world):
    card = issued(world, head="吴撤销")
    cert = revoked(world, card)
    assert cert.status == "revoked"
    other = fresh(issued(world, head="郑号码").cert)
    c = en(app)
    urls = [f"/V/{card.token}",                    # revoked
            f"/v/{card.token.lower()}",            # revoked, typed in lower case
            f"/V/{UNKNOWN_TOKEN}",                 # well-formed, issued to nobody
            "/V/not-a-token",                      # malformed
            "/V/" + "0OI1L" * 5 + "A",             # ambiguous characters
            "/V/" + "A" * 300,                     # far too long
            "/V/%E7%8E%8B%E5%A4%A7%E6%98%8E",     # not even ASCII
            "/V/ABC/DEF",                          # a slash
            f"/V?no={cert.cert_no}&code={cert.check_code}",      # revoked, by number
            f"/V?no={other.cert_no}&code=ZZZZZZ",                  # a right number with a wrong code
            "/V?no=532931-B01-2026-999999&code=ABCDEF"]            # an unknown number
    responses = [c.get(url) for url in urls]
    first = responses[0]
    assert first.status_code == 404
    assert "Certificate not valid" in field_verdict(first) and 'class="verdict v-invalid"' in text(first)
    for url, resp in zip(urls, responses):
        assert resp.status_code == 404, url
        assert blank_time(resp) == blank_time(first), url
        assert resp.headers.getlist("Set-Cookie") == [], url
        assert resp.headers["Content-Type"] == first.headers["Content-Type"], url
        assert resp.headers["Cache-Control"].startswith("no-store"), url
        assert resp.headers["X-Robots-Tag"].startswith("noindex"), url
    body = text(first)
    assert "吴*销" not in body and cert.cert_no not in body and "金星村" not in body
    assert f"Call {HOTLINE}" in body and 'href="/V"' in body  # the bank's hotline and the lookup by number
    # in Chinese as well (the default language), still the same bytes for all three kinds of miss
    zh = app.test_client()
    pages = [blank_time(zh.get(url)) for url in urls[:4]]
    assert len(set(pages)) == 1 and b'lang="zh-CN"' in pages[0]


# ---------------------------------------------------------------- routes and lookup by number

def test_the_route_is_case_insensitive(app, world):
    card = issued(world, head="冯大小")
    number = fresh(card.cert).cert_no
    c = en(app)
    spaced = " ".join(card.token[i:i + 4] for i in range(0, len(card.token), 4))
    for url in (f"/V/{card.token}", f"/v/{card.token}", f"/V/{card.token.lower()}", f"/v/{card.token.lower()}",
                f"/V/{card.token[:13].lower()}{card.token[13:]}", f"/V/{spaced}"):
        resp = c.get(url)
        assert resp.status_code == 200, url
        assert field(resp, "cert-no") == number, url
    assert card.token == card.token.upper() and services.verify_url(card.token).endswith(f"/V/{card.token}")


def test_lookup_by_number_and_check_code(app, world):
    card = issued(world, head="陈核对")
    cert = fresh(card.cert)
    c = en(app)
    form = c.get("/V")
    assert form.status_code == 200
    assert '<form method="get" action="/V"' in text(form) and 'name="no"' in text(form) and 'name="code"' in text(form)
    assert "csrf" not in text(form)  # a GET form: no session, no cookie
    assert form.headers["Cache-Control"].startswith("no-store") and form.headers.getlist("Set-Cookie") == []

    resp = c.get("/V", query_string={"no": cert.cert_no, "code": cert.check_code})
    assert resp.status_code == 200 and field(resp, "holder") == "陈*对" and field(resp, "cert-no") == cert.cert_no
    # as a person types it: lower case, full-width characters, spaces, another dash
    typed_no = cert.cert_no.replace("-", "－").lower().translate({ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"})
    resp = c.get("/V", query_string={"no": f" {typed_no} ", "code": " ".join(cert.check_code.lower())})
    assert resp.status_code == 200 and field(resp, "cert-no") == cert.cert_no

    wrong = cert.check_code[:-1] + ("A" if cert.check_code[-1] != "A" else "B")
    miss = c.get("/V", query_string={"no": cert.cert_no, "code": wrong})
    assert miss.status_code == 404 and blank_time(miss) == blank_time(c.get(f"/V/{UNKNOWN_TOKEN}"))
    assert cert.holder_display not in text(miss)

    half = c.get("/V", query_string={"no": cert.cert_no, "code": ""})
    assert half.status_code == 422 and "Enter both the certificate number and the check code." in text(half)
    assert f'value="{cert.cert_no}"' in text(half)


def test_the_page_is_small(app, world):
    """The valid page plus its stylesheet, compressed, stays under 6 KB (a slow village connection)."""
    card = issued(world, head="卫小页")
    c = en(app)
    css = gzip.compress(PUBLIC_CSS.read_bytes())
    for url in (f"/V/{card.token}", f"/V/{UNKNOWN_TOKEN}", "/V"):
        page = gzip.compress(c.get(url).get_data())
        assert len(page) + len(css) <= 6 * 1024, url


def test_a_valid_card_links_to_the_villages_open_notice(app, world):
    from tests.support.routes_notices import draft, listed_household, open_now
    card = issued(world, head="蒋公示")
    c = en(app)
    assert 'id="notice-link"' not in text(c.get(f"/V/{card.token}"))  # no notice open
    listed_household(world, world.v1, head="沈邻居")
    notice = open_now(world, draft(world, world.v1))
    resp = c.get(f"/V/{card.token}")
    assert f'id="notice-link" href="/n/{notice.public_token}"' in text(resp)
    services.suspend(fresh(card.cert), "under_review", None, world.manager)
    db.session.commit()
    assert "notice-link" not in text(c.get(f"/V/{card.token}"))  # not beside a suspended card


# ---------------------------------------------------------------- each change shows on the next scan

def test_suspend_resume_and_reissue_show_on_the_next_scan(app, world):
    card = issued(world, head="韩变更")
    c = en(app)
    url = f"/V/{card.token}"
    assert "Valid" in field_verdict(c.get(url))
    for category, words in [("overdue", "Overdue"), ("village_risk", "Village risk control"),
                            ("under_review", "Under review"), ("manual", "Suspended by the bank")]:
        services.suspend(fresh(card.cert), category, "内部原因", world.officer)
        db.session.commit()
        resp = c.get(url)
        assert "Suspended" in field_verdict(resp) and field(resp, "reason") == words
        assert field_ids(resp) == FIELDS["suspended"]
    services.resume(fresh(card.cert), world.manager)
    db.session.commit()
    resp = c.get(url)
    assert "Valid" in field_verdict(resp) and field(resp, "holder") == "韩*更"
    new = services.reissue(fresh(card.cert), world.officer, "卡片遗失")
    db.session.commit()
    resp = c.get(url)
    assert "Replaced by a new certificate" in field_verdict(resp) and field_ids(resp) == FIELDS["superseded"]
    fresh_resp = c.get(f"/V/{services.card_token(new)}")
    assert "Valid" in field_verdict(fresh_resp) and field(fresh_resp, "cert-no") == new.cert_no != card.cert.cert_no
    # revoking the new card: its page becomes the neutral one; the old card still says 已换发
    revoked(world, type(card)(cert=new, token=None, household=None))
    assert c.get(f"/V/{services.card_token(new)}").status_code == 404
    assert "Replaced by a new certificate" in field_verdict(c.get(url))


# ---------------------------------------------------------------- guessing

def test_ten_thousand_random_tokens_find_nothing(app, world):
    cards = [issued(world, head=f"杨随机{i}") for i in range(3)]
    for card in cards:  # positive control: the issued tokens are found, also as typed in lower case
        assert services.find_by_token(card.token).id == card.cert.id
        assert services.find_by_token(card.token.lower()).id == card.cert.id
    tokens = {rules.new_token() for _ in range(10_000)}
    assert len(tokens) == 10_000
    assert all(len(t) == rules.TOKEN_LENGTH and rules.normalise_token(t) == t for t in tokens)
    hits = [t for t in tokens if services.find_by_token(t) is not None]
    assert hits == []
    assert rules.token_bits() >= 128


class TestThrottle:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "VERIFY_RATE_LIMIT": "12 per minute",
                "VERIFY_MISS_RATE_LIMIT": "3 per minute"}

    def test_misses_are_throttled_harder_than_hits_per_ip(self, app, world):
        card = issued(world, head="朱限流")
        good = f"/V/{card.token}"
        c = app.test_client()  # Chinese, the default language

        # misses: the third is still answered, the fourth is refused, and then even a good card waits
        for i in range(3):
            assert c.get(f"/V/{rules.new_token()}").status_code == 404, i
        resp = c.get(f"/V/{rules.new_token()}")
        assert resp.status_code == 429
        body = text(resp)
        assert "尝试次数过多" in body and "<script" not in body and resp.headers["Retry-After"]
        assert resp.headers["Cache-Control"].startswith("no-store")
        assert resp.headers["X-Robots-Tag"].startswith("noindex")
        assert c.get(good).status_code == 429
        assert c.get("/V", query_string={"no": "532931-B01-2026-999999", "code": "ABCDEF"}).status_code == 429
        # another IP is not affected
        other = app.test_client()
        assert other.get(good, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200

        # hits: twelve a minute, none of them charged to the miss budget
        limiter.reset()
        for i in range(9):
            assert c.get(good).status_code == 200, i
        for i in range(3):
            assert c.get(f"/V/{rules.new_token()}").status_code == 404, i  # the miss budget is whole
        assert c.get(good).status_code == 429  # 12 checks in all: the overall limit
        limiter.reset()
        for i in range(12):
            assert c.get(good).status_code == 200, i
        assert c.get(good).status_code == 429
        limiter.reset()
        assert c.get(good).status_code == 200


# ---------------------------------------------------------------- personal data

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def test_no_public_answer_carries_personal_data_and_every_shown_name_is_masked(app, world):
    """Certificates in every status (valid, each suspension, expired, superseded, revoked), every public answer
    (by token in both cases, by number): no ID number, no mobile number other than the hotline, no unmasked name;
    each valid card's masked name IS found (positive control)."""
    heads = ["张三", "王大明", "欧阳春花", "李四五", "赵钱孙", "周吴郑", "冯陈褚", "卫蒋沈", "韩杨朱", "秦尤许"]
    cards = [issued(world, head=head) for head in heads]
    # everybody's phone on file, so leaking one would show
    for i, member in enumerate(db.session.scalars(sa.select(Member))):
        member.mobile = f"139{i:08d}"
        member.mobile_last4 = member.mobile[-4:]
    for i, household in enumerate(db.session.scalars(sa.select(Household))):
        household.phone = f"138{i:08d}"
    db.session.commit()
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 = cards
    for card, category in [(c1, "village_risk"), (c2, "overdue"), (c3, "under_review"), (c4, "manual")]:
        services.suspend(fresh(card.cert), category, "13712345678 说明", world.officer)
    services.reissue(fresh(c5.cert), world.officer, "遗失")
    db.session.commit()
    revoked(world, c6)
    expired_on = fresh(c7.cert).valid_to

    valid_names = {mask_name(heads[0]), mask_name(heads[8]), mask_name(heads[9])}
    assert valid_names == {"张*", "韩*朱", "秦*许"}

    def answers() -> list[tuple[str, str]]:
        c = en(app)
        out = []
        for card in cards:
            cert = fresh(card.cert)
            for url in (f"/V/{card.token}", f"/v/{card.token.lower()}"):
                out.append((url, text(c.get(url))))
            out.append(("by number", text(c.get("/V", query_string={"no": cert.cert_no, "code": cert.check_code}))))
        for cert in db.session.scalars(sa.select(Certificate).where(Certificate.superseded_by_id.is_not(None))):
            new = db.session.get(Certificate, cert.superseded_by_id)
            out.append(("reissued", text(c.get(f"/V/{services.card_token(new)}"))))
        out.append(("lookup form", text(c.get("/V"))))
        out.append(("unknown", text(c.get(f"/V/{UNKNOWN_TOKEN}"))))
        return out

    pages = answers()
    at_local(app, expired_on + timedelta(days=1))
    pages += [(f"later {url}", body) for url, body in answers()]

    full_names = [m.name for m in db.session.scalars(sa.select(Member))]
    ids = [m.id_number for m in db.session.scalars(sa.select(Member)) if m.id_number]
    assert full_names and ids
    # the scan's patterns do catch what they look for (negative control of the scanner itself)
    assert MOBILE.search("电话13912345678。") and ID_NUMBER.search("身份证532931198001012345 ")
    found_masked = set()
    for url, body in pages:
        for name in full_names:
            assert name not in body, (url, name)
        for id_number in ids:
            assert id_number not in body and id_number[-8:] not in body, (url, id_number)
        assert not ID_NUMBER.search(body), url
        assert MOBILE.findall(body) == [], url
        assert set(re.findall(r"tel:([\d+]+)", body)) <= {"08721234567"}, url
        assert "13712345678" not in body
        found_masked |= {name for name in valid_names if name in body}
    assert found_masked == valid_names  # positive control: each valid card's masked holder is on its page
