"""The bot-memory corpus (assets/memories.yaml): topic name → short texts, and topics per bot.

A bot's memories are the first ``traffic.memories_per_bot`` texts of its topic; the rest of the
topic is held out for shard texts, so semantic routing is measured on sentences no bot holds.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from game.errors import BadInput
from game.files import read_bytes
from game.paths import ASSETS_DIR

MEMORIES = ASSETS_DIR / "memories.yaml"


def load_corpus(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Read the corpus (assets/memories.yaml by default) as topic → texts, in file order.

    A missing file, bad YAML or a wrong shape raises :class:`BadInput` in one line naming the file
    (and the topic, where one is at fault).
    """
    file = MEMORIES if path is None else Path(path)
    data = read_bytes(file, "a memory corpus (YAML)")
    try:
        raw = msgspec.yaml.decode(data)
    except msgspec.DecodeError as err:
        raise BadInput(f"{file}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(raw, dict) or not raw:
        raise BadInput(f"{file}: expected a mapping of topic name -> list of texts")
    corpus: dict[str, tuple[str, ...]] = {}
    for topic, texts in raw.items():
        if not isinstance(topic, str) or not topic.strip():
            raise BadInput(f"{file}: topic {topic!r}: a topic name must be a non-empty string")
        if not isinstance(texts, list) or not texts:
            raise BadInput(f"{file}: topic {topic!r}: expected a non-empty list of texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise BadInput(
                    f"{file}: topic {topic!r}: text {i + 1} must be a non-empty string, "
                    f"got {text!r}"
                )
        corpus[topic] = tuple(text.strip() for text in texts)
    return corpus


def assign_topics(
    corpus: dict[str, tuple[str, ...]], n_bots: int, rng: np.random.Generator
) -> list[str]:
    """One topic per bot: a seeded shuffle of the topic names, cycled only when bots outnumber them.

    The same generator state always gives the same assignment.
    """
    if n_bots < 0:
        raise ValueError(f"n_bots must be >= 0, got {n_bots}")
    names = list(corpus)
    if not names:
        raise BadInput("the memory corpus has no topics")
    order = rng.permutation(len(names))
    return [names[int(order[i % len(names)])] for i in range(n_bots)]
