"""The photo pipeline through the real upload route, on real files under a temporary PHOTO_DIR."""
from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db
from fieldapp.visits import pipeline, services
from fieldapp.visits.models import Photo
from fieldapp.visits.store import SEALED_MAGIC
from tests.conftest import HX, login

JPEG_MAGIC = b"\xff\xd8\xff"


# ---------------------------------------------------------------- test images, made here

def noisy_photo(width: int = 4000, height: int = 3000) -> Image.Image:
    """A camera-like picture: gradients under strong noise (hard to compress, like a real field photo)."""
    base = Image.linear_gradient("L").resize((width, height))
    red = Image.blend(base, Image.effect_noise((width, height), 64), 0.5)
    green = Image.effect_noise((width, height), 40)
    blue = Image.linear_gradient("L").rotate(90).resize((width, height))
    return Image.merge("RGB", (red, green, blue))


def phone_jpeg(width: int = 4000, height: int = 3000, orientation: int = 6, gps: bool = True) -> bytes:
    """A JPEG as a phone writes it: sensor-landscape pixels, EXIF Orientation, GPS and capture time."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestPhone"
    exif[0x8769] = {0x9003: "2024:05:01 10:30:00"}  # DateTimeOriginal, local (Beijing) time
    if gps:
        exif[0x8825] = {1: "N", 2: (26.0, 32.0, 10.5), 3: "E", 4: (99.0, 54.0, 30.0)}
    buf = io.BytesIO()
    noisy_photo(width, height).save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def small_jpeg(color=(120, 160, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buf, "JPEG")
    return buf.getvalue()


def bomb_png(side: int = 20000) -> bytes:
    """A valid 1-bit palette PNG declaring side x side pixels (400 MP): tens of KB on disk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 3, 0, 0, 0)
    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def upload(client, household, data: bytes, *, kind="house", key=None, filename="photo.jpg", headers=None, **extra):
    form = {"kind": kind, "idem_key": key or new_key(), "photo": (io.BytesIO(data), filename), **extra}
    return client.post(f"/households/{household.id}/photos", data=form, content_type="multipart/form-data",
                       headers=headers or {})


