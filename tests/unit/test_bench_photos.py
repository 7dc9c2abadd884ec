"""bench/photos.py's pure helpers: percentile, the noisy image, phone EXIF, form scraping, multipart bodies.
No server, no timing."""
from __future__ import annotations

import io
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from PIL import Image

from bench.photos import SIZE, form_fields, ms, multipart, noisy_image, percentile, phone_exif, ratio


@pytest.mark.parametrize("values, p, expected", [
    ([], 50, None),
    ([7], 50, 7),
    ([7], 95, 7),
    ([3, 1, 2], 50, 2),
    ([1, 2, 3, 4], 50, 2.5),
    ([10, 20, 30], 95, 29.0),
    ([10, 20, 30], 0, 10),
    ([10, 20, 30], 100, 30),
    (list(range(1, 21)), 95, 19.05),
])
def test_percentile(values, p, expected):
    got = percentile(values, p)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize("p", [-1, 101])
def test_percentile_refuses_out_of_range(p):
    with pytest.raises(ValueError):
        percentile([1, 2], p)


@pytest.mark.parametrize("value, text", [(None, ""), (0, "0.0"), (1343.84, "1343.8")])
def test_ms(value, text):
    assert ms(value) == text


@pytest.mark.parametrize("value, text", [(None, ""), (0.5312, "x0.53"), (1.125, "x1.12"), (2, "x2.00")])
def test_ratio(value, text):
    assert ratio(value) == text


def test_the_inputs_are_12_megapixels():
    assert SIZE[0] * SIZE[1] == 12_000_000


@pytest.mark.parametrize("size", [(80, 60), (400, 300), (3, 2)])
def test_noisy_image_has_the_size_asked_and_is_deterministic(size):
    a, b = noisy_image(size, seed=1), noisy_image(size, seed=1)
    assert a.size == size and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()
    assert noisy_image(size, seed=2).tobytes() != a.tobytes()


def test_noisy_image_does_not_compress_to_nothing():
    img = noisy_image((400, 300))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    # a flat or gradient card would be a few KB; grain keeps a phone-like ~3 bits per pixel
    assert len(out.getvalue()) > 400 * 300 * 2 / 8


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_phone_exif_round_trips_through_a_jpeg(orientation):
    out = io.BytesIO()
    Image.new("RGB", (8, 6)).save(out, "JPEG", exif=phone_exif(orientation, "2024:05:01 10:15:00"))
    exif = Image.open(io.BytesIO(out.getvalue())).getexif()
    assert exif[0x0112] == orientation
    assert exif[0x0132] == "2024:05:01 10:15:00"


PAGE = """<html><body>
<form id="login-form" method="post"><input type="hidden" name="csrf_token" value="LOGIN"></form>
<form id="photo-form-house" method="post" enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="abc.def">
  <input type="hidden" name="idem_key" value="k1">
  <input type="hidden" name="kind" value="house">
  <input type="hidden" name="visit_id" value="">
  <input type="file" name="photo">
  <button type="submit">Upload</button>
</form>
<form id="photo-form-land"><input type="hidden" name="idem_key" value="k2"></form>
</body></html>"""


@pytest.mark.parametrize("form_id, expected", [
    ("photo-form-house", {"csrf_token": "abc.def", "idem_key": "k1", "kind": "house", "visit_id": ""}),
    ("photo-form-land", {"idem_key": "k2"}),
    ("login-form", {"csrf_token": "LOGIN"}),
    ("photo-form-other", None),
])
def test_form_fields(form_id, expected):
    assert form_fields(PAGE, form_id) == expected


def test_form_fields_unescapes_values():
    html = '<form id="f"><input name="next" value="/a?b=1&amp;c=2"></form>'
    assert form_fields(html, "f") == {"next": "/a?b=1&c=2"}


@pytest.mark.parametrize("fields, files", [
    ([("csrf_token", "t"), ("idem_key", "k")], [("photo", "IMG_0001.jpg", "image/jpeg", b"\xff\xd8\xff\x00\r\n--x")]),
    ([], [("photo", "a.heic", "image/heic", b"")]),
    ([("kind", "house")], []),
])
def test_multipart_parses_back(fields, files):
    body, content_type = multipart(fields, files, "BOUNDARY123")
    assert content_type == "multipart/form-data; boundary=BOUNDARY123"
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = list(msg.iter_parts())
    got = [(p.get_param("name", header="content-disposition"), p.get_payload(decode=True)) for p in parts[:len(fields)]]
    assert got == [(name, value.encode()) for name, value in fields]
    assert len(parts) == len(fields) + len(files)
    for part, (name, filename, ctype, data) in zip(parts[len(fields):], files):
        assert part.get_param("name", header="content-disposition") == name
        assert part.get_filename() == filename
        assert part.get_content_type() == ctype
        assert part.get_payload(decode=True) == data
