"""Roster import (花名册导入): read an .xlsx or CSV roster, check every row, and say row by row what would happen.

No Flask and no database here: the view hands in the villages the importer may write to, a function that hashes
ID numbers and a function that finds already registered members; this module returns one RowResult per data row.

Layout of a roster (one row per person; the template sets the ID and mobile columns to text):
    村 | 组 | 户号 (optional) | 户主姓名 | 成员姓名 | 与户主关系 | 身份证号 | 手机号 | 民族 | 文化程度 | 劳动能力
Rows are grouped into households by (village, 户号) when 户号 is given, else by (village, group, 户主姓名). Each
household needs exactly one row whose relation is 户主. A household already in the database is recognised by
(village, head's ID number), a member by their ID number, so importing the same file twice changes nothing.

CSV files may be UTF-8 (with or without BOM) or GBK (what Excel writes on a Chinese Windows). An ID number stored as a
number (an Excel numeric cell, or "1.10105E+17" in a CSV) has lost its last digits: it is refused with a message that
says how to fix the sheet, never guessed at.

Errors carry a stable code; MESSAGES_ZH / MESSAGES_EN give the texts (with {placeholders} for the row's details),
as core.idnumber does for its own codes (which the row results reuse: "id:<code>", "mobile:<code>").
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime
from pathlib import Path

from ..core.idnumber import (MESSAGES_ZH as ID_MESSAGES_ZH, MOBILE_MESSAGES_ZH, IdInfo, IdNumberError, MobileError,
                             normalise_mobile, parse_id_number)

# ---------------------------------------------------------------- the sheet's columns

@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the template's header (Chinese: it is the file format, not UI text)
    required: bool
    aliases: tuple[str, ...] = ()
    width: int = 12
    text: bool = False  # formatted as text ("@") in the template


COLUMNS: tuple[Column, ...] = (
    Column("village", "村", True, ("村名", "村庄", "行政村", "嘎查", "村/嘎查", "村(嘎查)", "village"), 12),
    Column("group", "组", False, ("村民小组", "小组", "组别", "group"), 8),
    Column("household_no", "户号", False, ("户编号", "household no", "household_no"), 8, text=True),
    Column("head_name", "户主姓名", True, ("户主", "head", "head name", "head_name"), 12),
    Column("name", "成员姓名", True, ("姓名", "name", "member name", "member"), 12),
    Column("relation", "与户主关系", True, ("关系", "与户主关系(户主填户主)", "relation"), 12),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码", "身份证", "id number", "id_number"), 22, text=True),
    Column("mobile", "手机号", False, ("手机号码", "手机", "联系电话", "电话", "mobile", "phone"), 14, text=True),
    Column("ethnicity", "民族", False, ("ethnicity",), 8),
    Column("education", "文化程度", False, ("学历", "education"), 10),
    Column("labour", "劳动能力", False, ("劳动力", "labour", "labour capacity"), 10),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
REQUIRED_KEYS = tuple(c.key for c in COLUMNS if c.required)

MAX_BYTES = 5 * 1024 * 1024          # an upload larger than this is refused before parsing
MAX_UNZIPPED_BYTES = 60 * 1024 * 1024  # an .xlsx that inflates beyond this is refused (zip bomb)
MAX_ROWS = 5000                        # data rows per file
MAX_CELL = 200                         # characters kept per cell (longer is an error where it matters)
NAME_MAX = 50

# Relation to the head (与户主关系), education and labour capacity: Chinese spellings -> the codes households.forms
# offers (RELATIONS, EDUCATION, LABOUR).
RELATION_ALIASES: dict[str, str] = {
    "户主": "head", "本人": "head", "户主本人": "head", "head": "head",
    "配偶": "spouse", "妻": "spouse", "妻子": "spouse", "夫": "spouse", "丈夫": "spouse", "爱人": "spouse",
    "spouse": "spouse",
    "子": "child", "女": "child", "儿子": "child", "女儿": "child", "长子": "child", "次子": "child",
    "长女": "child", "次女": "child", "三子": "child", "三女": "child", "子女": "child", "养子": "child",
    "养女": "child", "继子": "child", "继女": "child", "child": "child",
    "儿媳": "child_in_law", "女婿": "child_in_law", "儿媳/女婿": "child_in_law", "媳": "child_in_law",
    "孙子": "grandchild", "孙女": "grandchild", "外孙子": "grandchild", "外孙女": "grandchild",
    "孙子女": "grandchild", "外孙": "grandchild", "grandchild": "grandchild",
    "父亲": "parent", "母亲": "parent", "父": "parent", "母": "parent", "父母": "parent", "parent": "parent",
    "公公": "parent_in_law", "婆婆": "parent_in_law", "岳父": "parent_in_law", "岳母": "parent_in_law",
    "公婆": "parent_in_law", "岳父母": "parent_in_law", "parent_in_law": "parent_in_law",
    "祖父": "grandparent", "祖母": "grandparent", "爷爷": "grandparent", "奶奶": "grandparent",
    "外祖父": "grandparent", "外祖母": "grandparent", "祖父母": "grandparent", "grandparent": "grandparent",
    "兄": "sibling", "弟": "sibling", "姐": "sibling", "妹": "sibling", "哥哥": "sibling", "弟弟": "sibling",
    "姐姐": "sibling", "妹妹": "sibling", "兄弟姐妹": "sibling", "sibling": "sibling",
    "其他": "other", "其它": "other", "other": "other",
}
EDUCATION_ALIASES: dict[str, str] = {
    "文盲": "none", "文盲或半文盲": "none", "半文盲": "none", "无": "none", "未上学": "none",
    "小学": "primary", "初中": "junior", "高中": "senior", "中专": "vocational", "职高": "vocational",
    "技校": "vocational", "中专/职高": "vocational", "大专": "college", "专科": "college",
    "本科": "bachelor", "大学": "bachelor", "大学本科": "bachelor", "本科及以上": "bachelor", "研究生": "bachelor",
    "硕士": "bachelor", "博士": "bachelor", "学龄前": "none", "学龄前儿童": "none",
}
LABOUR_ALIASES: dict[str, str] = {
    "有": "full", "有劳动能力": "full", "普通劳动力": "full", "技能劳动力": "full", "强": "full", "全": "full",
    "全劳力": "full", "full": "full",
    "部分": "partial", "部分劳动能力": "partial", "弱劳动力": "partial", "半劳力": "partial",
    "弱劳动力或半劳动力": "partial", "partial": "partial",
    "无": "none", "无劳动能力": "none", "丧失劳动能力": "none", "丧失劳动力": "none", "none": "none",
}
CN_NUMERALS = "一二三四五六七八九十"

# ---------------------------------------------------------------- messages

MESSAGES_ZH: dict[str, str] = {
    # whole file
    "file_empty": "文件是空的，或没有数据行",
    "file_too_large": "文件太大（最大 5 MB），请分成几个文件导入",
    "file_too_many_rows": "数据行太多（最多 {max} 行），请分成几个文件导入",
    "file_unreadable": "无法读取文件：请上传用模板填写的 .xlsx 文件，或 CSV 文件",
    "file_xls": "这是旧版 .xls 文件：请在 Excel 里另存为 .xlsx 后再上传",
    "file_encoding": "无法识别 CSV 文件的编码：请存为 UTF-8 或 GBK 编码的 CSV",
    "file_missing_columns": "表头缺少这些列：{columns}。请使用导入模板",
    # one row
    "village_required": "请填写村",
    "village_unknown": "没有找到“{value}”这个村",
    "village_ambiguous": "有多个村叫“{value}”，请填写12位村代码",
    "group_unknown": "“{village}”没有“{value}”这个组",
    "group_required": "请填写组：您只负责该村的部分组",
    "out_of_area": "“{place}”不在您负责的范围内",
    "head_name_required": "请填写户主姓名",
    "name_required": "请填写成员姓名",
    "name_too_long": "姓名太长（最多 50 个字）",
    "name_invalid": "姓名里不能有数字或符号",
    "relation_required": "请填写与户主关系",
    "relation_unknown": "无法识别与户主关系“{value}”（例如：户主、配偶、子女、父母）",
    "id_number_stored": "身份证号被存成了数字，请把该列设为文本后重新填写",
    "mobile_number_stored": "手机号被存成了带小数的数字，请把该列设为文本后重新填写",
    "education_unknown": "无法识别文化程度“{value}”",
    "labour_unknown": "无法识别劳动能力“{value}”（有劳动能力 / 部分 / 无）",
    "ethnicity_too_long": "民族填写太长",
    "household_no_too_long": "户号太长（最多 20 个字符）",
    "duplicate_in_file": "身份证号与第 {row} 行重复",
    "registered_elsewhere": "该身份证号已登记在{village}的另一户（户主 {head}）",
    "no_head_row": "这一户没有“户主”行",
    "second_head": "这一户已有户主（第 {row} 行）",
    "head_row_invalid": "这一户的户主行（第 {row} 行）有错误，请先改正",
    "head_name_mismatch": "户主行的成员姓名应与户主姓名一致",
    "group_mismatch": "组与户主行（第 {row} 行）不一致",
}
MESSAGES_EN: dict[str, str] = {
    "file_empty": "The file is empty or has no data rows.",
    "file_too_large": "The file is too large (at most 5 MB). Split it into several files.",
    "file_too_many_rows": "Too many data rows (at most {max}). Split the file.",
    "file_unreadable": "The file cannot be read: upload an .xlsx filled in from the template, or a CSV file.",
    "file_xls": "This is an old .xls file: save it as .xlsx in Excel and upload again.",
    "file_encoding": "The CSV file's encoding is not recognised: save it as UTF-8 or GBK CSV.",
    "file_missing_columns": "The header lacks these columns: {columns}. Use the import template.",
    "village_required": "Enter the village.",
    "village_unknown": "There is no village called “{value}”.",
    "village_ambiguous": "Several villages are called “{value}”: enter the 12-digit village code.",
    "group_unknown": "“{village}” has no group “{value}”.",
    "group_required": "Enter the group: you cover only some groups of this village.",
    "out_of_area": "“{place}” is not in your area.",
    "head_name_required": "Enter the head of household's name.",
    "name_required": "Enter the member's name.",
    "name_too_long": "The name is too long (at most 50 characters).",
    "name_invalid": "A name cannot contain digits or symbols.",
    "relation_required": "Enter the relation to the head.",
    "relation_unknown": "Relation “{value}” is not recognised (e.g. 户主, 配偶, 子女, 父母).",
    "id_number_stored": "The ID number was stored as a number: format the column as text and enter it again.",
    "mobile_number_stored": "The mobile was stored as a decimal number: format the column as text and enter it again.",
    "education_unknown": "Education “{value}” is not recognised.",
    "labour_unknown": "Labour capacity “{value}” is not recognised (有劳动能力 / 部分 / 无).",
    "ethnicity_too_long": "The ethnicity is too long.",
    "household_no_too_long": "The household number is too long (at most 20 characters).",
    "duplicate_in_file": "Same ID number as row {row}.",
    "registered_elsewhere": "This ID number is already registered in another household in {village} (head {head}).",
    "no_head_row": "This household has no row for its head (relation 户主).",
    "second_head": "This household already has a head (row {row}).",
    "head_row_invalid": "The head's row of this household (row {row}) has errors: correct it first.",
    "head_name_mismatch": "On the head's row, the member's name must equal the head's name.",
    "group_mismatch": "The group differs from the head's row (row {row}).",
}
_ID_MESSAGES_EN = {
    "empty": "Enter the ID number.",
    "length": "An ID number has 18 characters (or 15 for old numbers).",
    "chars": "An ID number has only digits, with an optional final X.",
    "birth_date": "The birth date in the ID number is not a real date.",
    "future_birth": "The birth date in the ID number is in the future.",
    "too_old": "The birth year in the ID number is before 1900.",
    "check_digit": "The ID number's check digit is wrong: check the last character.",
}
_MOBILE_MESSAGES_EN = {
    "empty": "Enter the mobile number.",
    "format": "A mobile number has 11 digits starting with 1.",
}


@dataclass(frozen=True)
class Problem:
    """One reason a row (or the file) is refused: a stable code and the values its message needs."""

    code: str
    params: tuple[tuple[str, str], ...] = ()

    def message(self, lang: str = "zh") -> str:
        return problem_message(self.code, dict(self.params), lang)

    def as_json(self) -> list:
        return [self.code, [list(p) for p in self.params]]


def problem(code: str, **params) -> Problem:
    return Problem(code, tuple((k, str(v)) for k, v in params.items()))


def problem_message(code: str, params: Mapping[str, str] | None = None, lang: str = "zh") -> str:
    """The text of a problem code in Chinese ("zh") or English; ID and mobile codes come from core.idnumber."""
    zh = not lang.startswith("en")
    if code.startswith("id:"):
        sub = code[3:]
        return ID_MESSAGES_ZH.get(sub, sub) if zh else _ID_MESSAGES_EN.get(sub, sub)
    if code.startswith("mobile:"):
        sub = code[7:]
        return MOBILE_MESSAGES_ZH.get(sub, sub) if zh else _MOBILE_MESSAGES_EN.get(sub, sub)
    template = (MESSAGES_ZH if zh else MESSAGES_EN).get(code, code)
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template


class RosterFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong encoding, missing columns, too large)."""

    def __init__(self, code: str, **params) -> None:
        self.problem = problem(code, **params)
        super().__init__(self.problem.message("en"))

    @property
    def code(self) -> str:
        return self.problem.code


