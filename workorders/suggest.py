"""Dispatch suggestions for a draft order, from what the caller said. Pure: no I/O.

Theory of operation
-------------------
`suggest(text, catalogue, ...)` reads the call's text (the live transcript, or what the
operator typed) and proposes, each with the reason to show the operator:

* **kind** (诉求类型): cue words vote with weights (`KIND_CUES`): an explicit word
  (投诉, 举报, 建议, 表扬, 咨询, 求助) outweighs an implicit one (太吵, 不作为 →
  complaint; 派人, 坏了 → help; 请问, 怎么办理 → inquiry). The highest total wins; ties go
  to the earlier kind in `KIND_PRIORITY`; no cue at all means inquiry (the most common
  kind, and the cheapest to correct).
* **category and handling unit(s)**: each responsibility entry's keywords (config/units.toml)
  are looked for in the text after colloquial words were mapped to catalogue words
  (`SYNONYMS`: 太吵 → 噪音, 没水 → 停水 ...). An entry scores the summed length of its
  keywords found (a longer keyword is more specific). The spoken address is cut out of
  the text first, so "和盛园小区" in an address does not suggest the property-management
  entry, and place words (小区, 社区) count little anyway. Entries of territorial units
  (kind "district": 属地) are not topics: they are
  suggested as the lead only when no topic matched, otherwise as an assisting unit (双派
  协办) when the address names their district.
* **time-limit class**: the matched entry's class, mapped into the city's preset (the
  nearest class by duration when the preset lacks it); urgent words (爆裂, 漏气, 淹了 …)
  take the shortest class; without an entry, the preset's default.
* **address**: Chinese address patterns (…区…路…号, …小区…栋…单元…室, spoken numerals
  included), the longest match.

Everything here takes values and returns frozen dataclasses; knowledge-article
suggestions need the store and are added by `workorders.draft`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from workorders.models import OrderKind
from workorders.sla import LimitUnit, SlaPolicy, TimeLimitClass

T = TypeVar("T")

K = OrderKind
# (cue, weight). Substrings of the normalised text; every occurrence of a cue counts once.
KIND_CUES: Mapping[OrderKind, tuple[tuple[str, int], ...]] = {
    K.praise: (("表扬", 6), ("感谢", 3), ("点赞", 4), ("锦旗", 4), ("好评", 3), ("赞扬", 4),
               ("辛苦了", 2), ("服务很好", 3), ("很满意", 3)),
    K.report: (("举报", 6), ("偷排", 4), ("私搭乱建", 3), ("违建", 3), ("违章搭建", 3),
               ("非法", 3), ("无证", 2), ("传销", 4), ("偷偷", 2), ("违规", 2), ("假冒", 3)),
    K.complaint: (("投诉", 6), ("不作为", 4), ("态度差", 4), ("态度很差", 4), ("乱收费", 4),
                  ("拖欠", 3), ("欠薪", 3), ("扰民", 3), ("太吵", 3), ("吵得", 3),
                  ("噪音", 2), ("油烟", 2), ("不给退", 3), ("不退", 2), ("没人管", 3),
                  ("没人", 2), ("一直不", 2), ("不修", 2), ("不管", 2), ("臭", 2),
                  ("不给", 2), ("不签", 2), ("绕路", 3), ("拒载", 3), ("过期", 2),
                  ("一直未能", 2), ("好几天", 1), ("占道", 2), ("还没有人", 3), ("乱开", 2)),
    K.suggestion: (("建议", 6), ("希望能", 3), ("希望", 2), ("能不能增加", 3), ("增加", 1),
                   ("最好能", 3), ("延长", 2), ("提个意见", 4)),
    K.help: (("求助", 6), ("帮忙", 2), ("派人", 3), ("赶紧", 2), ("赶快", 2), ("维修", 2),
             ("修一下", 3), ("坏了", 2), ("不亮", 2), ("停电", 2), ("漏气", 3), ("爆裂", 3),
             ("破损", 2), ("危险", 2), ("困难", 1), ("检查一下", 2), ("停水", 1), ("老化", 2),
             ("抢修", 2), ("堵了", 2)),
    K.inquiry: (("咨询", 6), ("请问", 3), ("问一下", 3), ("怎么办理", 4), ("如何", 2),
                ("什么材料", 3), ("需要什么", 3), ("在哪", 2), ("哪里办", 3), ("什么时候", 2),
                ("为什么", 2), ("手续", 2), ("流程", 2), ("可以吗", 2), ("怎么划分", 2),
                ("政策", 1), ("多少", 1)),
}  # fmt: skip
KIND_PRIORITY: tuple[OrderKind, ...] = (K.report, K.complaint, K.praise, K.suggestion,
                                        K.help, K.inquiry)  # fmt: skip

# Colloquial word → the catalogue keyword it means.
SYNONYMS: Mapping[str, str] = {
    "噪声": "噪音", "太吵": "噪音", "吵得": "噪音", "吵死": "噪音", "扰民": "噪音",
    "电钻": "噪音", "施工声": "噪音",
    "没水": "停水", "断水": "停水", "不来水": "停水", "跑水": "漏水", "冒水": "漏水",
    "没电": "停电", "来电": "停电",
    "工资没发": "欠薪", "不发工资": "欠薪", "讨薪": "欠薪", "农民工工资": "欠薪",
    "违章建筑": "违建", "私搭乱建": "违建", "乱搭乱建": "违建", "违章搭建": "违建",
    "煤气味": "煤气", "燃气味": "煤气",
    "开办公司": "营业执照", "开公司": "营业执照", "个体工商户": "营业执照",
    "食品经营许可": "营业执照", "过期食品": "食品安全",
    "上小学": "入学", "培训机构": "补课",
}  # fmt: skip
# Words of danger, not of impatience (every caller says 赶紧).
URGENT_CUES: tuple[str, ...] = ("爆裂", "漏气", "煤气味", "燃气味", "着火", "起火", "紧急",
                                "被困", "淹了", "触电")  # fmt: skip

# Spoken numbers: digits or Chinese numerals (三号楼, 十二栋, 两单元).
_NUM = r"[0-9一二三四五六七八九十百零两〇]+"
# A place-name character: Han, but not the function words that precede names in speech.
_NAME = r"[^\W\d_的在了是到我你他她住从向往着过呢吗吧啊呀就也都说有个这那请给把被让想要与跟们走]"
_ADDRESS = re.compile(
    rf"""
    (?:{_NAME}{{1,4}}?(?:省|市(?!场)))?
    (?:{_NAME}{{1,4}}?(?:县|(?<![小社])区))?
    (?:{_NAME}{{1,6}}?(?:街道|镇|乡))?
    (?:{_NAME}{{1,6}}?(?:路|街|大道|巷|胡同)(?:{_NUM}号(?!楼))?)?
    (?:{_NAME}{{1,8}}?(?:小区|花园|家园|公寓|新村|大厦|广场|社区|苑)(?:{_NUM}期)?)?
    (?:[东南西北]院)?
    (?:{_NUM}(?:号楼|栋|幢|号))?
    (?:{_NUM}单元)?
    (?:{_NUM}(?:室|楼|层))?
    """,
    re.VERBOSE,
)
_PLACE_MARK = re.compile(r"省|市|县|区|街道|镇|乡|路|街|大道|巷|胡同|小区|花园|家园|公寓|新村|"
                         r"大厦|广场|社区|苑|号楼|栋|幢|号|单元|室")  # fmt: skip


# Speech before an address that the name pattern cannot tell from a place name.
_LEADING_VERB = re.compile(r"^(?:反映|举报|投诉|位于|地址是|地址|就在|来电|报告|市民)+")
# A road or an estate named on its own is an address; a bare district or number is not.
_ALONE = frozenset({"路", "街", "大道", "巷", "胡同", "小区", "花园", "家园", "新村", "大厦"})
_ALONE_MAX = 6
# Catalogue keywords that say where rather than what: they count little for a topic and
# nothing for a territorial unit (社区医院 is not the district's business).
PLACE_WORDS = frozenset({"小区", "社区"})


class CatalogueEntry(Protocol):
    """What suggestions need of a responsibility entry (workorders.models)."""

    @property
    def category(self) -> str: ...
    @property
    def unit_id(self) -> str: ...
    @property
    def keywords(self) -> str: ...
    @property
    def time_limit_class(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Suggested(Generic[T]):
    value: T
    reason: str


@dataclass(frozen=True, slots=True)
class CategoryMatch:
    category: str
    unit_id: str
    score: int
    keywords: tuple[str, ...]
    time_limit_class: str | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: Suggested[OrderKind]
    category: Suggested[str] | None
    units: Suggested[tuple[str, ...]] | None  # lead first
    assisting: Suggested[tuple[str, ...]] | None  # 属地 units to add for a joint dispatch
    time_limit: Suggested[str] | None
    address: Suggested[str] | None
    alternatives: tuple[CategoryMatch, ...]  # further entries that matched, best first
    urgent: bool


def normalize(text: str) -> str:
    """NFKC, no whitespace (a recogniser's word gaps and a typist's spaces alike)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _count(text: str, cue: str) -> int:
    return text.count(cue)


