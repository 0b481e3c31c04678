"""Synthetic labelled feedback: what diners tell the app about a visit, in English and
Cantonese, with the aspects each complaint is about (the aspect model's ground truth).

Most feedback is a complaint about one or two aspects, closed by a generic negative
phrase; the rest is praise with no aspect. ``World.feedback`` writes a day of it;
``complaints`` plants a burst about one aspect at one restaurant (a hygiene spike).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

ASPECTS = ("food_quality", "service", "price_value", "hygiene", "wait_time", "ambience", "delivery", "other")

ASPECT_PHRASES = {
    ("en", "food_quality"): ["the {dish} was undercooked", "the {dish} tasted stale", "the food was bland",
                             "the {dish} was far too salty", "the {dish} came out burnt", "the {dish} was soggy"],
    ("yue", "food_quality"): ["{dish}唔熟", "{dish}好鞋", "啲餸冇味", "{dish}鹹到死", "{dish}燶咗", "{dish}唔新鮮"],
    ("en", "service"): ["the waiter was rude", "the staff ignored us", "nobody took our order",
                        "the manager was dismissive", "the staff rolled their eyes at us",
                        "they forgot half our order"],
    ("yue", "service"): ["啲伙計好串", "職員當我哋透明", "叫極都冇人理", "經理態度好差", "侍應黑口黑面",
                         "漏咗一半嘢食"],
    ("en", "price_value"): ["way too expensive", "a hidden service charge on the bill", "not worth the money",
                            "they overcharged us", "small plates at big prices", "prices went up again"],
    ("yue", "price_value"): ["貴到離譜", "張單有隱藏收費", "完全唔抵", "收多咗錢", "咁嘅價錢份量好少", "又加價"],
    ("en", "hygiene"): ["saw a cockroach in the kitchen", "found a hair in my {dish}", "the toilet was filthy",
                        "got food poisoning after eating here", "the cutlery was dirty", "the {dish} smelled off"],
    ("yue", "hygiene"): ["見到曱甴", "{dish}入面有條頭髮", "廁所好污糟", "食完食物中毒", "啲餐具好污糟",
                         "{dish}有陣臭味"],
    ("en", "wait_time"): ["waited an hour for a table", "the {dish} took 45 minutes to arrive", "the queue was endless",
                          "the kitchen was so slow", "we waited ages for the bill", "had a booking and still waited"],
    ("yue", "wait_time"): ["等位等咗一個鐘", "{dish}等咗四十五分鐘", "排隊排到天荒地老", "出餐好慢", "埋單都要等好耐",
                           "訂咗位都要等"],
    ("en", "ambience"): ["way too noisy to talk", "the music was deafening", "the room was cramped and stuffy",
                         "the lights were glaring", "the air con was broken", "it smelled of smoke inside"],
    ("yue", "ambience"): ["嘈到傾唔到偈", "啲音樂大聲到爆", "又逼又焗", "燈光刺眼", "冷氣壞咗", "入面一陣煙味"],
    ("en", "delivery"): ["the delivery arrived an hour late", "the rider spilled the soup",
                         "the delivery was missing items", "the delivery came lukewarm",
                         "the courier went to the wrong address", "the packaging leaked"],
    ("yue", "delivery"): ["外賣遲咗一個鐘", "外賣員倒瀉咗個湯", "外賣漏咗嘢", "外賣到嘅時候凍晒", "外賣送錯地址",
                          "外賣盒漏晒"],
    ("en", "other"): ["there was nowhere to park", "the website had the wrong opening hours",
                      "they closed early without notice", "the app booking did not work", "they would not take cards",
                      "there was no wheelchair access"],
    ("yue", "other"): ["冇位泊車", "網上嘅營業時間係錯", "無啦啦早收", "App訂唔到位", "唔收信用卡", "冇輪椅通道"],
}
NEGATIVE_CLOSERS = {"en": ["never coming back", "really disappointed", "not recommended", "terrible experience"],
                    "yue": ["唔會再嚟", "好失望", "唔推介", "差到極"]}
PRAISE = {"en": ["the {dish} was delicious", "amazing service", "great value for money", "would definitely come back",
                 "friendly staff", "fresh and tasty"],
          "yue": ["{dish}好好食", "抵食", "服務好周到", "一定會再嚟", "好味", "職員好有禮貌"]}
DISHES = {
    "en": ["char siu", "wonton noodles", "milk tea", "dim sum", "ramen", "pasta", "steak", "curry", "egg tart",
           "hotpot"],
    "yue": ["叉燒", "雲吞麵", "奶茶", "點心", "拉麵", "意粉", "牛扒", "咖喱", "蛋撻", "火鍋"],
}
# the aspects a complaint is about, drawn by these weights; hygiene is rare, as it should be
ASPECT_WEIGHTS = np.array([0.24, 0.2, 0.14, 0.05, 0.14, 0.09, 0.09, 0.05])
COMPLAINT_SHARE = 0.75


def feedback_text(rng: np.random.Generator, language: str, aspects: list[str]) -> str:
    """A complaint about ``aspects`` (praise when there are none), in ``language``."""
    dish = DISHES[language][rng.integers(len(DISHES[language]))]
    if aspects:
        parts = [ASPECT_PHRASES[(language, a)][rng.integers(6)] for a in aspects]
        parts.append(NEGATIVE_CLOSERS[language][rng.integers(len(NEGATIVE_CLOSERS[language]))])
    else:
        parts = [PRAISE[language][j] for j in rng.choice(len(PRAISE[language]), 2, replace=False)]
    sep, end = ("，", "。") if language == "yue" else (", ", ".")
    text = sep.join(parts).format(dish=dish)
    return (text[0].upper() + text[1:] if language == "en" else text) + end


def feedback_frame(rng: np.random.Generator, day: date, prefix: str, users: pd.DataFrame,
                   restaurant_ids: np.ndarray, aspect_lists: list[list[str]]) -> pd.DataFrame:
    """One row per feedback; ``users`` gives each row's user and language."""
    count = len(aspect_lists)
    texts = [feedback_text(rng, users["language"].iat[i], aspect_lists[i]) for i in range(count)]
    seconds = np.sort(rng.integers(0, 86400, count))
    return pd.DataFrame({
        "inference_id": [f"{prefix}-{day:%Y%m%d}-{i:06d}" for i in range(count)],
        "feedback_time": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s"),
        "user_id": users["user_id"].to_numpy(),
        "restaurant_id": restaurant_ids,
        "language": users["language"].to_numpy(),
        "text": texts,
        "sentiment": ["negative" if a else "positive" for a in aspect_lists],
        "aspects": ["|".join(sorted(a)) for a in aspect_lists],
    })


def draw_aspects(rng: np.random.Generator, count: int) -> list[list[str]]:
    """No aspect (praise) or one or two distinct aspects (a complaint) per feedback."""
    lists = []
    for _ in range(count):
        if rng.random() >= COMPLAINT_SHARE:
            lists.append([])
            continue
        k = 1 if rng.random() < 0.7 else 2
        lists.append([ASPECTS[j] for j in rng.choice(len(ASPECTS), k, replace=False, p=ASPECT_WEIGHTS)])
    return lists
