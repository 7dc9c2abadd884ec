"""Photos: 12 MP phone photos (JPEG and HEIC) through the real upload path, beside a plain Pillow re-encode.

* inputs: a deterministic noisy 4000x3000 image (a smooth colour field plus texture and grain from a seeded
  `random.Random`, so JPEG cannot squeeze it to nothing), tagged like a phone's shot (EXIF Orientation 6 = held
  upright, camera make/model, capture time), saved as JPEG quality 92 and as HEIC (pillow-heif, x265). Generated
  once and cached in ~/.cache/fieldapp-bench/ (the name carries the generator's version), since the HEIC encode
  takes seconds.
* pipeline rows: officer1 logs in over plain HTTP (the real login form); for every photo the household page is
  fetched for its house-photo form's csrf_token and a fresh idem_key, then the photo is POSTed as multipart to
  /households/<id>/photos with the headers photos.js sends (HX-Request, X-CSRFToken, Idempotency-Key). The time is
  the round trip on 127.0.0.1 (send 4-7 MB, the app's pipeline, storage, commit, the 201 photo card), one upload at
  a time, after one untimed warm-up upload. Stored and thumbnail bytes are the files the upload wrote (the Photo
  row's addresses, sized on disk).
* baseline rows: the same input decoded and re-encoded by plain Pillow in the bench process (full decode, no draft
  scaling, no sniffing, EXIF, colour or byte-budget steps): fit to 1600 px, JPEG quality 80 optimised progressive,
  plus the 320 px quality-75 thumbnail, as the pipeline's settings. Pinned to the server's CPU with
  sched_setaffinity while it runs (gunicorn is pinned there too), unpinned on a one-core machine.
* browser resize: Debian's Chromium (bench/pageweight.py's shared browser, officer1's login) opens the household
  page, the 12 MP JPEG is set on the house-photo input, photos.js resizes it and uploads it; the row compares the
  upload request's body with the file.
"""
from __future__ import annotations

import http.client
import io
import os
import random
import re
import statistics
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from . import Bench, Column, Row, echo, kb, ms, percentile, plain, producer
from . import times as ratio

SIZE = (4000, 3000)          # 12 MP, landscape sensor order as phones store it
SEED = 20240501
GENERATOR = 2                # bump when the generator changes: cached inputs carry it in their names
JPEG_QUALITY = 92            # what phone cameras write
HEIC_QUALITY = 40            # ~2 MB, as phones' HEIC at 12 MP
HEIC_ENCODER = {"preset": "ultrafast"}   # x265: a slower preset takes ~1 minute for a noisy 12 MP frame
ORIENTATION_PORTRAIT = 6     # EXIF: rotate 90° clockwise to view (the phone was held upright)
PHOTOS = {"quick": 2, "full": 20}
UPLOAD_KIND = "house"
FORM_ID = f"photo-form-{UPLOAD_KIND}"
INPUT_ID = f"photo-{UPLOAD_KIND}"
TYPES = {"jpeg": ("image/jpeg", "jpg"), "heic": ("image/heic", "heic")}


COLUMNS = [
    Column("photos", "n", plain),
    Column("p50_ms", "p50 ms", ms),
    Column("p95_ms", "p95 ms", ms),
    Column("input_bytes", "in KB", kb),
    Column("output_bytes", "out KB", kb),
    Column("thumb_bytes", "thumb KB", kb),
    Column("ratio", "ratio", ratio),
]


# ---------------------------------------------------------------- pure helpers