def suggest_kind(text: str) -> Suggested[OrderKind]:
    flat = normalize(text)
    scores: dict[OrderKind, int] = {}
    heard: dict[OrderKind, list[str]] = {}
    for kind, cues in KIND_CUES.items():
        for cue, weight in cues:
            n = _count(flat, cue)
            if n:
                scores[kind] = scores.get(kind, 0) + weight * n
                heard.setdefault(kind, []).append(cue)
    if not scores:
        return Suggested(OrderKind.inquiry, "未听到明确的诉求类型用语，默认咨询")
    best = max(KIND_PRIORITY, key=lambda k: (scores.get(k, 0), -KIND_PRIORITY.index(k)))
    words = "、".join(f"“{w}”" for w in heard[best][:4])
    return Suggested(best, f"听到{words}（{best.label}）")


def find_address(text: str) -> Suggested[str] | None:
    flat = normalize(text)
    best = ""
    for match in _ADDRESS.finditer(flat):
        found = match.group(0)
        marks = _PLACE_MARK.findall(found)
        enough = len(marks) >= 2 or (
            len(marks) == 1 and marks[0] in _ALONE and 3 <= len(found) <= _ALONE_MAX
        )
        if enough and len(found) > len(best):
            best = found
    best = _LEADING_VERB.sub("", best)
    if not best:
        return None
    return Suggested(best, f"通话中提到地址“{best}”")


