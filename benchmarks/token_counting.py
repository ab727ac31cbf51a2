"""5. Token counting: TokenCounter.count_text against the tiktoken Encoding it wraps, on 1 MB of text.

The text mixes prose, Markdown, code and some non-ASCII (accents, CJK, emoji), as chat messages do. Calls
alternate between the two, so the ratio compares calls made under the same load; it is the ratio of the best
times (on a shared machine noise only ever adds time), with the median of the pairs' ratios beside it. Both count
the same tokens (checked). Also reported: the app's streaming pattern, one count_text call per delta of about one token.
"""

from __future__ import annotations

import random
import time

from benchmarks import helpers as h

NAME = "token_counting"
SIZE = 1_000_000  # characters


def plan(quick: bool) -> int:
    return 9 if quick else 41


def mixed_text(size: int) -> str:
    rng = random.Random(5)
    extras = ["café naïve résumé", "数据 模型 终端", "emoji 🚀✨ ok", "Ελληνικά κείμενο", "Привет мир"]
    parts: list[str] = []
    total = 0
    seed = 0
    while total < size:
        seed += 1
        block = h.prose(4_000, seed) if seed % 2 else h.markdown(4_000, seed)
        words = block.split(" ")
        for _ in range(8):
            words.insert(rng.randrange(len(words)), rng.choice(extras))
        block = " ".join(words)
        parts.append(block)
        total += len(block) + 2
    return "\n\n".join(parts)[:size]


def run(quick: bool) -> list[h.Row]:
    from chatbot.core.tokens import TokenCounter

    repeats = plan(quick)
    text = mixed_text(SIZE)
    counter = TokenCounter("o200k_base")
    encoding = counter.encoding  # loaded before anything is timed
    assert encoding is h.encoding()
    direct = len(encoding.encode_ordinary(text))
    assert counter.count_text(text) == direct, "count_text and the encoding disagree"
    app_s, raw_s, ratios = [], [], []
    for i in range(repeats):
        first, second = (counter.count_text, encoding.encode_ordinary) if i % 2 else (
            encoding.encode_ordinary, counter.count_text)
        t0 = time.perf_counter()
        first(text)
        t1 = time.perf_counter()
        second(text)
        t2 = time.perf_counter()
        a, r = (t1 - t0, t2 - t1) if i % 2 else (t2 - t1, t1 - t0)
        app_s.append(a), raw_s.append(r), ratios.append(a / r)
    h.log(f"{NAME}: {direct:,} tokens in {len(text):,} chars; count_text best {min(app_s) * 1000:.1f} ms, "
          f"encode_ordinary best {min(raw_s) * 1000:.1f} ms")

    # The streaming pattern: one call per ~1-token delta (Session.reply counts every TextDelta).
    deltas = h.token_chunks("prose", 20_000)
    t0 = time.perf_counter()
    for d in deltas:
        counter.count_text(d)
    per_delta = (time.perf_counter() - t0) / len(deltas)
    return [
        h.check(NAME, "count_text / encoding time", min(app_s) / min(raw_s), "x", "<=", 1.1,
                f"best of {repeats} each, calls alternating (noise only adds time); median of the pairs' ratios "
                f"{h.median(ratios):.2f}", target_text="<= 1.1 x (~1)"),
        h.info(NAME, "count_text throughput", direct / min(app_s) / 1e6, "Mtok/s",
               f"{direct:,} tokens in {SIZE / 1e6:g} MB: {SIZE / min(app_s) / 1e6:.1f} MB/s (best); median "
               f"{direct / h.median(app_s) / 1e6:.2f} Mtok/s"),
        h.info(NAME, "tiktoken encode_ordinary throughput", direct / min(raw_s) / 1e6, "Mtok/s",
               f"best; median {direct / h.median(raw_s) / 1e6:.2f} Mtok/s"),
        h.info(NAME, "count_text per streamed delta", per_delta * 1e6, "us", "one call per ~1-token delta"),
    ]