def noisy_image(size: tuple[int, int] = SIZE, seed: int = SEED):
    """A deterministic RGB image that compresses like a photo, not like a flat test card: a smooth colour field
    (a few hundred random colours, bicubic), texture (random 8x8 blocks, bilinear) and per-pixel grain."""
    from PIL import Image, ImageChops
    w, h = size
    rnd = random.Random(seed)
    cw, ch = max(2, w // 400 + 1), max(2, h // 400 + 1)
    field = Image.frombytes("RGB", (cw, ch), rnd.randbytes(3 * cw * ch)).resize(size, Image.Resampling.BICUBIC)
    tw, th = max(1, w // 8), max(1, h // 8)
    texture = Image.frombytes("L", (tw, th), rnd.randbytes(tw * th)).resize(size, Image.Resampling.BILINEAR)
    grain = Image.frombytes("L", size, rnd.randbytes(w * h))
    amplitude = 32   # ± grey levels around the field: JPEG quality 92 gives ~4-5 MB at 12 MP
    detail = Image.blend(texture, grain, 0.5).point(lambda v: (v - 128) * amplitude // 128 + 128)
    return ImageChops.add(field, Image.merge("RGB", (detail, detail, detail)), 1.0, -128)


def phone_exif(orientation: int = ORIENTATION_PORTRAIT, taken: str = "2024:05:01 10:15:00") -> bytes:
    """EXIF like a phone's: orientation, make and model, the capture time."""
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Bench"
    exif[0x0110] = "Phone 12MP"
    exif[0x0132] = taken
    return exif.tobytes()


class _FormFields(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            self.found = self.found or self.inside
        elif tag == "input" and self.inside and a.get("name") and a.get("type", "text") != "file":
            self.fields.setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, form_id: str) -> dict[str, str] | None:
    """The named inputs (file inputs left out) of the form with id `form_id`, or None if the page has no such form."""
    parser = _FormFields(form_id)
    parser.feed(html)
    parser.close()
    return parser.fields if parser.found else None


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, str, bytes]],
              boundary: str) -> tuple[bytes, str]:
    """A multipart/form-data body: (body, Content-Type). files: (field name, file name, content type, bytes)."""
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(str(value).encode() + b"\r\n")
    for name, filename, ctype, data in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {ctype}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


PHOTO_ID = re.compile(r'data-photo-id="(\d+)"')


# ---------------------------------------------------------------- plain HTTP with a cookie jar

class Client:
    """A logged-in visitor over plain HTTP to the bench server (127.0.0.1), keeping its cookies."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes, float]:
        """(status, headers, body, seconds from sending the request to the last byte of the answer)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.connect()
            hdrs = {"Accept": "text/html,*/*;q=0.8", "Accept-Language": "zh-CN,zh;q=0.9"}
            if self.cookies:
                hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            hdrs.update(headers or {})
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            seconds = time.perf_counter() - t0
            for raw in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, seconds
        finally:
            conn.close()

    def login(self, username: str, password: str) -> None:
        status, _h, body, _s = self.request("GET", "/login")
        fields = form_fields(body.decode("utf-8", "replace"), "login-form")
        if status != 200 or fields is None:
            raise RuntimeError(f"GET /login: HTTP {status}, no login form")
        fields.update(login=username, password=password)
        status, headers, _b, _s = self.request("POST", "/login", urlencode(fields).encode(),
                                               {"Content-Type": "application/x-www-form-urlencoded"})
        if status not in (302, 303) or urlsplit(headers.get("location", "")).path == "/login":
            raise RuntimeError(f"logging in as {username} failed (HTTP {status})")


# ---------------------------------------------------------------- inputs