def _keywords(entry: CatalogueEntry) -> tuple[str, ...]:
    return tuple(w for w in entry.keywords.split() if w)


def _with_synonyms(text: str) -> str:
    """The text followed by the catalogue word of every colloquial word in it."""
    extra = [canonical for word, canonical in SYNONYMS.items() if word in text]
    return text if not extra else text + "|" + "|".join(extra)


def match_catalogue(
    text: str,
    catalogue: Iterable[CatalogueEntry],
    *,
    skip_units: frozenset[str] = frozenset(),
    territorial: bool = False,
) -> list[CategoryMatch]:
    """Entries whose keywords occur in `text`, best first (ties: catalogue order).

    A place word (`PLACE_WORDS`) scores 1; with `territorial`, it does not count at all.
    """
    haystack = _with_synonyms(normalize(text))
    found: list[tuple[int, int, CategoryMatch]] = []
    for order, entry in enumerate(catalogue):
        if entry.unit_id in skip_units:
            continue
        words = tuple(w for w in _keywords(entry) if w in haystack)
        if territorial:
            words = tuple(w for w in words if w not in PLACE_WORDS)
        if words:
            score = sum(1 if w in PLACE_WORDS else len(w) for w in words)
            match = CategoryMatch(entry.category, entry.unit_id, score, words,
                                  entry.time_limit_class)  # fmt: skip
            found.append((-score, order, match))
    found.sort(key=lambda f: (f[0], f[1]))
    return [m for _, _, m in found]