# ---------------------------------------------------------------- reading the file

Cell = str | int | float | None


@dataclass(frozen=True)
class RawRow:
    """One data row as read: its number in the sheet (the header is row 1 in the template) and its cells by key.

    Text cells are stripped strings; numeric spreadsheet cells stay int/float so the checks can tell them apart.
    """

    row_no: int
    cells: dict[str, Cell]

    def as_json(self) -> list:
        return [self.row_no, self.cells]

    @classmethod
    def from_json(cls, data) -> RawRow:
        row_no, cells = data
        if not isinstance(row_no, int) or not isinstance(cells, dict):
            raise ValueError("bad stored row")
        clean: dict[str, Cell] = {}
        for key in COLUMN_KEYS:
            value = cells.get(key)
            if value is None or isinstance(value, (str, float)) or (isinstance(value, int)
                                                                    and not isinstance(value, bool)):
                clean[key] = value
        return cls(row_no, clean)


def _norm_header(text) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.replace("（", "(").replace("）", ")").rstrip("*").strip()


_HEADER_LOOKUP: dict[str, str] = {}
for _col in COLUMNS:
    for _name in (_col.header, *_col.aliases):
        _HEADER_LOOKUP[_norm_header(_name)] = _col.key


def _header_keys(cells: list) -> dict[int, str]:
    """Column index -> key for the header row (unknown headers are ignored; the first of a repeated one wins)."""
    found: dict[int, str] = {}
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        key = _HEADER_LOOKUP.get(_norm_header(cell))
        if key and key not in seen:
            found[i] = key
            seen.add(key)
    return found


