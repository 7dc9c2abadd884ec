"""Credit-file rules that need no request: search keys, and (below) rates, caps, completeness and submission checks."""
from __future__ import annotations

from pypinyin import Style, lazy_pinyin

# Characters read differently as surnames than in ordinary words (姓氏读音). Compound surnames first.
SURNAME_READINGS: dict[str, list[str]] = {
    "尉迟": ["yu", "chi"], "万俟": ["mo", "qi"], "长孙": ["zhang", "sun"], "单于": ["chan", "yu"],
    "单": ["shan"], "曾": ["zeng"], "解": ["xie"], "仇": ["qiu"], "朴": ["piao"], "查": ["zha"], "盖": ["ge"],
    "区": ["ou"], "黑": ["he"], "乐": ["yue"], "缪": ["miao"], "翟": ["zhai"], "覃": ["qin"], "种": ["chong"],
    "秘": ["bi"], "员": ["yun"], "句": ["gou"], "召": ["shao"], "冼": ["xian"], "繁": ["po"], "折": ["she"],
    "能": ["nai"], "那": ["na"], "燕": ["yan"], "宿": ["su"], "沈": ["shen"], "任": ["ren"], "柏": ["bai"],
    "薄": ["bo"], "华": ["hua"], "纪": ["ji"], "隗": ["wei"], "晟": ["cheng"], "阚": ["kan"],
}
SEPARATORS = "·•・‧. "


def name_syllables(name: str) -> list[str]:
    """Pinyin syllables of a name, the surname read as a surname; non-Chinese characters kept as lowercase words."""
    name = "".join(ch for ch in (name or "").strip() if ch not in SEPARATORS)
    if not name:
        return []
    head: list[str] = []
    for surname in sorted(SURNAME_READINGS, key=len, reverse=True):
        if name.startswith(surname):
            head = SURNAME_READINGS[surname]
            name = name[len(surname):]
            break
    rest = lazy_pinyin(name, style=Style.NORMAL, errors=lambda chars: [c.lower() for c in chars])
    return head + [s.lower().replace("ü", "v") for s in rest if s.strip()]


def search_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) for indexed name search: 张三 -> ("zhangsan", "zs"), 单田芳 -> ("shantianfang", "stf")."""
    syllables = name_syllables(name)
    return "".join(syllables)[:200], "".join(s[0] for s in syllables if s)[:50]