def stored_files(app) -> list[Path]:
    root = Path(app.config["PHOTO_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def photos() -> list[Photo]:
    return list(db.session.scalars(sa.select(Photo).order_by(Photo.id)))


@pytest.fixture
def officer(client, world):
    client.set_cookie("lang", "en")
    login(client, world.officer)
    return world.officer


# ---------------------------------------------------------------- the pipeline

def test_a_phone_photo_is_turned_upright_shrunk_stripped_and_keeps_its_gps_in_the_row(app, client, world, officer):
    original = phone_jpeg()
    assert Image.open(io.BytesIO(original)).size == (4000, 3000)
    resp = upload(client, world.h1, original, next=f"/households/{world.h1.id}")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    assert resp.headers["Location"] == f"/households/{world.h1.id}"
    [photo] = photos()
    # Orientation 6: the sensor's 4000x3000 is shown portrait, so the stored picture is 1200 x 1600
    assert (photo.width, photo.height) == (1200, 1600)
    assert photo.gps_lat == pytest.approx(26 + 32 / 60 + 10.5 / 3600, abs=1e-6)
    assert photo.gps_lng == pytest.approx(99 + 54 / 60 + 30 / 3600, abs=1e-6)
    assert photo.taken_at.isoformat() == "2024-05-01T02:30:00"  # 10:30 Beijing time, stored as UTC
    assert photo.mime == "image/jpeg" and not photo.encrypted and photo.uploaded_by == officer.id

    root = Path(app.config["PHOTO_DIR"])
    path = root / photo.sha256[:2] / photo.sha256[2:4] / f"{photo.sha256}.jpg"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == photo.sha256  # content-addressed by the stored bytes
    assert len(data) <= 300 * 1024 and photo.size_bytes == len(data)
    stored = Image.open(path)
    assert stored.format == "JPEG" and stored.size == (1200, 1600)
    assert dict(stored.getexif()) == {}
    assert not stored.getexif().get_ifd(0x8825)
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"Exif" not in data[:4096] and b"TestPhone" not in data

    thumb_path = root / photo.thumb_sha256[:2] / photo.thumb_sha256[2:4] / f"{photo.thumb_sha256}.jpg"
    thumb = Image.open(thumb_path)
    assert thumb.size == (240, 320) and dict(thumb.getexif()) == {}
    # nothing half-written is left behind
    assert [p.name for p in stored_files(app) if p.name.startswith(".tmp")] == []


def test_the_upload_as_fetch_or_htmx_answers_with_the_thumbnail_card(client, world, officer):
    resp = upload(client, world.h1, small_jpeg(), headers=HX)
    assert resp.status_code == 201
    body = resp.get_data(as_text=True)
    [photo] = photos()
    assert f'id="photo-{photo.id}"' in body and f"/photos/{photo.id}/thumb" in body and "<html" not in body
    assert (photo.width, photo.height) == (640, 480) and photo.gps_lat is None


def test_a_heic_photo_is_accepted_and_stored_as_jpeg(app, client, world, officer):
    buf = io.BytesIO()
    noisy_photo(480, 360).save(buf, format="HEIF", quality=60)
    heic = buf.getvalue()
    assert heic[4:12] == b"ftypheic"
    resp = upload(client, world.h1, heic, filename="IMG_0001.HEIC")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    [photo] = photos()
    data = services.photo_bytes(photo)
    assert data.startswith(JPEG_MAGIC) and Image.open(io.BytesIO(data)).size == (480, 360)


def test_a_text_file_named_jpg_is_refused_with_a_clear_message(app, client, world, officer):
    resp = upload(client, world.h1, "这不是照片\nnot a photo at all\n".encode() * 50, filename="house.jpg")
    assert resp.status_code == 422
    assert "This file is not a photo" in resp.get_data(as_text=True)
    assert photos() == [] and stored_files(app) == []
    # the same for the fetch/htmx upload: the form fragment with the message
    resp = upload(client, world.h1, b"GIF89a" + b"\x00" * 100, filename="x.jpg", headers=HX)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "This file is not a photo" in body and "<html" not in body and 'id="photo-form-house"' in body


def test_a_decompression_bomb_is_refused_before_decoding_and_nothing_is_written(app, client, world, officer):
    bomb = bomb_png()
    assert len(bomb) < 200_000
    resp = upload(client, world.h1, bomb, filename="bomb.png")
    assert resp.status_code == 422
    assert "too large (too many pixels)" in resp.get_data(as_text=True)
    assert photos() == [] and stored_files(app) == []


def test_an_oversize_upload_gets_the_413_page(app, client, world, officer):
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    resp = upload(client, world.h1, os.urandom(300_000))
    assert resp.status_code == 413
    assert "The upload is too large." in resp.get_data(as_text=True)
    assert photos() == []


def test_an_empty_or_missing_file_is_refused(client, world, officer):
    assert upload(client, world.h1, b"").status_code == 422
    resp = client.post(f"/households/{world.h1.id}/photos", data={"kind": "house", "idem_key": new_key()})
    assert resp.status_code == 422 and photos() == []


def test_the_same_photo_sent_twice_with_one_key_is_one_row_and_one_file(app, client, world, officer):
    key, data = new_key(), small_jpeg()
    first = upload(client, world.h1, data, key=key, headers=HX)
    again = upload(client, world.h1, data, key=key, headers=HX)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.data == first.data
    assert len(photos()) == 1
    assert len(stored_files(app)) == 2  # the photo and its thumbnail
    # the same picture under a new key is a new record, but still one file on disk
    assert upload(client, world.h1, data, headers=HX).status_code == 201
    assert len(photos()) == 2 and len(stored_files(app)) == 2


# ---------------------------------------------------------------- who sees what

def test_photos_are_served_privately_and_cached_by_content(client, world, officer):
    upload(client, world.h1, small_jpeg())
    [photo] = photos()
    resp = client.get(f"/photos/{photo.id}")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg" and resp.data.startswith(JPEG_MAGIC)
    assert resp.headers["Cache-Control"] == "private, max-age=86400"
    assert resp.headers["ETag"].strip('"') == photo.sha256
    again = client.get(f"/photos/{photo.id}", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    thumb = client.get(f"/photos/{photo.id}/thumb")
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.data)).size) == 320
    assert "private" in thumb.headers["Cache-Control"]


def test_photos_outside_my_area_are_404_and_village_roles_never_see_photos(app, client, world, officer):
    upload(client, world.h1, small_jpeg())
    [photo] = photos()
    for user, status in ((world.officer2, 404), (world.hq_b, 404), (world.secretary, 403), (world.panel, 403),
                         (world.manager, 200), (world.auditor, 200)):
        other = app.test_client()
        login(other, user)
        assert other.get(f"/photos/{photo.id}").status_code == status, user.username
        assert other.get(f"/photos/{photo.id}/thumb").status_code == status, user.username
    # and nobody may upload into a household outside their area
    assert upload(client, world.h4, small_jpeg()).status_code == 404
    assert client.get(f"/photos/{photo.id + 999}").status_code == 404