def _plain_cell(value) -> Cell:
    """A spreadsheet value as text, except numbers, which stay numbers (the checks need to see them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return value
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == dtime(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, dtime)):
        return value.isoformat()
    text = str(value)
    text = text.replace("\x00", "").strip()
    return text[:MAX_CELL] if text else None


HEADER_SEARCH_ROWS = 10  # a title row or two ("石桥村农户花名册") may sit above the header


def _missing(header: dict[int, str]) -> list[str]:
    return [c.header for c in COLUMNS if c.required and c.key not in header.values()]


def _rows_from_table(rows: Iterable[tuple[int, list]]) -> list[RawRow]:
    """Find the header (the first of the leading non-blank rows that names every required column), then map every
    following non-blank row by column."""
    header: dict[int, str] | None = None
    best: dict[int, str] = {}
    seen = 0
    result: list[RawRow] = []
    for row_no, values in rows:
        cells = [_plain_cell(v) for v in values]
        if all(c is None for c in cells):
            continue
        if header is None:
            candidate = _header_keys(cells)
            if not _missing(candidate):
                header = candidate
                continue
            best = candidate if len(candidate) > len(best) else best
            seen += 1
            if seen >= HEADER_SEARCH_ROWS:
                break
            continue
        mapped = {key: (cells[i] if i < len(cells) else None) for i, key in header.items()}
        if all(v is None for v in mapped.values()):
            continue
        if len(result) >= MAX_ROWS:
            raise RosterFileError("file_too_many_rows", max=MAX_ROWS)
        result.append(RawRow(row_no, {key: mapped.get(key) for key in COLUMN_KEYS}))
    if header is None:
        if seen == 0:
            raise RosterFileError("file_empty")
        raise RosterFileError("file_missing_columns", columns="、".join(_missing(best)))
    if not result:
        raise RosterFileError("file_empty")
    return result


def _read_xlsx(data: bytes) -> list[RawRow]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(max(info.file_size, 0) for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise RosterFileError("file_too_large")
    except zipfile.BadZipFile:
        raise RosterFileError("file_unreadable") from None
    try:
        from openpyxl import load_workbook
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except RosterFileError:
        raise
    except Exception:  # noqa: BLE001 - any malformed workbook is "unreadable", never a crash
        raise RosterFileError("file_unreadable") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise RosterFileError("file_empty")

        def numbered():
            for row_no, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if row_no > MAX_ROWS * 2 + 50:
                    raise RosterFileError("file_too_many_rows", max=MAX_ROWS)
                yield row_no, list(values[:40])

        try:
            return _rows_from_table(numbered())
        except RosterFileError:
            raise
        except Exception:  # noqa: BLE001 - a broken sheet inside a valid zip
            raise RosterFileError("file_unreadable") from None
    finally:
        try:
            workbook.close()
        except Exception:  # noqa: BLE001
            pass


def decode_csv(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, failing that, GBK (GB18030, its superset), as Chinese Excel writes it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise RosterFileError("file_encoding")


def _read_csv(data: bytes) -> list[RawRow]:
    text = decode_csv(data)
    sample = text[:4096]
    delimiter = ","
    if sample.count("\t") > sample.count(",") and sample.count("\t") > sample.count(";"):
        delimiter = "\t"
    elif sample.count(";") > sample.count(","):
        delimiter = ";"
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

        def numbered():
            for row_no, values in enumerate(reader, start=1):
                if row_no > MAX_ROWS * 2 + 50:
                    raise RosterFileError("file_too_many_rows", max=MAX_ROWS)
                yield row_no, values[:40]

        return _rows_from_table(numbered())
    except csv.Error:
        raise RosterFileError("file_unreadable") from None


def read_roster(data: bytes, filename: str = "") -> list[RawRow]:
    """The data rows of an uploaded roster (.xlsx by content, else CSV); raises RosterFileError for the whole file."""
    if not data or not data.strip():
        raise RosterFileError("file_empty")
    if len(data) > MAX_BYTES:
        raise RosterFileError("file_too_large")
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise RosterFileError("file_xls")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterFileError("file_unreadable")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise RosterFileError("file_encoding") from None
        return _read_csv(text.encode("utf-8"))
    return _read_csv(data)


# ---------------------------------------------------------------- the importer's villages

@dataclass(frozen=True)
class GroupRef:
    id: int
    name: str
    allowed: bool


@dataclass(frozen=True)
class VillageRef:
    """A village the importer may name: `allowed` when wholly in their area; single groups say so themselves."""

    id: int
    county_id: int
    name: str
    stat_code: str
    allowed: bool
    groups: tuple[GroupRef, ...] = ()

    @property
    def any_allowed(self) -> bool:
        return self.allowed or any(g.allowed for g in self.groups)


@dataclass(frozen=True)
class Existing:
    """A member already registered somewhere in the bank, found by their ID hash."""

    member_id: int
    household_id: int
    village_id: int
    is_head: bool
    village_name: str
    head_name_masked: str


# ---------------------------------------------------------------- checking rows

@dataclass
class RowResult:
    """What happens to one data row: "ok" (will be written), "exists" (already registered: skipped) or "error"."""

    row_no: int
    problems: list[Problem] = field(default_factory=list)
    village: VillageRef | None = None
    group: GroupRef | None = None
    household_no: str = ""
    head_name: str = ""
    name: str = ""
    relation: str = ""
    id_info: IdInfo | None = None
    id_display: str = ""  # the ID cell as typed (the view masks it)
    mobile: str | None = None
    ethnicity: str | None = None
    education: str | None = None
    labour: str | None = None
    id_hash: str | None = None
    existing: Existing | None = None
    household_key: tuple | None = None
    existing_household_id: int | None = None  # the household this row belongs to when it is already registered

    @property
    def status(self) -> str:
        if self.problems:
            return "error"
        return "exists" if self.existing is not None else "ok"

    @property
    def is_head(self) -> bool:
        return self.relation == "head"

    def fail(self, code: str, **params) -> None:
        self.problems.append(problem(code, **params))


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d*)?[eE][+-]?\d+")
_DECIMAL_ID = re.compile(r"\d{6,18}\.\d+")
NAME_PUNCTUATION = frozenset("·•・‧.-' ")  # as households.forms allows between the parts of a name


def _number_stored(value: Cell) -> bool:
    """An ID cell a spreadsheet kept as a number: a numeric cell, or its text form in a CSV ("1.10105E+17")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    text = _text(value).lstrip("'")
    return bool(_SCIENTIFIC.fullmatch(text) or _DECIMAL_ID.fullmatch(text))


