"""Deterministic Chinese personal names for the demo county (pure: no Flask, no database).

Surnames are drawn by rough frequency and include the polyphonic ones that trip up pinyin sorting and search
(单 shàn, 曾 zēng, 解 xiè, 仇 qiú, 查 zhā, 区 ōu) and a few compound ones (欧阳, 司马). A small share of names are
minority names: Mongolian (额尔敦图雅), Tibetan (扎西多吉) and Uyghur/Kazakh transliterations with the
separator dot "·" (阿依古丽·买买提). The same seed always gives the same sequence.
"""
from __future__ import annotations

import random

# (surname, relative weight): roughly the national frequency order, flattened so rarer ones still turn up.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.0), ("李", 7.0), ("张", 6.5), ("刘", 5.5), ("陈", 4.5), ("杨", 5.0), ("赵", 3.5), ("黄", 2.5),
    ("周", 2.3), ("吴", 2.2), ("徐", 1.7), ("孙", 1.5), ("胡", 1.3), ("朱", 1.3), ("高", 1.2), ("林", 1.2),
    ("何", 1.2), ("郭", 1.1), ("马", 1.1), ("罗", 0.9), ("梁", 0.8), ("宋", 0.8), ("郑", 0.8), ("谢", 0.7),
    ("韩", 0.7), ("唐", 0.7), ("冯", 0.6), ("于", 0.6), ("董", 0.6), ("萧", 0.3), ("程", 0.6), ("曹", 0.6),
    ("袁", 0.5), ("邓", 0.5), ("许", 0.5), ("傅", 0.5), ("沈", 0.5), ("曾", 1.0), ("彭", 0.5), ("吕", 0.5),
    ("苏", 0.5), ("卢", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("贾", 0.4), ("丁", 0.4), ("魏", 0.4), ("薛", 0.4),
    ("叶", 0.4), ("阎", 0.3), ("余", 0.4), ("潘", 0.4), ("杜", 0.4), ("戴", 0.3), ("夏", 0.3), ("钟", 0.3),
    ("汪", 0.3), ("田", 0.3), ("任", 0.3), ("姜", 0.3), ("范", 0.3), ("方", 0.3), ("石", 0.3), ("姚", 0.3),
    ("谭", 0.3), ("廖", 0.3), ("邹", 0.3), ("熊", 0.3), ("金", 0.3), ("陆", 0.3), ("郝", 0.3), ("孔", 0.3),
    ("白", 0.5), ("崔", 0.3), ("康", 0.3), ("毛", 0.3), ("邱", 0.3), ("秦", 0.3), ("江", 0.3), ("史", 0.3),
    ("段", 0.6), ("寸", 0.3), ("和", 0.3), ("施", 0.2), ("尹", 0.2), ("字", 0.2), ("雷", 0.2), ("龙", 0.2),
    ("单", 0.8), ("解", 0.8), ("仇", 0.2), ("查", 0.2), ("区", 0.1), ("欧阳", 0.3), ("司马", 0.1),
    ("上官", 0.1), ("诸葛", 0.1),
)
POLYPHONIC_SURNAMES = frozenset({"单", "曾", "解", "仇", "查", "区"})

# Characters for given names; a given name has one or two of them.
MALE_CHARS = ("伟", "强", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫",
              "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳", "志", "国", "建",
              "德", "文", "荣", "福", "贵", "生", "海", "山", "成", "忠", "春", "永", "兴", "发", "学", "金",
              "正", "庆", "云", "亮", "松", "树", "长", "有", "根", "顺", "祥", "昌")
FEMALE_CHARS = ("芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "华", "慧", "巧", "美", "玲", "萍",
                "红", "梅", "琴", "兰", "凤", "燕", "雪", "婷", "莉", "桂", "珍", "菊", "月", "春", "翠", "琼",
                "莲", "彩", "云", "芬", "瑶", "佳", "欣", "颖", "倩", "洁", "蓉", "丹", "萱", "雯")

