"""What the pretraining loop prints: spaCy's table of losses and words/s."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

ROW_SETTINGS = {"widths": (3, 10, 10, 6, 6), "aligns": ("r", "r", "r", "r", "r")}
HEADER = ("#", "# Words", "Total Loss", "Loss", "w/s")


@dataclass
class ProgressTracker:
    """spaCy's table: a row every ``frequency`` words with total loss, loss since the last row, words/s."""

    frequency: int = 10000
    loss: float = 0.0
    prev_loss: float = 0.0
    epoch_loss: float = 0.0
    nr_word: int = 0
    last_update: int = 0
    words_per_epoch: Dict[int, int] = field(default_factory=Counter)
    seconds: float = 0.0  # training time over the whole run, resumes included
    last_time: float = field(default_factory=time.perf_counter)
    run_start: float = field(default_factory=time.perf_counter)
    run_words: int = 0

    def update(self, epoch: int, loss: float, n_words: int) -> Optional[Tuple[Any, ...]]:
        self.loss += loss
        self.epoch_loss += loss
        self.words_per_epoch[epoch] += n_words
        self.nr_word += n_words
        self.run_words += n_words
        since = self.nr_word - self.last_update
        if since < self.frequency:
            return None
        now = time.perf_counter()
        wps = since / max(now - self.last_time, 1e-9)
        row = (
            epoch,
            self.nr_word,
            _smart_round(self.loss, 10),
            _smart_round(self.loss - self.prev_loss, 6),
            int(wps),
        )
        self.last_update, self.last_time, self.prev_loss = self.nr_word, now, self.loss
        return row

    @property
    def words_per_second(self) -> float:
        return self.run_words / max(time.perf_counter() - self.run_start, 1e-9)

    def to_json(self) -> Dict[str, Any]:
        return {
            "loss": self.loss,
            "prev_loss": self.prev_loss,
            "epoch_loss": self.epoch_loss,
            "nr_word": self.nr_word,
            "last_update": self.last_update,
            "words_per_epoch": {str(k): v for k, v in self.words_per_epoch.items()},
        }

    def load_json(self, data: Dict[str, Any]) -> None:
        for key in ("loss", "prev_loss", "epoch_loss", "nr_word", "last_update"):
            setattr(self, key, data[key])
        self.words_per_epoch = Counter({int(k): v for k, v in data["words_per_epoch"].items()})


def _smart_round(figure: float, width: int) -> str:
    """Integers for big numbers, as many decimals as fit (at most 4) for small ones."""
    n_decimal = min(width - (len(str(int(figure))) + 1), 4)
    return str(int(figure)) if n_decimal <= 1 else f"{figure:.{n_decimal}f}"