def _group_name(raw: str) -> list[str]:
    """Spellings to try for a group: "1", "1组", "一组", "第一组" all mean 一组."""
    text = raw.strip()
    candidates = [text]
    stripped = text.removeprefix("第")
    body = stripped.removesuffix("组").removesuffix("社").removesuffix("队")
    if body.isdigit() and 1 <= int(body) <= 10:
        body = CN_NUMERALS[int(body) - 1]
    candidates += [stripped, body + "组", body + "社", body + "队"]
    return list(dict.fromkeys(c for c in candidates if c))


def _lookup_villages(villages: Iterable[VillageRef]):
    by_code: dict[str, VillageRef] = {}
    by_name: dict[str, list[VillageRef]] = {}
    for v in villages:
        by_code[v.stat_code] = v
        by_name.setdefault(v.name, []).append(v)
    return by_code, by_name


def _resolve_village(text: str, by_code, by_name) -> tuple[VillageRef | None, str | None]:
    if text in by_code:
        return by_code[text], None
    candidates: list[VillageRef] = []
    for name in (text, text + "村", text.removesuffix("村"), text + "嘎查"):
        candidates = by_name.get(name, [])
        if candidates:
            break
    if not candidates:
        return None, "village_unknown"
    if len(candidates) > 1:
        allowed = [v for v in candidates if v.any_allowed]
        if len(allowed) == 1:
            return allowed[0], None
        return None, "village_ambiguous"
    return candidates[0], None


