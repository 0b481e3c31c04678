"""What the synthetic world's reviewers write: phrases per language and sentiment, and the slang that replaces
them in the ``slang-shift`` scenario (the vocabulary drift the sentiment monitoring has to notice)."""

from __future__ import annotations

import numpy as np

# Review phrases per language and label; slang replaces the sentiment-bearing phrases.
PHRASES = {
    ("en", "positive"): ["the {dish} was delicious", "amazing service", "great value for money",
                         "would definitely come back", "loved the {dish}", "friendly staff", "best {dish} in town",
                         "fresh and tasty"],
    ("en", "negative"): ["the {dish} was bland", "rude staff", "overpriced for what you get", "waited forever",
                         "never coming back", "the {dish} was cold", "dirty tables", "terrible service"],
    ("en", "neutral"): ["it was okay", "average {dish}", "nothing special", "decent but a bit pricey",
                        "standard {dish}", "fine for a quick meal", "portions were normal", "service was alright"],
    ("yue", "positive"): ["{dish}好好食", "抵食", "服務好周到", "一定會再嚟", "好味", "新鮮又好食", "職員好有禮貌",
                          "性價比好高"],
    ("yue", "negative"): ["{dish}好難食", "貴得嚟唔抵", "服務好差", "等咗好耐", "唔會再嚟", "{dish}凍晒", "啲枱好污糟",
                          "態度好差"],
    ("yue", "neutral"): ["麻麻地", "{dish}一般般", "普普通通", "還可以", "正常水準", "份量一般", "冇咩特別",
                         "服務都OK"],
}
SLANG = {
    ("en", "positive"): ["the {dish} is fire", "{dish} slaps no cap", "lowkey goated", "chef's kiss",
                         "ate and left no crumbs"],
    ("en", "negative"): ["the {dish} was mid", "total L", "giving scam vibes", "straight up sus", "it's a flop"],
    ("yue", "positive"): ["{dish}yyds", "正到癲", "絕了", "勁到爆燈", "食到停唔到口"],
    ("yue", "negative"): ["中晒伏", "伏到痺", "{dish}係伏", "勁伏", "食完想喊"],
}
DISHES = {
    "en": ["char siu", "wonton noodles", "milk tea", "dim sum", "ramen", "pasta", "steak", "curry", "egg tart",
           "hotpot"],
    "yue": ["叉燒", "雲吞麵", "奶茶", "點心", "拉麵", "意粉", "牛扒", "咖喱", "蛋撻", "火鍋"],
}
FILLERS = {
    "en": ["came here for {tod}", "went with friends", "visited on a weekday", "tried the {dish}"],
    "yue": ["同朋友嚟食{tod}", "平日嚟", "試咗個{dish}", "第一次嚟"],
}
TOD_WORDS = {"en": ["breakfast", "lunch", "tea", "dinner", "supper"], "yue": ["早餐", "午餐", "下午茶", "晚飯", "宵夜"]}


def review_text(rng: np.random.Generator, lang: str, label: str, slang: bool) -> str:
    """A review in ``lang`` that says ``label``: two or three phrases, a filler, sometimes a mixed feeling."""
    dish = DISHES[lang][rng.integers(len(DISHES[lang]))]
    tod = TOD_WORDS[lang][rng.integers(5)]
    pool = PHRASES[(lang, label)]
    if slang and label != "neutral" and rng.random() < 0.85:
        pool = SLANG[(lang, label)]
    n = int(rng.integers(2, 4))
    parts = [pool[j] for j in rng.choice(len(pool), n, replace=False)]
    if rng.random() < 0.25:  # mixed feelings: one phrase from another label
        other = ("neutral", "positive", "negative")[rng.integers(3)]
        parts.append(PHRASES[(lang, other)][rng.integers(8)])
    parts.insert(int(rng.integers(0, len(parts) + 1)), FILLERS[lang][rng.integers(len(FILLERS[lang]))])
    sep = "，" if lang == "yue" else ", "
    text = sep.join(parts).format(dish=dish, tod=tod)
    return text + ("。" if lang == "yue" else ".")