def _hours(limit: TimeLimitClass) -> float:
    if limit.unit is LimitUnit.hours:
        return limit.amount
    if limit.unit is LimitUnit.days:
        return limit.amount * 24
    return limit.amount * 24 * 7 / 5  # working days, on average across weekends


def _nearest(policy: SlaPolicy, key: str) -> str:
    """`key` if the preset has it, else the preset class nearest in duration to it."""
    if key in policy.classes:
        return key
    hours = {"immediate": 1.0}.get(key)
    m = re.fullmatch(r"(h|d|wd)(\d+)", key)
    if m:
        amount = float(m.group(2))
        hours = {"h": amount, "d": amount * 24, "wd": amount * 24 * 7 / 5}[m.group(1)]
    if hours is None:
        return policy.default_class
    return min(policy.classes, key=lambda k: abs(_hours(policy.classes[k]) - hours))


def suggest_time_limit(
    policy: SlaPolicy, match: CategoryMatch | None, urgent_words: Sequence[str]
) -> Suggested[str]:
    if urgent_words:
        key = min(policy.classes, key=lambda k: _hours(policy.classes[k]))
        words = "、".join(f"“{w}”" for w in urgent_words[:3])
        return Suggested(key, f"听到{words}，情况紧急，按最短时限“{policy.limit(key).label}”")
    if match is not None and match.time_limit_class:
        key = _nearest(policy, match.time_limit_class)
        return Suggested(key, f"职责清单“{match.category}”的常规时限“{policy.limit(key).label}”")
    key = policy.default_class
    return Suggested(key, f"本市默认时限“{policy.limit(key).label}”")


def suggest(
    text: str,
    catalogue: Sequence[CatalogueEntry],
    *,
    policy: SlaPolicy | None = None,
    territorial_units: frozenset[str] = frozenset(),
    unit_names: Mapping[str, str] | None = None,
) -> Suggestion:
    """Everything the draft order can be prefilled with from `text`, each with a reason."""
    names = unit_names or {}
    flat = normalize(text)
    address = find_address(flat)
    topic_text = flat.replace(address.value, "，") if address else flat
    topics = match_catalogue(topic_text, catalogue, skip_units=territorial_units)
    territorial = [m for m in match_catalogue(flat, catalogue) if m.unit_id in territorial_units]
    lead = topics[0] if topics else (territorial[0] if territorial else None)
    category = units = assisting = None
    if lead is not None:
        words = "、".join(f"“{w}”" for w in lead.keywords[:4])
        unit = names.get(lead.unit_id, lead.unit_id)
        category = Suggested(lead.category, f"关键词{words}对应职责清单“{lead.category}”")
        lead_units: tuple[str, ...] = (lead.unit_id,)
        units = Suggested(lead_units, f"职责清单中“{lead.category}”由{unit}承办")
        extra = tuple(m.unit_id for m in territorial if m.unit_id != lead.unit_id)[:1]
        if extra:
            where = names.get(extra[0], extra[0])
            assisting = Suggested(extra, f"地址属{where}辖区，可双派属地协办")
    urgent = tuple(w for w in URGENT_CUES if w in flat)
    limit = suggest_time_limit(policy, lead, urgent) if policy is not None else None
    alternatives = tuple(m for m in topics[1:4] if lead is None or m.unit_id != lead.unit_id)
    return Suggestion(
        kind=suggest_kind(flat),
        category=category,
        units=units,
        assisting=assisting,
        time_limit=limit,
        address=address,
        alternatives=alternatives,
        urgent=bool(urgent),
    )