def inputs(bench: Bench) -> dict[str, Path]:
    """The 12 MP JPEG and HEIC, generated once and cached in the user's cache folder (the instance is per run)."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fieldapp-bench"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"noisy-{SIZE[0]}x{SIZE[1]}-s{SEED}-g{GENERATOR}"
    paths = {kind: folder / f"{stem}.{ext}" for kind, (_ct, ext) in TYPES.items()}
    if all(p.is_file() for p in paths.values()):
        return paths
    import pillow_heif
    t0 = time.monotonic()
    img = noisy_image()
    exif = phone_exif()
    todo = {"jpeg": dict(format="JPEG", quality=JPEG_QUALITY, exif=exif),
            "heic": dict(format="HEIF", quality=HEIC_QUALITY, exif=exif, enc_params=HEIC_ENCODER)}
    pillow_heif.register_heif_opener()
    for kind, path in paths.items():
        if not path.is_file():
            tmp = path.with_suffix(path.suffix + ".tmp")
            img.save(tmp, **todo[kind])
            os.replace(tmp, path)
    echo(f"  generated the 12 MP inputs in {time.monotonic() - t0:.1f} s")
    return paths


# ---------------------------------------------------------------- ids and files

def officer_household(bench: Bench, client: "Client") -> int | None:
    """A household of the officer's grids that is not the one the page-weight rows open (the first the officer
    sees): 40-odd identical test photos would otherwise weigh down that household page's row."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.households.models import Household
    from .pageweight import _officer_villages
    with bench.app.app_context():
        try:
            villages = _officer_villages(bench)
            ids = db.session.scalars(sa.select(Household.id).where(Household.village_id.in_(villages))
                                     .order_by(Household.id).limit(20)).all() if villages else []
        finally:
            db.session.remove()
    visible = [hid for hid in ids if client.request("GET", f"/households/{hid}")[0] == 200]
    return visible[1] if len(visible) > 1 else (visible[0] if visible else None)


def stored_files(bench: Bench, photo_id: int) -> dict:
    """What an upload created: the Photo row and the sizes of its two files on disk."""
    from fieldapp.extensions import db
    from fieldapp.visits.models import Photo
    from fieldapp.visits.store import PhotoStore
    root = Path(bench.server.env.get("PHOTO_DIR") or bench.server.instance / "photos")
    with bench.app.app_context():
        try:
            photo = db.session.get(Photo, photo_id)
            if photo is None:
                return {}
            ext = "bin" if photo.encrypted else "jpg"
            store = PhotoStore(root)

            def size(sha):
                try:
                    return store.path(sha, ext).stat().st_size if sha else None
                except (OSError, ValueError):
                    return None
            return {"stored_bytes": size(photo.sha256), "thumb_bytes": size(photo.thumb_sha256),
                    "size_bytes": photo.size_bytes, "width": photo.width, "height": photo.height}
        finally:
            db.session.remove()


# ---------------------------------------------------------------- measuring

def upload(client: Client, household_id: int, data: bytes, kind: str) -> dict:
    """One photo through the real form: fresh tokens from the household page, then the multipart POST."""
    page = f"/households/{household_id}"
    status, _h, body, _s = client.request("GET", page)
    fields = form_fields(body.decode("utf-8", "replace"), FORM_ID) if status == 200 else None
    if not fields or not fields.get("csrf_token") or not fields.get("idem_key"):
        raise RuntimeError(f"GET {page}: HTTP {status}, no #{FORM_ID} with csrf_token and idem_key")
    ctype, ext = TYPES[kind]
    boundary = f"----benchphotos{fields['idem_key']}"
    payload, content_type = multipart(list(fields.items()), [("photo", f"IMG_0001.{ext}", ctype, data)], boundary)
    status, _h, answer, seconds = client.request(
        "POST", f"{page}/photos", payload,
        {"Content-Type": content_type, "HX-Request": "true", "HX-Current-URL": page,
         "X-CSRFToken": fields["csrf_token"], "Idempotency-Key": fields["idem_key"]})
    found = PHOTO_ID.search(answer.decode("utf-8", "replace"))
    return {"status": status, "seconds": seconds, "photo_id": int(found.group(1)) if found else None,
            "request_bytes": len(payload)}


@contextmanager
def pinned_like_server(bench: Bench):
    """Run the block on the server's CPUs (this thread only), then restore; unpinned when the server is not."""
    cpus = bench.server.server_cpus
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    try:
        yield cpus
    finally:
        os.sched_setaffinity(0, before)


