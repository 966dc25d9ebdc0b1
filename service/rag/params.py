"""The fitted parameters of retrieval and answering, read from one small versioned file.

`service/rag/params.json` ships with the parameters `rag-tune` (service/tune.py) fitted on the
train splits of four corpora; docs/quality.md says how and reports what they score. Nothing here
is hand-set: another embedding model, or a folder unlike these, is re-fitted with `rag-tune`, and
the service pointed at the result with PARAMS_FILE.

- `windows`: the size of a conversation's passages (service/rag/passages.py).
- `fusion`: the weight of each relevance feature of a passage (service/rag/retrieve.py, FEATURES),
  fitted by pairwise logistic regression: a passage that holds the answer against one that does not.
- `sentences`: the weight of each feature of a sentence as an answer (service/rag/extractive.py,
  SENTENCE_FEATURES), fitted by pairwise logistic regression: a sentence of a gold passage against
  another sentence of the passages shown.
- `abstention`: a logistic model over the evidence features (service/rag/extractive.py,
  EVIDENCE_FEATURES) giving the odds that a sentence answers the question; the built-in answerer
  declines below even odds, and a digest quotes a passage's best sentence at even odds or better.
- `topics`: `gap`, how far below the best turn (in fused score) a turn is still about a topic
  (service/rag/topics.py): the distance of the median gold turn of the train sets.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).with_name("params.json")
VERSION = 1


class ParamsError(ValueError):
    """A parameter file that cannot be used (wrong version, missing or unknown features)."""


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model: the log-odds are `bias + Σ weight * feature` (features by name)."""

    weights: dict[str, float]
    bias: float = 0.0

    def log_odds(self, features: dict[str, float]) -> float:
        return self.bias + sum(w * features[name] for name, w in self.weights.items())

    def probability(self, features: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, self.log_odds(features)))))


@dataclass(frozen=True)
class Params:
    window_target: int
    window_limit: int
    fusion: dict[str, float]  # feature name -> weight
    sentences: dict[str, float]  # what makes a sentence the answer: feature name -> weight
    abstention: Logistic
    topic_gap: float  # how far below the best turn a turn is still about a topic (service/rag/topics.py)
    fitted: dict = field(default_factory=dict)  # how and on what (for people; not read)

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "windows": {"target": self.window_target, "limit": self.window_limit},
            "fusion": self.fusion,
            "sentences": self.sentences,
            "abstention": {"bias": self.abstention.bias, "weights": self.abstention.weights},
            "topics": {"gap": self.topic_gap},
            "fitted": self.fitted,
        }

    @classmethod
    def from_json(cls, data: dict) -> Params:
        if data.get("version") != VERSION:
            raise ParamsError(f"parameter file version {data.get('version')!r}; this service reads version "
                              f"{VERSION} (re-fit with rag-tune)")
        ab = data["abstention"]
        return cls(int(data["windows"]["target"]), int(data["windows"]["limit"]),
                   {k: float(v) for k, v in data["fusion"].items()},
                   {k: float(v) for k, v in data["sentences"].items()},
                   Logistic({k: float(v) for k, v in ab["weights"].items()}, float(ab["bias"])),
                   float(data["topics"]["gap"]), data.get("fitted", {}))

    def check(self, what: str, weights: dict[str, float], features: tuple[str, ...]) -> None:
        """ParamsError unless `weights` are for some of `features` (a file fitted on other features)."""
        if unknown := set(weights) - set(features):
            raise ParamsError(f"{what} weights for unknown features {sorted(unknown)}; this service computes "
                              f"{list(features)} (re-fit with rag-tune)")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=8)
def load(path: Path | None = None) -> Params:
    """The parameters in `path` (None: the shipped file), read once."""
    try:
        return Params.from_json(json.loads((path or SHIPPED).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ParamsError(f"cannot read the parameter file {path or SHIPPED}: {e!r}") from e