def _check_name(result: RowResult, raw: Cell, key: str, required_code: str) -> str:
    name = _text(raw)
    name = re.sub(r"\s+", " ", name)
    if not name:
        result.fail(required_code)
    elif len(name) > NAME_MAX:
        result.fail("name_too_long")
    elif not any(unicodedata.category(ch).startswith("L") for ch in name) or any(
            unicodedata.category(ch)[0] not in "LM" and ch not in NAME_PUNCTUATION for ch in name):
        result.fail("name_invalid")
    return name


def check_row(raw: RawRow, by_code, by_name, today: date) -> RowResult:
    """Field-by-field checks of one row (no cross-row or database checks)."""
    cells = raw.cells
    r = RowResult(raw.row_no)

    village_text = _text(cells.get("village"))
    group_text = _text(cells.get("group"))
    if not village_text:
        r.fail("village_required")
    else:
        village, err = _resolve_village(village_text, by_code, by_name)
        if err:
            r.fail(err, value=village_text[:30])
        else:
            r.village = village
            group = None
            if group_text:
                names = _group_name(group_text)
                group = next((g for n in names for g in village.groups if g.name == n), None)
                if group is None:
                    r.fail("group_unknown", village=village.name, value=group_text[:20])
            r.group = group
            if group is not None or not group_text:
                if village.allowed or (group is not None and group.allowed):
                    pass
                elif group is None and village.any_allowed:
                    r.fail("group_required")
                else:
                    place = village.name + (f"{group.name}" if group else "")
                    r.fail("out_of_area", place=place)

    r.household_no = _text(cells.get("household_no"))
    if len(r.household_no) > 20:
        r.fail("household_no_too_long")
    r.head_name = _check_name(r, cells.get("head_name"), "head_name", "head_name_required")
    r.name = _check_name(r, cells.get("name"), "name", "name_required")

    relation_text = _text(cells.get("relation"))
    if not relation_text:
        r.fail("relation_required")
    else:
        code = RELATION_ALIASES.get(relation_text) or RELATION_ALIASES.get(relation_text.lower())
        if code is None:
            r.fail("relation_unknown", value=relation_text[:20])
        else:
            r.relation = code

    id_cell = cells.get("id_number")
    r.id_display = _text(id_cell)
    if _number_stored(id_cell):
        r.fail("id_number_stored")
    else:
        try:
            r.id_info = parse_id_number(_text(id_cell).lstrip("'"), today)
        except IdNumberError as exc:
            r.fail("id:" + exc.code)

    mobile_cell = cells.get("mobile")
    if isinstance(mobile_cell, float) and not mobile_cell.is_integer():
        r.fail("mobile_number_stored")
    else:
        mobile_text = _text(mobile_cell).lstrip("'")
        if mobile_text:
            try:
                r.mobile = normalise_mobile(mobile_text)
            except MobileError as exc:
                r.fail("mobile:" + exc.code)

    ethnicity = _text(cells.get("ethnicity"))
    if len(ethnicity) > 20:
        r.fail("ethnicity_too_long")
    elif ethnicity:
        r.ethnicity = ethnicity if ethnicity.endswith("族") or len(ethnicity) > 4 else ethnicity + "族"

    education = _text(cells.get("education"))
    if education:
        r.education = EDUCATION_ALIASES.get(education) or EDUCATION_ALIASES.get(education.lower())
        if r.education is None:
            r.fail("education_unknown", value=education[:20])

    labour = _text(cells.get("labour"))
    if labour:
        r.labour = LABOUR_ALIASES.get(labour) or LABOUR_ALIASES.get(labour.lower())
        if r.labour is None:
            r.fail("labour_unknown", value=labour[:20])
    return r


