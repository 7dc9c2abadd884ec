"""A branch manager approves ratings on a phone (Galaxy S8, zh-CN): the refusal of their own proposal is shown in
place, in the user's language, and approving from the queue swaps only that row (issue 5, "Must show": maker-checker).

Ratings are made in the live server's database with the real services (accepted file, proposal, a closed meeting).
"""
from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import gettext as translate
from playwright.sync_api import expect

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

SELF_APPROVAL = "You proposed this rating, so someone else must approve it (maker-checker)."
APPROVED = "Approved."


def zh(live_server, msgid: str) -> str:
    """The message as a zh-CN user sees it (the English msgid until the lead's catalogue translates it)."""
    with live_server.app.test_request_context(), force_locale("zh_CN"):
        return translate(msgid)


def test_manager_sees_own_proposal_refused_then_approves_another_from_the_queue(watched_context, world_ids, live_server):
    from fieldapp.accounts.models import User
    from fieldapp.households.models import Household
    from fieldapp.ratings.models import Rating
    from tests.support.routes_ratings import reviewed_rating

    def make():
        officer = db.session.get(User, world_ids.officer.id)
        manager = db.session.get(User, world_ids.manager.id)
        own = reviewed_rating(db.session.get(Household, world_ids.h3.id), manager)
        other = reviewed_rating(db.session.get(Household, world_ids.h1.id), officer)
        return own.id, other.id

    own_id, other_id = in_db(live_server, make)
    page = watched_context(world_ids.manager).new_page()

    # ---- the queue lists both; open the one the manager proposed and try to approve it
    page.goto("/approvals")
    expect(page.locator(f"#approval-{own_id}")).to_be_visible()
    expect(page.locator(f"#approval-{other_id}")).to_be_visible()
    with page.expect_navigation(url=f"**/ratings/{own_id}"):
        page.locator(f"#approval-{own_id} a.button").click()
    expect(page.locator("#rating-indicators > li")).to_have_count(6)
    page.locator("#approve-form button[type=submit]").click()
    alert = page.locator("#rating-decision .error[role=alert]")
    expect(alert).to_have_text(zh(live_server, SELF_APPROVAL))
    assert in_db(live_server, lambda: db.session.get(Rating, own_id).status) == "reviewed"

    # ---- back in the queue, approve the officer's proposal: only its row changes
    page.goto("/approvals")
    row = page.locator(f"#approval-{other_id}")
    row.locator("button[type=submit]").click()
    expect(row.locator(".flash")).to_have_text(zh(live_server, APPROVED))
    expect(row.locator("button[type=submit]")).to_have_count(0)
    expect(page.locator(f"#approval-{own_id} button[type=submit]")).to_have_count(1)
    assert in_db(live_server, lambda: db.session.get(Rating, other_id).status) == "approved"
