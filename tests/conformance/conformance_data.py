"""The fixed corpus, queries, filter cases and reference answers of the conformance suite.

Everything here is deterministic: 30 nodes over 3 ref docs with 8-dim float32-exact
embeddings, int / float / str / list metadata with keys missing (and one explicit
``None``), and the reference answers computed the way LlamaIndex itself computes them:
leaf filters through ``build_metadata_filter_fn``, ranking by cosine similarity.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from llama_index.core.schema import (
    BaseNode,
    IndexNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

DIM = 8
DOCS = ("doc-a", "doc-b", "doc-c")
N_NODES = 30

_YEARS = [2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010]
_SCORES = [0.5, 1.0, 1.5, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
_GENRES = ["sci-fi", "Sci-Fi classic", "fantasy", "mystery", "", "romance", "SCI-FI noir"]
_TAGS: list[list[str]] = [
    ["space", "robots"],
    ["magic"],
    [],
    ["space"],
    ["robots", "magic", "space"],
    ["crime"],
]


def unit(vector: Sequence[float]) -> list[float]:
    """A float32-exact unit vector as a list of Python floats (same input for every store)."""
    array = np.asarray(vector, dtype=np.float64)
    array = array / np.linalg.norm(array)
    return [float(x) for x in array.astype(np.float32)]


def _metadata(i: int, rng: random.Random) -> dict[str, Any]:
    metadata: dict[str, Any] = {"position": i}
    if i % 5 != 4:  # every fifth node has no year
        metadata["year"] = _YEARS[(i * 7) % len(_YEARS)]
    if i % 4 != 3:  # every fourth node has no score
        metadata["score"] = _SCORES[(i * 5) % len(_SCORES)]
    if i == 13:
        metadata["score"] = None  # an explicit None reads as missing in the reference
    if i % 6 != 5:
        metadata["genre"] = _GENRES[(i * 3) % len(_GENRES)]
    if i % 7 != 6:
        metadata["tags"] = list(_TAGS[i % len(_TAGS)])
    metadata["lucky"] = rng.random() < 0.5
    return metadata


def _build_corpus() -> list[BaseNode]:
    rng = random.Random(20240611)
    np_rng = np.random.default_rng(7)
    nodes: list[BaseNode] = []
    for i in range(N_NODES):
        doc = DOCS[i % 3]
        node_id = f"node-{i:02d}"
        relationships: dict[NodeRelationship, Any] = {
            NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc, metadata={"origin": doc}),
        }
        if i >= 3:
            relationships[NodeRelationship.PREVIOUS] = RelatedNodeInfo(node_id=f"node-{i - 3:02d}")
        if i < N_NODES - 3:
            relationships[NodeRelationship.NEXT] = RelatedNodeInfo(node_id=f"node-{i + 3:02d}")
        if i == 4:
            relationships[NodeRelationship.CHILD] = [
                RelatedNodeInfo(node_id="node-07"),
                RelatedNodeInfo(node_id="node-10"),
            ]
        embedding = unit(np_rng.normal(size=DIM))
        common: dict[str, Any] = {
            "id_": node_id,
            "text": f"Passage {i} of {doc}: ünïcode “quotes” and a tab\there.",
            "metadata": _metadata(i, rng),
            "relationships": relationships,
            "embedding": embedding,
            "excluded_llm_metadata_keys": ["position"],
            "start_char_idx": i * 10,
            "end_char_idx": i * 10 + 9,
        }
        if i in (8, 21):
            nodes.append(IndexNode(index_id=f"sub-index-{i}", **common))
        else:
            nodes.append(TextNode(**common))
    return nodes


def corpus() -> list[BaseNode]:
    """Fresh copies of the corpus nodes (tests may mutate what they get)."""
    return [node.model_copy(deep=True) for node in _CORPUS]


_CORPUS = _build_corpus()
CORPUS_IDS = [node.node_id for node in _CORPUS]
BY_ID = {node.node_id: node for node in _CORPUS}
REF_DOC = {node.node_id: node.ref_doc_id for node in _CORPUS}


def queries(count: int, seed: int) -> list[list[float]]:
    np_rng = np.random.default_rng(seed)
    return [unit(np_rng.normal(size=DIM)) for _ in range(count)]


QUERY = queries(1, 1)[0]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def rank(
    query: Sequence[float],
    candidate_ids: Iterable[str],
    top_k: int,
    nodes: dict[str, BaseNode] | None = None,
) -> list[str]:
    """Reference ranking: candidates by cosine similarity, best first, at most top_k."""
    table = nodes or BY_ID
    scored = sorted(
        ((cosine(query, table[i].get_embedding()), i) for i in candidate_ids), reverse=True
    )
    return [node_id for _, node_id in scored[:top_k]]


# -- filters ---------------------------------------------------------------------------------

# (operator, key, value) leaf cases: each operator on the field types where the reference
# gives it a meaning. Left out, because the reference raises TypeError on present values
# (or compares Python lists lexicographically, which no store should be asked to copy):
# GT/GTE/LT/LTE/IN/NIN on the list field, ANY/ALL on int/float/str fields, CONTAINS on
# int/float, TEXT_MATCH(_INSENSITIVE) on int/float/list.
F = FilterOperator
LEAF_CASES: list[tuple[FilterOperator, str, Any]] = [
    (F.EQ, "year", 2003),
    (F.EQ, "score", 3.0),
    (F.EQ, "score", 3),  # int value on a float field: 3 == 3.0
    (F.EQ, "genre", "fantasy"),
    (F.EQ, "tags", ["space"]),
    (F.NE, "year", 2003),
    (F.NE, "score", 2.5),
    (F.NE, "genre", "fantasy"),
    (F.NE, "tags", ["space"]),
    (F.GT, "year", 2005),
    (F.GT, "score", 2.5),
    (F.GT, "genre", "m"),
    (F.GTE, "year", 2005),
    (F.GTE, "score", 2.5),
    (F.GTE, "genre", "mystery"),
    (F.LT, "year", 2005),
    (F.LT, "score", 2.5),
    (F.LT, "genre", "m"),
    (F.LTE, "year", 2005),
    (F.LTE, "score", 2.5),
    (F.LTE, "genre", "mystery"),
    (F.IN, "year", [2001, 2003, 2099]),
    (F.IN, "score", [1.5, 4.0]),
    (F.IN, "genre", ["fantasy", "mystery"]),
    (F.NIN, "year", [2001, 2003, 2099]),
    (F.NIN, "score", [1.5, 4.0]),
    (F.NIN, "genre", ["fantasy", "mystery"]),
    (F.ANY, "tags", ["robots", "crime"]),
    (F.ALL, "tags", ["space", "robots"]),
    (F.CONTAINS, "tags", "space"),
    (F.CONTAINS, "genre", "fi"),
    (F.TEXT_MATCH, "genre", "Sci"),
    (F.TEXT_MATCH_INSENSITIVE, "genre", "sci"),
    (F.IS_EMPTY, "year", None),
    (F.IS_EMPTY, "score", None),
    (F.IS_EMPTY, "genre", None),
    (F.IS_EMPTY, "tags", None),
]

_KIND = {"year": "int", "score": "float", "genre": "str", "tags": "list"}


def leaf_id(case: tuple[FilterOperator, str, Any]) -> str:
    operator, key, value = case
    suffix = "-intvalue" if key == "score" and type(value) is int else ""
    return f"{operator.name}-{_KIND[key]}{suffix}"


def leaf(case: tuple[FilterOperator, str, Any]) -> MetadataFilter:
    operator, key, value = case
    return MetadataFilter(key=key, value=value, operator=operator)


def metadata_of(node_id: str) -> dict[str, Any]:
    return BY_ID[node_id].metadata


def matches(filters: MetadataFilters | None, node_id: str) -> bool:
    """Reference evaluation: leaves (and flat lists) through ``build_metadata_filter_fn``;
    nesting combined with the same AND / OR / NOT (= none match) rules."""
    if filters is None or not filters.filters:
        return True
    results = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            results.append(matches(item, node_id))
        else:
            single = MetadataFilters(filters=[item])
            results.append(build_metadata_filter_fn(metadata_of, single)(node_id))
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return all(results)
    if condition == FilterCondition.OR:
        return any(results)
    return not any(results)


def matching_ids(filters: MetadataFilters | None, ids: Iterable[str] = CORPUS_IDS) -> list[str]:
    return [node_id for node_id in ids if matches(filters, node_id)]


def flat_reference(filters: MetadataFilters) -> Callable[[str], bool]:
    """The unmodified LlamaIndex function (flat filters only)."""
    return build_metadata_filter_fn(metadata_of, filters)


def random_filters(rng: random.Random, depth: int, nested: bool) -> MetadataFilters:
    """A random filter tree over the leaf cases; flat (one level) unless ``nested``."""
    condition = rng.choice([FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT])
    items: list[MetadataFilter | MetadataFilters] = []
    for _ in range(rng.randint(1, 3)):
        if nested and depth > 0 and rng.random() < 0.4:
            items.append(random_filters(rng, depth - 1, nested))
        else:
            items.append(leaf(rng.choice(LEAF_CASES)))
    return MetadataFilters(filters=items, condition=condition)


# -- MMR corpus: three tight clusters 120 degrees apart ------------------------------------


def mmr_nodes() -> list[TextNode]:
    np_rng = np.random.default_rng(99)
    nodes = []
    for c, angle in enumerate((0.0, 2.0943951, 4.1887902)):
        for j in range(3):
            vector = np.zeros(DIM)
            vector[0], vector[1] = np.cos(angle), np.sin(angle)
            vector[2:] = np_rng.normal(scale=0.05, size=DIM - 2)
            nodes.append(
                TextNode(
                    id_=f"mmr-{'abc'[c]}{j}",
                    text=f"cluster {'abc'[c]} member {j}",
                    metadata={"cluster": "abc"[c]},
                    embedding=unit(vector),
                )
            )
    return nodes


MMR_QUERY = unit([1.0, 0.15, 0.02, 0.0, 0.0, 0.0, 0.0, 0.0])
