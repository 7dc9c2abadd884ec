"""The 500-household village notice sheet (issue 6 "Must show"): fetched through /notices/<id>/sheet.pdf and read
back with poppler. Positive controls first (every expected masked name, the table header on every page with rows,
the page count and "第 x 页 共 y 页" on every page, the QR decoding to the public page), then the privacy checks: no
unmasked name, no ID number, no mobile number (the configured hotline is allowed).
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from fieldapp.core import clock
from fieldapp.core.masking import mask_name
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member
from fieldapp.notices import services as notices
from fieldapp.notices.models import Notice
from fieldapp.org.models import Village
from tests.support.notices import (CENTRE, HOTLINE, board_photo, bulk_approved_ratings, client_for, flat, page_png,
                                   pdf_page_texts, pdf_pages)
from tests.support.world import add_household, make_id

pytestmark = pytest.mark.xdist_group("notice_pdf")  # heavy: never two of these at once under --dist loadgroup

HOUSEHOLDS = 500
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯董程曹袁邓许傅沈彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊陆郝孔崔康毛邱秦史顾侯邵孟段汤尹黎易常乔贺赖龚"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛超霞平刚桂玉萍红鹏辉兵斌琴云峰倩宇浩凯健俊帆雪荣飞瑶梅鑫婷淑惠珍"
COMPOUND = ("欧阳", "司马", "诸葛", "上官", "慕容", "东方", "皇甫", "令狐")
MINORITY = ("阿依古丽·买买提", "热依拉·吐尔逊", "买买提·艾力", "古丽娜·热合曼", "艾尔肯·吾斯曼", "帕提古丽·阿不都",
            "迪丽拜尔·依明", "努尔兰·沙吾提", "额尔敦·图雅", "巴特尔·朝鲁")
GRADES = (("excellent", 92, 200_000_00), ("good", 84, 100_000_00), ("fair", 71, 50_000_00))
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def names(n: int) -> list[str]:
    """n distinct head names: 2-, 3- and 4-character Han names and minority names written with "·"."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:
        s, g1, g2 = SURNAMES[i % len(SURNAMES)], GIVEN[(i * 7) % len(GIVEN)], GIVEN[(i * 13 + 5) % len(GIVEN)]
        kind = i % 10
        if kind < 3:
            name = s + g1
        elif kind < 8:
            name = s + g1 + g2
        elif kind == 8:
            name = COMPOUND[i % len(COMPOUND)] + g1 + g2
        else:
            base = MINORITY[(i // 10) % len(MINORITY)]
            name = base if base not in seen else base.replace("·", g1 + "·", 1)
        i += 1
        if name not in seen and g1 != g2:
            seen.add(name)
            out.append(name)
    return out


def build_village(w) -> tuple[list[Household], dict[int, str]]:
    """500 households of 金星村 in its two groups, each head with an ID number and a mobile, some with a spouse."""
    village = w.v1
    village.centroid_lat, village.centroid_lng = CENTRE
    groups = sorted(village.groups, key=lambda g: g.id)
    households = []
    heads = names(HOUSEHOLDS + 60)
    spouses = iter(heads[HOUSEHOLDS:])
    for i, head in enumerate(heads[:HOUSEHOLDS]):
        members = [(head, "head", make_id("532931", f"19{60 + i % 35:02d}0{1 + i % 9}1{i % 9}", i % 1000))]
        if i % 10 == 4:
            members.append((next(spouses), "spouse", make_id("532931", f"19{62 + i % 30:02d}1{i % 3}0{1 + i % 9}",
                                                             (i + 500) % 1000)))
        h = add_household(village, groups[i % 2], f"H-P{i:04d}", members)
        h.phone = f"139{i:08d}"
        households.append(h)
    db.session.flush()
    return households, {h.id: h.head_name for h in households}


def row_in(position: int, name: str, group: str, text: str) -> bool:
    """The sheet's line "<No.> <masked name> <group>" in whitespace-free text (12王*一组 is not line 2)."""
    return re.search(rf"(?<!\d){position}{re.escape(name)}{re.escape(group)}", text) is not None


def zh(msgid: str) -> str:
    """A msgid as the sheet prints it in the default (Chinese) locale, whether or not the catalogue has it yet."""
    with force_locale("zh_CN"):
        return flat(gettext(msgid))


def test_a_500_household_sheet_is_masked_paginated_numbered_and_its_qr_opens_the_public_page(app, world, tmp_path):
    import zxingcpp
    from PIL import Image

    households, heads = build_village(world)
    bulk_approved_ratings(households, proposer=world.officer, approver=world.manager,
                          grade_line=lambda i: (GRADES[i % 3][1], GRADES[i % 3][0], GRADES[i % 3][2]))
    notice = notices.create_notice(db.session.get(Village, world.v1.id), user=world.officer, starts_on=clock.today(),
                                   duration_days=7, posting_place="村委会公示栏", hotline=HOTLINE)
    notices.schedule(notice)
    notices.open_notice(notice, user=world.officer, photo=board_photo(*CENTRE), lat=None, lng=None,
                        accuracy_m=None)  # the position comes from the photo's EXIF
    db.session.commit()
    notice = db.session.get(Notice, notice.id)
    assert notice.status == "open" and len(notice.items) == HOUSEHOLDS and notice.posting_distance_m < 1

    resp = client_for(app, world.secretary, lang="zh_CN").get(f"/notices/{notice.id}/sheet.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    data = resp.data
    pages = pdf_pages(data)
    texts = pdf_page_texts(data)
    assert len(texts) == pages and pages >= 10  # 500 rows cannot fit on a few A4 pages
    bodies = [flat(t) for t in texts]
    everything = "".join(bodies)

    # ---- positive controls: every household's line (number, masked name, group) is printed
    expected = [(item.position, mask_name(heads[item.household_id]), item.group_name) for item in notice.items]
    assert [p for p, _name, _g in expected] == list(range(1, HOUSEHOLDS + 1))
    assert [name for _p, name, _g in expected] == [item.display_name for item in notice.items]
    assert {len(heads[h.id]) for h in households} >= {2, 3, 4} and any("·" in n for n in heads.values())
    for position, name, group in expected:
        assert row_in(position, name, group, everything), (position, name)
    assert "阿***·**提" in everything  # the minority name keeps its separator
    counts = Counter(name for _p, name, _g in expected)
    for name, count in counts.items():
        assert everything.count(name) >= count, name

    # ---- every page: "第 x 页 共 y 页" right; every page with rows repeats the table header; rows run in order
    header = [zh(msgid) for msgid in ("No.", "Name", "Group", "Credit grade", "Approved credit line", "Program")]
    seen = []
    for page, body in enumerate(bodies, start=1):
        assert f"第{page}页共{pages}页" in body, page
        assert body.count("页共") == 1, page
        rows_here = [p for p, name, group in expected if row_in(p, name, group, body)]
        if rows_here:
            assert all(cell in body for cell in header), (page, header)
        else:
            assert page == pages and zh("How to object") in body, f"page {page} carries no rows"
        seen += rows_here
    assert seen == list(range(1, HOUSEHOLDS + 1))  # each row on exactly one page, in order
    assert notice.title in bodies[0] and zh("Village secretary (signature)") in bodies[-1]

    # ---- privacy: no unmasked name, no ID number, no mobile (the hotline is a landline and allowed)
    members = list(db.session.scalars(sa.select(Member).where(Member.household_id.in_([h.id for h in households]))))
    assert len(members) == HOUSEHOLDS + HOUSEHOLDS // 10
    for m in members:
        assert m.name not in everything, m.name
        assert m.id_number not in everything
    raw = "\n".join(texts)
    assert not ID_NUMBER.search(raw) and not ID_NUMBER.search(everything)
    assert MOBILE.findall(raw) == []
    assert all(h.phone not in everything for h in households)
    assert HOTLINE in everything  # the phone check's positive control: the configured hotline is printed

    # ---- the QR (printed once, at the top of the first page, where the board shows it) decodes to the public page
    png = page_png(data, tmp_path, 1)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
    assert found == [f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}/n/{notice.public_token}"]
    assert found[0] == notices.public_url(notice)