def validate_rows(rows: list[RawRow], *, villages: Iterable[VillageRef], today: date,
                  hash_id: Callable[[str], str],
                  find_existing: Callable[[list[str]], Mapping[str, Existing]]) -> list[RowResult]:
    """Every row checked on its own, then against the other rows of the file and against registered members."""
    by_code, by_name = _lookup_villages(villages)
    results = [check_row(raw, by_code, by_name, today) for raw in rows]

    # Duplicates inside the file: the first row with a valid ID number keeps it.
    first_row: dict[str, int] = {}
    for r in results:
        if r.id_info is None:
            continue
        number = r.id_info.number
        if number in first_row:
            r.fail("duplicate_in_file", row=first_row[number])
        else:
            first_row[number] = r.row_no

    # Registered members, found by their keyed ID hash.
    for r in results:
        if r.id_info is not None:
            r.id_hash = hash_id(r.id_info.number)
    hashes = sorted({r.id_hash for r in results if r.id_hash})
    existing = dict(find_existing(hashes)) if hashes else {}

    # Households: rows sharing (village, 户号) or (village, group, head's name).
    households: dict[tuple, list[RowResult]] = {}
    for r in results:
        if r.village is None or not r.head_name:
            continue
        if r.household_no:
            key = ("no", r.village.id, r.household_no)
        else:
            key = ("name", r.village.id, r.group.id if r.group else None, r.head_name)
        r.household_key = key
        households.setdefault(key, []).append(r)

    for key, members in households.items():
        heads = [m for m in members if m.is_head]
        head = heads[0] if heads else None
        for extra in heads[1:]:
            extra.fail("second_head", row=head.row_no)
        if head is not None and head.name and head.head_name and head.name != head.head_name:
            head.fail("head_name_mismatch")
        household_id = None
        if head is not None and head.id_hash and not head.problems:
            found = existing.get(head.id_hash)
            if found is not None:
                if found.is_head and found.village_id == head.village.id:
                    household_id = found.household_id
                    head.existing = found
                else:
                    head.fail("registered_elsewhere", village=found.village_name, head=found.head_name_masked)
        for m in members:
            m.existing_household_id = household_id
            if m.is_head:
                continue
            if head is None:
                if m.relation:  # an unrecognised relation may have been meant as 户主: its own error says enough
                    m.fail("no_head_row")
                continue
            if (m.group.id if m.group else None) != (head.group.id if head.group else None):
                m.fail("group_mismatch", row=head.row_no)
            if head.problems:
                m.fail("head_row_invalid", row=head.row_no)
                continue
            if m.id_hash and not m.problems:
                found = existing.get(m.id_hash)
                if found is not None:
                    if household_id is not None and found.household_id == household_id:
                        m.existing = found
                    else:
                        m.fail("registered_elsewhere", village=found.village_name, head=found.head_name_masked)
    return results


