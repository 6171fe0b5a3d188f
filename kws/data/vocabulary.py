"""A large unknown vocabulary for the synthetic keyword set: common short English words.

A keyword model learns what is *not* a keyword from its unknown words. With only the 33 other Speech
Commands words it never hears the keywords' neighbours (yes/yet/less, no/now/note, down/town, go/goat), and
real speech is full of them. `synth.extra_unknown_words` adds a seeded sample of this list to the unknown
words:

    from kws.data.vocabulary import extra_unknown_words
    extra_unknown_words(cfg)          # the words synth.extra_unknown_words adds, for cfg.keywords

The list is generic, not tuned to any keyword pair: common one- and two-syllable words covering English
onsets, vowels and codas, so every keyword finds its near neighbours in it. It holds no Speech Commands word
and no homophone of one (know, write, won, to, too, for, ate ... are left out), so no keyword of that
vocabulary is ever taught as unknown under another spelling; words that sound like a chosen keyword are
dropped again at sampling time (HOMOPHONES) for keywords from outside it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from kws.config import SPEECH_COMMANDS_WORDS_V2, SynthConfig

COMMON_WORDS: tuple[str, ...] = (
    # near the Speech Commands words and each other
    "yet", "yell", "yeah", "yard", "yarn", "yawn", "year", "yellow", "young", "youth", "yoga", "yolk",
    "less", "mess", "guess", "dress", "chess", "press", "bless", "nest", "best", "test", "rest", "west", "jest",
    "now", "new", "knee", "nose", "note", "snow", "slow", "low", "toe", "so", "show", "though", "row", "bow",
    "dough", "oh", "owe", "nap", "net", "nut", "nail", "name", "near", "neck", "nice", "noise", "noon", "north",
    "goat", "goal", "ghost", "coat", "code", "gold", "gone", "good", "got", "game", "gate", "give", "glass",
    "town", "brown", "clown", "crown", "gown", "noun", "round", "sound", "ground", "found", "mound", "pound",
    "dawn", "done", "door", "dot", "duck", "dust", "dark", "day", "deep", "desk", "dime", "dish", "dive",
    "cup", "pup", "hop", "top", "cop", "us", "bus", "hub", "club", "rub", "sub", "cut", "luck", "lot",
    "lift", "loft", "laugh", "lest", "lend", "lens", "lamp", "land", "last", "late", "lead", "leaf", "leg",
    "bright", "light", "night", "ride", "ripe", "rice", "white", "kite", "bite", "fight", "height", "might",
    "shop", "step", "stomp", "drop", "spot", "stock", "stuck", "stone", "store", "storm", "story", "style",
    "an", "in", "odd", "honest", "often", "cough", "of", "if", "oft", "ought", "awe",
    "sip", "sick", "sit", "silk", "mix", "fix", "sixty",
    "heaven", "seventy", "eleven", "twelve", "twenty", "forty", "fifty", "ninety", "hundred", "thousand",
    "zebra", "zone", "zoo", "hero", "arrow", "narrow", "sparrow", "tomorrow", "borrow", "hollow", "fellow",
    "bad", "bat", "bet", "bid", "bit", "boat", "boot", "bread", "bedroom", "burn",
    "word", "third", "world", "girl", "hurt", "turn", "earn", "worm", "firm", "nurse",
    "cap", "cab", "cot", "cut", "can", "cart", "card", "catch", "cattle", "kitten", "cast", "calm",
    "dig", "dug", "fog", "log", "frog", "jog", "hog", "dock", "doll", "dull", "dodge",
    "hippo", "happen", "habit", "hammer", "handy", "hobby", "poppy", "puppy", "copy", "hazy", "lazy",
    "horse", "mouse", "houses", "how", "cow", "owl", "loud", "cloud", "proud", "shout",
    "marvel", "marble", "martin", "carbon", "garden", "market", "marker", "harvest",
    "shelf", "shell", "sheet", "shield", "sheep", "she", "cheetah", "feeler", "healer", "teller",
    "free", "tea", "treat", "trip", "truck", "true", "trust", "try", "tray", "train",
    "wall", "water", "wave", "way", "we", "well", "wet", "what", "wheel", "when", "where", "which", "while",
    "back", "backpack", "backyard", "background", "award", "toward", "coward",
    "foreign", "former", "fortune", "forest", "format", "formal", "forget", "forgive",
    "swallow", "fallow", "pillow", "willow", "mellow",
    "earth", "early", "churn", "fern", "stern", "term",
    "visit", "vision", "video", "virtual", "vista", "usual", "casual", "actual", "ritual",
    "apple", "arm", "art", "ask", "away", "baby", "ball", "bank", "bell", "big", "black", "blue", "book",
    "box", "boy", "cake", "call", "car", "chair", "city", "class", "clean", "close", "cold", "come", "cook",
    "cool", "corn", "count", "dance", "dear", "drink", "drive", "each", "ear", "east", "eat", "egg", "end",
    "even", "eye", "face", "fact", "fall", "farm", "fast", "fat", "feel", "feet", "fill", "find", "fine",
    "fire", "fish", "flag", "floor", "fly", "food", "foot", "fox", "friend", "full", "fun", "gas", "get",
    "grass", "green", "grow", "hair", "half", "hand", "hard", "hat", "have", "head", "hear", "help", "here",
    "high", "hill", "hit", "hold", "home", "hope", "hot", "ice", "inch", "ink", "jam", "job", "join", "jump",
    "just", "keep", "key", "kind", "king", "kiss", "lake", "large", "lay", "life", "like",
    "line", "lion", "lip", "list", "long", "look", "love", "make", "man", "many", "map", "milk", "mind",
    "miss", "moon", "more", "most", "move", "much", "music", "must", "my", "neat", "next", "nib",
    "open", "orange", "other", "out", "over", "own", "page", "paint", "pair", "park", "part", "pass", "pay",
    "pen", "pick", "pig", "pink", "place", "plan", "play", "please", "pull", "push", "put", "queen", "quick",
    "quiet", "rain", "read", "red", "ring", "river", "road", "rock", "roof", "room", "rope", "rose", "run",
    "sad", "safe", "salt", "same", "sand", "say", "school", "sea", "seat", "see", "seed", "sell", "send",
    "ship", "shoe", "short", "side", "sign", "sing", "sink", "sister", "sky", "sleep", "small", "smile",
    "soft", "some", "song", "soon", "soup", "speak", "spring", "star", "start", "stay", "still", "street",
    "sun", "sure", "table", "tail", "take", "talk", "tall", "teach", "team", "tell", "ten", "than", "that",
    "them", "then", "there", "thing", "think", "this", "time", "tiny", "today", "told", "tool", "tooth",
    "touch", "toy", "under", "until", "use", "very", "voice", "wait", "walk", "want", "warm", "wash",
    "watch", "wide", "wild", "win", "wind", "window", "wing", "winter", "wish", "with", "wood", "work",
    "wrote", "yak", "zip",
)
"""Common short English words (deduplicated at import by `vocabulary()`)."""

HOMOPHONES: dict[str, tuple[str, ...]] = {
    "no": ("know",), "right": ("write", "rite", "wright"), "one": ("won",), "two": ("to", "too"),
    "four": ("for", "fore"), "eight": ("ate",), "forward": ("foreword",), "wow": ("vow",), "nine": ("nein",),
}
"""Words that sound like a keyword: never taught as unknown when that keyword is chosen."""


def vocabulary() -> tuple[str, ...]:
    """COMMON_WORDS without repeats and without any Speech Commands word, in first-seen order."""
    seen: dict[str, None] = {}
    banned = set(SPEECH_COMMANDS_WORDS_V2) | {h for hs in HOMOPHONES.values() for h in hs}
    for word in COMMON_WORDS:
        if word not in banned:
            seen.setdefault(word, None)
    return tuple(seen)


def extra_unknown_words(cfg: SynthConfig) -> tuple[str, ...]:
    """The cfg.extra_unknown_words words drawn (seeded by cfg.seed) from `vocabulary()`, leaving out the
    keywords, the unknown words already listed and the keywords' homophones; sorted."""
    if cfg.extra_unknown_words <= 0:
        return ()
    taken = {w.lower() for w in (*cfg.keywords, *cfg.unknown_words)}
    taken |= {h for k in cfg.keywords for h in HOMOPHONES.get(k.lower(), ())}
    pool = [w for w in vocabulary() if w not in taken]
    seed = int.from_bytes(hashlib.sha256(b"extra_unknown_words").digest()[:8], "little")
    rng = np.random.default_rng([cfg.seed, seed])
    picked = rng.permutation(len(pool))[:cfg.extra_unknown_words]
    return tuple(sorted(pool[i] for i in picked))


__all__ = ["COMMON_WORDS", "HOMOPHONES", "extra_unknown_words", "vocabulary"]