# Minority names: (name, sex). They carry no Han surname, so they are used whole.
MONGOLIAN_NAMES: tuple[tuple[str, str], ...] = (
    ("额尔敦图雅", "F"), ("乌云其木格", "F"), ("斯琴高娃", "F"), ("其其格", "F"), ("萨仁高娃", "F"),
    ("那仁格日勒", "F"), ("托娅", "F"), ("阿拉坦其其格", "F"),
    ("巴特尔", "M"), ("朝鲁门", "M"), ("苏和巴特尔", "M"), ("宝音德力格尔", "M"), ("阿拉坦仓", "M"),
    ("额尔敦巴雅尔", "M"), ("孟和", "M"), ("巴图吉日嘎拉", "M"), ("敖其尔", "M"), ("图门", "M"),
)
TIBETAN_NAMES: tuple[tuple[str, str], ...] = (
    ("扎西多吉", "M"), ("次仁顿珠", "M"), ("洛桑丹增", "M"), ("格桑", "M"),
    ("次仁卓玛", "F"), ("格桑央金", "F"), ("德吉", "F"), ("拉姆", "F"),
)
DOTTED_NAMES: tuple[tuple[str, str], ...] = (
    ("阿依古丽·买买提", "F"), ("热依拉·阿不都拉", "F"), ("迪丽娜尔·吾守尔", "F"), ("古丽娜尔·艾买提", "F"),
    ("艾力·吐尔逊", "M"), ("买买提江·艾则孜", "M"), ("木拉提·阿不都", "M"), ("努尔兰·哈斯木", "M"),
)
MINORITY_POOLS = {"mongolian": MONGOLIAN_NAMES, "tibetan": TIBETAN_NAMES, "dotted": DOTTED_NAMES}


class NameGenerator:
    """A seeded source of names. `minority_rate` is the share of names drawn from the minority pools;
    `unique=True` avoids repeating a full name (it retries, then falls back to a Han name)."""

    def __init__(self, seed: int, *, minority_rate: float = 0.0, minority_kind: str | None = None,
                 unique: bool = False) -> None:
        self.rng = random.Random(seed)
        self.minority_rate = minority_rate
        self.minority_kind = minority_kind
        self.unique = unique
        self.used: set[str] = set()
        self._surnames = [s for s, _ in SURNAMES]
        self._weights = [w for _, w in SURNAMES]

    # ---------------------------------------------------------------- parts
    def surname(self) -> str:
        return self.rng.choices(self._surnames, self._weights)[0]

    def sex(self) -> str:
        return self.rng.choice("MF")

    def given(self, sex: str | None = None) -> str:
        """A one- or two-character given name (about a third are one character)."""
        chars = FEMALE_CHARS if (sex or self.sex()) == "F" else MALE_CHARS
        if self.rng.random() < 0.33:
            return self.rng.choice(chars)
        first, second = self.rng.choice(chars), self.rng.choice(chars)
        while second == first:
            second = self.rng.choice(chars)
        return first + second

    def minority(self, sex: str | None = None, kind: str | None = None) -> str:
        """A whole minority name from one pool (mongolian, tibetan or dotted), of the given sex if asked."""
        kind = kind or self.minority_kind or self.rng.choice(sorted(MINORITY_POOLS))
        pool = [n for n, s in MINORITY_POOLS[kind] if sex is None or s == sex]
        return self.rng.choice(pool)

    # ---------------------------------------------------------------- whole names
    def han(self, sex: str | None = None, surname: str | None = None) -> str:
        return (surname or self.surname()) + self.given(sex)

    def name(self, sex: str | None = None, surname: str | None = None) -> str:
        """A full name; `surname` forces a Han name of that family (e.g. a household member)."""
        for _ in range(50):
            if surname is None and self.minority_rate and self.rng.random() < self.minority_rate:
                candidate = self.minority(sex)
            else:
                candidate = self.han(sex, surname)
            if not self.unique or candidate not in self.used:
                break
        else:  # every retry collided: a three-character Han given name is practically always free
            candidate = (surname or self.surname()) + self.given(sex) + self.rng.choice(MALE_CHARS + FEMALE_CHARS)
        self.used.add(candidate)
        return candidate


def is_polyphonic_surname(name: str) -> bool:
    """Whether a Han name starts with a surname read differently from the character's usual reading."""
    return name[:1] in POLYPHONIC_SURNAMES