def test_an_id_document_photo_is_encrypted_at_rest_and_each_view_is_audited(app, client, world, officer):
    resp = upload(client, world.h1, phone_jpeg(1600, 1200, orientation=1, gps=False), kind="id_card", headers=HX)
    assert resp.status_code == 201
    [photo] = photos()
    assert photo.encrypted
    root = Path(app.config["PHOTO_DIR"])
    for sha in (photo.sha256, photo.thumb_sha256):
        blob = (root / sha[:2] / sha[2:4] / f"{sha}.bin").read_bytes()
        assert blob.startswith(SEALED_MAGIC) and not blob.startswith(JPEG_MAGIC) and JPEG_MAGIC not in blob[:64]
        assert hashlib.sha256(blob).hexdigest() == sha
    assert not list(root.rglob("*.jpg"))
    # the card offers a deliberate view, never a thumbnail
    assert "/thumb" not in resp.get_data(as_text=True)

    served = client.get(f"/photos/{photo.id}")
    assert served.status_code == 200 and served.data.startswith(JPEG_MAGIC)
    assert Image.open(io.BytesIO(served.data)).size == (photo.width, photo.height)
    assert served.headers["Cache-Control"] == "private, no-store" and "ETag" not in served.headers
    views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "view_sensitive",
                                                          AuditEvent.entity_type == "photos")).all()
    assert [(e.entity_id, e.actor_id) for e in views] == [(str(photo.id), officer.id)]

    # a branch manager may look (audited); head office and auditors may not; other areas do not exist
    for user, status in ((world.manager, 200), (world.hq, 403), (world.auditor, 403), (world.officer2, 404)):
        other = app.test_client()
        login(other, user)
        assert other.get(f"/photos/{photo.id}").status_code == status, user.username
    # never in a list
    listed = services.household_photos(world.h1)
    assert listed.photos == [] and listed.sensitive == []
    assert services.household_photos(world.h1, include_sensitive=True).sensitive == [photo]


def test_only_officers_and_managers_take_id_document_photos(app, client, world):
    login(client, world.hq)
    client.set_cookie("lang", "en")
    resp = upload(client, world.h1, small_jpeg(), kind="id_card")
    assert resp.status_code == 422 and photos() == [] and stored_files(app) == []


def test_an_unknown_kind_or_a_foreign_visit_is_not_stored(client, world, officer):
    assert upload(client, world.h1, small_jpeg(), kind="selfie").status_code == 422
    assert photos() == []
    # a visit id of another household is ignored, not linked
    resp = upload(client, world.h1, small_jpeg(), visit_id="999999")
    assert resp.status_code == 303
    [photo] = photos()
    assert photo.visit_id is None


def test_the_visit_page_offers_one_upload_form_per_kind_and_lists_the_visits_photos(app, client, world, officer):
    resp = client.post(f"/households/{world.h1.id}/visits/new",
                       data={"purpose": "first", "outcome": "done", "idem_key": new_key()})
    visit_path = resp.headers["Location"]
    visit_id = int(visit_path.rsplit("/", 1)[1])
    page = client.get(visit_path).get_data(as_text=True)
    for kind in ("house", "livestock", "land", "id_card", "group", "other"):
        form = re.search(rf'<form id="photo-form-{kind}"[^>]*>(.*?)</form>', page, re.S)
        assert form, kind
        assert 'enctype="multipart/form-data"' in form.group(0) and "data-offline" in form.group(0)
        body = form.group(1)
        assert f'name="visit_id" value="{visit_id}"' in body and f'name="next" value="{visit_path}"' in body
        assert re.search(rf'<input type="file"[^>]*name="photo" accept="image/\*" capture="environment"\s+'
                         rf'data-photo-upload="/households/{world.h1.id}/photos" data-photo-kind="{kind}"', body)
        assert re.search(r'name="idem_key" value="[0-9a-f]{32}"', body)
    assert 'id="photos-empty"' in page
    # a plain upload from that form comes back to the visit page, and the photo is listed there
    resp = upload(client, world.h1, small_jpeg(), kind="livestock", visit_id=str(visit_id), next=visit_path)
    assert resp.status_code == 303 and resp.headers["Location"] == visit_path
    [photo] = photos()
    assert photo.visit_id == visit_id and photo.kind == "livestock"
    page = client.get(visit_path).get_data(as_text=True)
    assert f'id="photo-{photo.id}"' in page and f"/photos/{photo.id}/thumb" in page
    # an ID document photo of the visit is not listed on the visit page
    upload(client, world.h1, small_jpeg((10, 10, 10)), kind="id_card", visit_id=str(visit_id))
    page = client.get(visit_path).get_data(as_text=True)
    assert page.count('class="photo-card"') == 1
    # head office sees the visit without the ID-document upload form
    hq = app.test_client()
    login(hq, world.hq)
    page = hq.get(visit_path).get_data(as_text=True)
    assert 'id="photo-form-house"' in page and 'id="photo-form-id_card"' not in page


def test_an_unsafe_next_is_ignored(client, world, officer):
    resp = upload(client, world.h1, small_jpeg(), next="//evil.example/x")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/households/{world.h1.id}"


# ---------------------------------------------------------------- hostile bytes straight into the pipeline

MAGICS = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"\x00\x00\x00\x18ftypheic"]


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from(MAGICS), body=st.binary(max_size=3000))
def test_the_pipeline_answers_junk_with_a_photo_error_only(prefix, body):
    try:
        pipeline.process(prefix + body)
    except pipeline.PhotoError as exc:
        assert exc.code in services.PHOTO_ERRORS


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=4000))
def test_a_truncated_photo_is_unreadable_not_a_crash(cut):
    buf = io.BytesIO()
    noisy_photo(160, 120).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    try:
        result = pipeline.process(data[:min(cut, len(data) - 1)])
    except pipeline.PhotoError as exc:
        assert exc.code in ("unreadable", "not_image", "empty")
    else:
        assert result.data.startswith(JPEG_MAGIC)  # Pillow may decode a cut inside trailing padding
