"""The built-in procedural text-classification set `topics`.

Each sentence is drawn from its own random stream, seeded by (seed, split, index), so a split is the
same everywhere. A sentence mixes a few words of its topic with words of one distractor topic, words
some topics share, common filler words and made-up noise words. Sentences with few topic words and
several distractors are genuinely ambiguous, which keeps a good model below 100%.
"""

from __future__ import annotations

import numpy as np

from compressor.data.text import TextBundle, TextSplits, make_text_bundle


def _vocab(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TOPICS: dict[str, tuple[str, ...]] = {
    "sports": _vocab(
        "goal match team coach league score player stadium referee season tournament striker defender trophy "
        "penalty champion fans halftime"
    ),
    "cooking": _vocab(
        "recipe oven flour butter simmer garlic onion sauce bake kitchen spoon dough pepper roast salad chef "
        "grill broth"
    ),
    "space": _vocab(
        "orbit rocket planet galaxy astronaut telescope comet nebula launch lunar asteroid satellite gravity "
        "cosmic mars probe stellar crater"
    ),
    "finance": _vocab(
        "stock market bond investor dividend bank interest loan equity inflation portfolio currency profit "
        "budget tax credit shares revenue"
    ),
    "medicine": _vocab(
        "doctor patient clinic vaccine surgery symptom nurse diagnosis therapy dose virus hospital fever "
        "treatment pill infection cardiac immune"
    ),
    "music": _vocab(
        "guitar melody concert album drum chorus violin singer rhythm piano band lyrics tempo orchestra song "
        "bass tune stage"
    ),
    "weather": _vocab(
        "rain storm forecast cloud thunder humid breeze snow drizzle sunny frost hail temperature wind fog "
        "tornado heatwave monsoon"
    ),
    "computing": _vocab(
        "software server compiler keyboard database network code python kernel cache algorithm processor bug "
        "cloud memory laptop debug cluster"
    ),
}
# Words two topics share, so a single word is not always decisive.
SHARED = {
    ("sports", "music"): ("stage", "fans", "performance", "tour"),
    ("finance", "computing"): ("data", "trading", "model", "system"),
    ("medicine", "cooking"): ("diet", "vitamin", "healthy", "portion"),
    ("space", "weather"): ("atmosphere", "solar", "radiation", "sky"),
}
FILLER = _vocab(
    "the a of and to in is was it that for on with as this at by from they we about after before very "
    "really just new said today week people some many more then there again also still time"
)
SPLIT_SIZES: dict[str, int] = {"train": 4000, "val": 1000}
_SPLIT_CODES = {"train": 0, "val": 1}
DEFAULT_SEED = 0
# Difficulty knobs, tuned so the reference text_transformer lands between 85% and 98% accuracy.
LENGTH = (8, 21)  # half-open range of words per sentence
TOPIC_WORDS = (2, 5)  # words of the sentence's own topic
DISTRACTOR_WORDS = (0, 3)  # words of one other topic
NOISE_FRACTION = 0.15  # share of the remaining words that are made-up noise
_SYLLABLES = ("ka", "lo", "mi", "ru", "ta", "ne", "zo", "pi", "vu", "sha", "gr", "el", "qu", "xi")


def topic_words(topic: str) -> tuple[str, ...]:
    shared = tuple(word for pair, extra in SHARED.items() if topic in pair for word in extra)
    return TOPICS[topic] + shared


def _noise_word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))


def make_sentence(rng: np.random.Generator, label: int) -> str:
    """One sentence of topic `label`: topic and distractor words among filler and noise, shuffled."""
    names = list(TOPICS)
    distractor = names[(label + int(rng.integers(1, len(names)))) % len(names)]
    length = int(rng.integers(*LENGTH))
    picked = list(rng.choice(topic_words(names[label]), size=int(rng.integers(*TOPIC_WORDS))))
    picked += list(rng.choice(topic_words(distractor), size=int(rng.integers(*DISTRACTOR_WORDS))))
    while len(picked) < length:
        picked.append(_noise_word(rng) if rng.random() < NOISE_FRACTION else str(rng.choice(FILLER)))
    order = rng.permutation(len(picked))
    return " ".join(str(picked[i]) for i in order)


def make_split(split: str, size: int, seed: int = DEFAULT_SEED) -> tuple[list[str], list[int]]:
    """Sentences and labels; labels cycle through the topics, so every split is exactly balanced."""
    labels = [index % len(TOPICS) for index in range(size)]
    texts = [make_sentence(np.random.default_rng([seed, _SPLIT_CODES[split], i]), y) for i, y in enumerate(labels)]
    return texts, labels


def topics_bundle(seed: int = DEFAULT_SEED) -> TextBundle:
    splits = TextSplits(
        train=make_split("train", SPLIT_SIZES["train"], seed), val=make_split("val", SPLIT_SIZES["val"], seed)
    )
    return make_text_bundle("topics", list(TOPICS), f"topics-v1-seed{seed}", splits)