@dataclass
class Summary:
    rows: int = 0
    ok: int = 0
    exists: int = 0
    errors: int = 0
    new_households: int = 0


def summarise(results: list[RowResult]) -> Summary:
    s = Summary(rows=len(results))
    new_households = set()
    for r in results:
        status = r.status
        if status == "ok":
            s.ok += 1
            if r.is_head and r.existing_household_id is None:
                new_households.add(r.household_key)
        elif status == "exists":
            s.exists += 1
        else:
            s.errors += 1
    s.new_households = len(new_households)
    return s


@dataclass
class HouseholdPlan:
    """What a commit writes for one household: a new one (head first), or members added to a registered one."""

    village: VillageRef
    group: GroupRef | None
    household_id: int | None  # None: create
    head: RowResult | None
    members: list[RowResult]


def plan_writes(results: list[RowResult]) -> list[HouseholdPlan]:
    """The "ok" rows grouped per household, in file order (a new household's head row comes first)."""
    plans: dict[tuple, HouseholdPlan] = {}
    for r in results:
        if r.status != "ok" or r.household_key is None:
            continue
        plan = plans.get(r.household_key)
        if plan is None:
            plan = plans[r.household_key] = HouseholdPlan(r.village, r.group, r.existing_household_id, None, [])
        if r.is_head:
            plan.head = r
        else:
            plan.members.append(r)
    return [p for p in plans.values() if p.household_id is not None or p.head is not None]


