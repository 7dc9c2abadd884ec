"""A camera photo on a slow link, in a phone-sized Chromium against the live app: resized in the browser, uploaded
with a visible progress bar, stored upright, small and without metadata, its GPS position kept in the database.

The test makes the photo itself (Pillow): 4000x3000, noisy (so it is big and does not compress away), EXIF
Orientation 6 (the camera was held upright: the stored pixels must be turned 90 degrees clockwise) and an EXIF GPS
position. A red block marks the stored top-left corner; upright, it must be at the top right.
"""
from __future__ import annotations

import hashlib
import io

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.helpers import in_db
from tests.browser.test_offline import record_visit

from fieldapp.extensions import db

pytestmark = pytest.mark.browser

LAT = (26, 32, 10.5)     # 26°32'10.5" N  (剑川)
LNG = (99, 54, 3.25)     # 99°54'3.25" E
SLOW_LINK = 400 * 1000 // 8  # 400 kbit/s in bytes per second

# Every value a <progress> takes, as [value, max] (attributes change when the script sets .value / .max).
WATCH_PROGRESS_JS = """
window.__progress = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.tagName === 'PROGRESS' && r.target.closest('.photo-queue')) {
      window.__progress.push([r.target.value, r.target.max]);
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['value', 'max']});
"""


def degrees(dms) -> float:
    return dms[0] + dms[1] / 60 + dms[2] / 3600


def camera_photo() -> bytes:
    """A 4000x3000 noisy JPEG as a phone camera writes it: EXIF Orientation 6 and a GPS position."""
    from PIL import Image
    size = (4000, 3000)
    noise = [Image.effect_noise(size, sigma) for sigma in (48, 40, 56)]
    base = Image.linear_gradient("L").resize(size)
    img = Image.merge("RGB", [Image.blend(base, n, 0.35) for n in noise])
    img.paste((255, 0, 0), (0, 0, 600, 600))  # stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x8825] = {1: "N", 2: LAT, 3: "E", 4: LNG}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif)
    return buf.getvalue()


def test_camera_photo_is_resized_uploaded_with_progress_and_stored_clean(watched_context, world_ids, live_server):
    from PIL import Image

    from fieldapp.visits.models import Photo
    from fieldapp.visits.store import photo_store

    hid = world_ids.h1.id
    original = camera_photo()
    assert len(original) > 3_000_000  # the raw photo: several MB, far too much for one bar of signal
    ctx = watched_context(world_ids.officer)
    page = ctx.new_page()
    visit_id = record_visit(page, hid)
    before = in_db(live_server, lambda: set(db.session.scalars(sa.select(Photo.id).where(Photo.household_id == hid))))

    page.add_init_script(WATCH_PROGRESS_JS)
    page.goto(f"/visits/{visit_id}")
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 150, "downloadThroughput": SLOW_LINK, "uploadThroughput": SLOW_LINK})
    page.locator("#photo-house").set_input_files(files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg",
                                                         "buffer": original}])
    row = page.locator("#photo-form-house .photo-queue li")
    expect(row).to_have_count(1)
    expect(row.locator("progress")).to_be_visible()
    expect(row).to_have_attribute("data-state", "sent", timeout=60_000)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    seen = page.evaluate("window.__progress")
    partway = [v for v, m in seen if 0 < v < m]
    assert partway, f"the progress bar never showed a partial upload: {seen[:20]}"
    # the visit page shows this visit's photos: none before (it was just recorded), the new one now
    expect(page.locator("#photos figure.photo-card")).to_have_count(1)

    def stored():
        photo = db.session.scalars(sa.select(Photo).where(Photo.household_id == hid, Photo.id.not_in(before))).one()
        data = photo_store().path(photo.sha256, "jpg").read_bytes()
        return photo, data

    photo, data = in_db(live_server, stored)
    assert (photo.kind, photo.visit_id, photo.encrypted) == ("house", visit_id, False)
    # at most 1600 px, and upright: the camera's 4000x3000 landscape pixels, turned, are portrait
    assert max(photo.width, photo.height) == 1600 and photo.height > photo.width, (photo.width, photo.height)
    assert photo.size_bytes == len(data) <= 300 * 1024, photo.size_bytes
    assert hashlib.sha256(data).hexdigest() == photo.sha256
    # GPS kept in the database (read in the browser before the resize dropped the EXIF)
    assert photo.gps_lat == pytest.approx(degrees(LAT), abs=1e-5)
    assert photo.gps_lng == pytest.approx(degrees(LNG), abs=1e-5)

    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert (img.width, img.height) == (photo.width, photo.height)
    assert not img.getexif(), "no EXIF on disk"
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(img.info), sorted(img.info)
    red = img.convert("RGB").getpixel((img.width - 40, 40))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60, f"the stored top-left block is not at the top right: {red}"
