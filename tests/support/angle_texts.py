"""An embedder whose similarities the test chooses: each known text sits on a circle, the
first question at angle 0 and every other text at the angle whose cosine is its similarity
to it (so ``SIMILARITY[text]`` is exactly what a search reports against ``STORED``).

Example::

    from angle_texts import STORED, PARAPHRASE, angle_embedder
    ResponseCache(embedder=angle_embedder, threshold=0.5)
"""

from __future__ import annotations

import math

STORED = "how should I water a cactus"
PARAPHRASE = "tell me the cactus watering routine"
OTHER = "cactus irrigation schedule please"
SIMILARITY = {
    STORED: 1.0,
    PARAPHRASE: 0.93,
    OTHER: 0.91,
    "how often does a cactus need water": 0.95,
    "what about feeding succulents": 0.88,
    "unrelated weather forecast today": 0.1,
}


def angle_embedder(text: str) -> list[float]:
    theta = math.acos(SIMILARITY[text])
    return [math.cos(theta), math.sin(theta), 0.0]