def plain_reencode(data: bytes) -> tuple[int, int]:
    """The baseline: decode with Pillow, fit to the pipeline's 1600 px, JPEG q80 (optimised, progressive), and the
    320 px q75 thumbnail. Returns (photo bytes, thumbnail bytes)."""
    from PIL import Image
    from fieldapp.visits import pipeline
    img = Image.open(io.BytesIO(data))
    img = img.convert("RGB")
    img.thumbnail((pipeline.MAX_SIDE, pipeline.MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=pipeline.QUALITY, optimize=True, progressive=True, subsampling="4:2:0")
    img.thumbnail((pipeline.THUMB_SIDE, pipeline.THUMB_SIDE), Image.Resampling.LANCZOS)
    thumb = io.BytesIO()
    img.save(thumb, format="JPEG", quality=pipeline.THUMB_QUALITY, optimize=True, progressive=True,
             subsampling="4:2:0")
    return len(out.getvalue()), len(thumb.getvalue())


def baseline(bench: Bench, data: bytes, count: int) -> dict:
    times, sizes = [], (None, None)
    with pinned_like_server(bench) as cpus:
        for _ in range(count):
            t0 = time.perf_counter()
            sizes = plain_reencode(data)
            times.append(time.perf_counter() - t0)
    return {"times_ms": [round(t * 1000, 1) for t in times], "output_bytes": sizes[0], "thumb_bytes": sizes[1],
            "pinned": cpus}


def browser_resize(bench: Bench, household_id: int, username: str, path: Path) -> Row:
    """photos.js in Chromium: the upload request's body beside the chosen file."""
    from .pageweight import login_state, new_context
    label = "browser resize (photos.js)"
    before = path.stat().st_size
    state = login_state(bench, username)
    ctx = new_context(bench, state)
    try:
        page = ctx.new_page()
        page.goto(f"/households/{household_id}")
        if page.locator(f"#{INPUT_ID}[data-photo-upload]").count() == 0:
            return Row(label, {"input_bytes": before}, note=f"no #{INPUT_ID} upload input on the household page")
        upload_path = f"/households/{household_id}/photos"
        t0 = time.perf_counter()
        with page.expect_request(lambda r: r.method == "POST" and urlsplit(r.url).path == upload_path,
                                 timeout=60_000) as info:
            page.set_input_files(f"#{INPUT_ID}", str(path))
        request = info.value
        chosen_to_sent = time.perf_counter() - t0
        response = request.response()
        sent, buf = None, None
        try:
            buf = request.post_data_buffer
            sent = len(buf) if buf else None
        except Exception:  # noqa: BLE001 - a body Playwright cannot show: fall back to Content-Length
            sent = None
        how = "request body"
        if sent is None:
            length = request.all_headers().get("content-length")
            sent, how = (int(length), "Content-Length") if length else (None, "")
        resized = None
        if buf:
            resized = b'filename="photo.jpg"' in buf
    finally:
        ctx.close()
    values = {"input_bytes": before, "output_bytes": sent, "ratio": (sent / before) if sent else None,
              "chosen_to_sent_ms": round(chosen_to_sent * 1000, 1), "status": response.status if response else None,
              "measured_from": how}
    if sent is None:
        return Row(label, values, note="the upload request's body could not be read")
    if resized is False or sent >= before:
        verdict = "photos.js did NOT resize (the original file was sent)"
    else:
        verdict = "photos.js resized to ≤1600 px JPEG 0.8 before upload"
    note = (f"{verdict}; multipart body ({how}) vs the 12 MP JPEG file; chosen→sent "
            f"{chosen_to_sent * 1000:.0f} ms; HTTP {values['status']}")
    return Row(label, values, note=note)


@producer("photos", "Photos: 12 MP JPEG and HEIC through the upload pipeline, beside a plain Pillow re-encode",
          COLUMNS, quick=True)
def photos(bench: Bench):
    import PIL
    import pillow_heif
    from fieldapp.visits import pipeline
    bench.facts["pillow"] = PIL.__version__
    bench.facts["pillow_heif"] = pillow_heif.__version__
    bench.facts["libheif"] = pillow_heif.libheif_version()
    count = PHOTOS[bench.kind]
    username = bench.server.logins.get("grid_officer")
    if username is None:
        yield Row("photos", note="no grid officer login in this database")
        return
    client = Client(bench.server.host, bench.server.port)
    client.login(username, bench.server.password)
    household_id = officer_household(bench, client)
    if household_id is None:
        yield Row("photos", note=f"no household in {username}'s grids")
        return
    t0 = time.monotonic()
    paths = inputs(bench)
    phases = {"inputs_s": round(time.monotonic() - t0, 1)}
    warm = upload(client, household_id, paths["jpeg"].read_bytes(), "jpeg")   # untimed: warms a worker
    if warm["status"] != 201:
        raise RuntimeError(f"the warm-up upload answered HTTP {warm['status']}")

    for kind in ("jpeg", "heic"):
        label = f"{kind.upper()} 12 MP"
        data = paths[kind].read_bytes()
        if bench.time_left() <= 0:
            yield Row(f"{label} upload", note="not measured: the run's time budget ran out")
            continue
        echo(f"  {count} x {label} uploads")
        t0 = time.monotonic()
        times, statuses, created = [], [], {}
        for _ in range(count):
            got = upload(client, household_id, data, kind)
            statuses.append(got["status"])
            if got["status"] == 201:
                times.append(got["seconds"])
                if not created and got["photo_id"]:
                    created = stored_files(bench, got["photo_id"])
        phases[f"{kind}_uploads_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        base = baseline(bench, data, count)
        phases[f"{kind}_baseline_s"] = round(time.monotonic() - t0, 1)
        base_p50 = percentile(base["times_ms"], 50)
        p50 = percentile([t * 1000 for t in times], 50)
        failed = [s for s in statuses if s != 201]
        yield Row(f"{label} → upload pipeline", {
            "photos": len(times), "p50_ms": p50, "p95_ms": percentile([t * 1000 for t in times], 95),
            "input_bytes": len(data), "output_bytes": created.get("stored_bytes"),
            "thumb_bytes": created.get("thumb_bytes"), "ratio": (p50 / base_p50) if p50 and base_p50 else None,
            "times_ms": [round(t * 1000, 1) for t in times], "statuses": statuses,
            "stored_size": [created.get("width"), created.get("height")], "household_id": household_id,
            "phases": dict(phases),
        }, target=f"out≤{pipeline.MAX_BYTES // 1024}",
            note="round trip on 127.0.0.1 (multipart POST as photos.js sends it, one at a time); ratio = p50 / the "
                 "plain re-encode's p50" + (f"; {len(failed)} not 201: {sorted(set(failed))}" if failed else ""))
        yield Row(f"{label}: plain Pillow re-encode (baseline)", {
            "photos": count, "p50_ms": base_p50, "p95_ms": percentile(base["times_ms"], 95),
            "input_bytes": len(data), "output_bytes": base["output_bytes"], "thumb_bytes": base["thumb_bytes"],
            "times_ms": base["times_ms"], "pinned_cpus": base["pinned"],
        }, note="in the bench process, " + (f"pinned to the server's CPU {base['pinned']}" if base["pinned"]
                                           else "not pinned") + "; full decode, fit 1600 px q80 + 320 px q75")

    if bench.time_left() <= 0:
        yield Row("browser resize (photos.js)", note="not measured: the run's time budget ran out")
        return
    echo("  browser resize (Chromium)")
    t0 = time.monotonic()
    row = browser_resize(bench, household_id, username, paths["jpeg"])
    row.values["seconds"] = round(time.monotonic() - t0, 1)
    echo(f"  phases: {phases}, browser {row.values['seconds']} s")
    yield row