# ---------------------------------------------------------------- the upload between preview and commit

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
STORE_TTL_SECONDS = 24 * 3600


class UploadStore:
    """Parsed uploads kept on disk between preview and commit, one JSON file per token (no process memory).

    Files are written to a temp file and renamed, readable only by the app's user, and purged after a day.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def _path(self, token: str) -> Path | None:
        if not TOKEN_RE.fullmatch(token or ""):
            return None
        return self.directory / f"{token}.json"

    def save(self, user_id: int, filename: str, rows: list[RawRow]) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.purge()
        token = secrets.token_urlsafe(24)
        payload = {"user_id": user_id, "filename": filename[:200], "created": time.time(),
                   "rows": [r.as_json() for r in rows]}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.directory / f"{token}.json")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return token

    def load(self, token: str, user_id: int) -> tuple[str, list[RawRow]] | None:
        """(filename, rows) of the user's own upload, or None (unknown, expired, someone else's, damaged)."""
        path = self._path(token)
        if path is None or not path.is_file():
            return None
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("user_id") != user_id:
                return None
            if time.time() - float(payload.get("created", 0)) > STORE_TTL_SECONDS:
                return None
            return str(payload.get("filename", "")), [RawRow.from_json(r) for r in payload.get("rows", [])]
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def purge(self, older_than: float = STORE_TTL_SECONDS) -> int:
        removed = 0
        if not self.directory.is_dir():
            return 0
        limit = time.time() - older_than
        for path in self.directory.iterdir():
            try:
                if path.suffix in (".json", ".tmp") and path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


# ---------------------------------------------------------------- the template

def template_workbook():
    """The import template: the header row, text-formatted ID and mobile columns, and a sheet of instructions."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "花名册"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBE4")
    for i, col in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i, value=col.header)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = col.width
        if col.text:
            ws.column_dimensions[letter].number_format = "@"
            for row in range(2, 1002):
                ws.cell(row=row, column=i).number_format = "@"
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    lines = [
        "每行填写一个人。同一户的成员，户主姓名相同；户主本人那一行的“与户主关系”填“户主”。",
        "村：填村名（例如“石桥村”）或12位村代码；组：例如“一组”或“1”。",
        "户号：可不填；同一村内有同名户主时，请填户号区分。",
        "身份证号、手机号两列已设为文本格式。请不要改成数字格式，否则身份证号后几位会丢失。",
        "与户主关系：户主、配偶、子女、儿媳/女婿、孙子女、父母、公婆/岳父母、祖父母、兄弟姐妹、其他。",
        "文化程度：文盲、小学、初中、高中、中专、大专、本科及以上。",
        "劳动能力：有劳动能力、部分、无。",
        "也可以上传 CSV 文件（UTF-8 或 GBK 编码），表头与本模板相同。",
        "同一文件可以重复导入：已登记的户和成员会被跳过，不会重复。",
    ]
    notes.column_dimensions["A"].width = 100
    for i, line in enumerate(lines, start=1):
        notes.cell(row=i, column=1, value=line)
    return wb
