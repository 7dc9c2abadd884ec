"""Photo pipeline: check what an upload really is, then re-encode it as a clean, small JPEG and a thumbnail.

Steps: sniff the type from the bytes (JPEG, PNG, WebP, HEIC; the file name and the browser's type are ignored),
refuse images with too many pixels before decoding them (decompression bombs), read GPS and the capture time from
EXIF, apply the EXIF orientation, convert to sRGB, scale the longest side down to 1600 px, and encode a fresh JPEG
(quality 80, optimised, progressive) that carries no metadata at all, staying under a byte budget; then a 320 px
thumbnail. No Flask, no database: callers map PhotoError codes to messages.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

try:  # HEIC from iPhones and many Android cameras
    import pillow_heif
    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF = False

MAX_PIXELS = 50_000_000  # 50 MP: above any phone camera's output, far below a decompression bomb
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns above this and refuses above twice this
MAX_SIDE = 1600
THUMB_SIDE = 320
QUALITY = 80
THUMB_QUALITY = 75
MAX_BYTES = 300 * 1024  # byte budget for a stored photo: quality steps down (then size) until it fits
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # cameras write local time without a zone; the villages live on Beijing time

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}

# EXIF tags
ORIENTATION, DATETIME, EXIF_IFD, GPS_IFD = 0x0112, 0x0132, 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


class PhotoError(Exception):
    """An upload the pipeline refuses. `code`: empty | not_image | too_many_pixels | unreadable."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ProcessedPhoto:
    data: bytes            # the JPEG to store: no EXIF, no ICC, no comments
    width: int
    height: int
    thumb: bytes
    thumb_width: int
    thumb_height: int
    gps_lat: float | None
    gps_lng: float | None
    taken_at: datetime | None  # naive UTC
    source_format: str


def sniff(head: bytes) -> str | None:
    """The real type of an upload from its first bytes: jpeg | png | webp | heif, or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if HEIF and head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif"
    return None


def _ratio(value) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # a raw (numerator, denominator) pair
        num, den = value
        return float(num) / float(den)
    return float(value)


def _dms(value, ref) -> float | None:
    try:
        deg, minutes, seconds = (_ratio(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = deg + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref or "").strip().upper()[:1] in ("S", "W"):
        result = -result
    return result


def read_gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    """(lat, lng) in WGS-84 degrees from the EXIF GPS IFD, or (None, None)."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001 - malformed EXIF must not fail the upload
        return None, None
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat, lng = _dms(gps.get(2), gps.get(1)), _dms(gps.get(4), gps.get(3))
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None, None
    return round(lat, 7), round(lng, 7)


def read_taken_at(exif: Image.Exif) -> datetime | None:
    """When the photo was taken (naive UTC), from DateTimeOriginal (or DateTime) and its offset if written."""
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:  # noqa: BLE001
        sub = {}
    raw = sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not raw:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    try:
        moment = datetime.strptime(str(raw).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1990 <= moment.year <= 2100:
        return None
    tz = LOCAL_TZ
    offset = sub.get(OFFSET_TIME_ORIGINAL)
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "ignore")
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        text = offset.strip("\x00 ")
        try:
            sign = -1 if text[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        except ValueError:
            tz = LOCAL_TZ
    return moment.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def _to_srgb(img: Image.Image) -> Image.Image:
    """RGB in sRGB: transparency flattened onto white, an embedded colour profile converted then dropped."""
    icc = img.info.get("icc_profile")
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        img = background
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if icc:
        try:
            img = ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                            ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are
    return img


def _encode(img: Image.Image, quality: int) -> bytes:
    clean = Image.new("RGB", img.size)
    clean.paste(img)  # a fresh image: nothing from the source's info (EXIF, ICC, XMP, comments) can ride along
    buf = io.BytesIO()
    clean.save(buf, format="JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0")
    return buf.getvalue()


def _fit(img: Image.Image, side: int) -> Image.Image:
    if max(img.size) <= side:
        return img
    out = img.copy()
    out.thumbnail((side, side), Image.Resampling.LANCZOS)
    return out


def _encode_within(img: Image.Image, max_bytes: int) -> tuple[bytes, Image.Image]:
    """JPEG at QUALITY, stepping quality (then size) down until it fits the byte budget."""
    current = img
    while True:
        for quality in (QUALITY, 72, 64, 56):
            data = _encode(current, quality)
            if len(data) <= max_bytes:
                return data, current
        if max(current.size) <= 400:
            return data, current  # pathological noise: keep the smallest attempt
        w, h = current.size
        current = current.resize((max(1, int(w * 0.85)), max(1, int(h * 0.85))), Image.Resampling.LANCZOS)


def process(data: bytes, *, max_side: int = MAX_SIDE, thumb_side: int = THUMB_SIDE,
            max_bytes: int = MAX_BYTES) -> ProcessedPhoto:
    """Check and re-encode one uploaded photo; raises PhotoError."""
    if not data:
        raise PhotoError("empty")
    kind = sniff(data[:32])
    if kind is None:
        raise PhotoError("not_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]])
            if img.width * img.height > MAX_PIXELS or img.width < 1 or img.height < 1:
                raise PhotoError("too_many_pixels")
            exif = img.getexif()
            gps_lat, gps_lng = read_gps(exif)
            taken_at = read_taken_at(exif)
            if kind == "jpeg":
                # Let the JPEG decoder scale down by 2/4/8 while keeping the long side >= max_side: much faster.
                scale = max_side / max(img.size)
                if scale < 1:
                    img.draft("RGB", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
            img = ImageOps.exif_transpose(img)  # loads the pixels, turned the way the camera was held
            img = _to_srgb(img)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise PhotoError("unreadable") from exc
    except Exception as exc:  # noqa: BLE001 - a hostile file may trip any decoder error; never a 500
        raise PhotoError("unreadable") from exc
    img = _fit(img, max_side)
    stored, img = _encode_within(img, max_bytes)
    thumb_img = _fit(img, thumb_side)
    thumb = _encode(thumb_img, THUMB_QUALITY)
    return ProcessedPhoto(data=stored, width=img.width, height=img.height, thumb=thumb,
                          thumb_width=thumb_img.width, thumb_height=thumb_img.height,
                          gps_lat=gps_lat, gps_lng=gps_lng, taken_at=taken_at, source_format=kind)
