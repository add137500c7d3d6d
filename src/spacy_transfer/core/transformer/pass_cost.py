"""What a forward pass costs on this machine: a fixed part, in wordpieces' time, measured at run time.

A pass of ``n`` padded wordpieces takes about ``a + b * n`` seconds. The fixed part ``a``
(launching every layer's operations, synchronising the threads, small matrix products that
use the cores badly) decides how much padding is worth adding to save a pass, and it is not
a constant: MiniLM on 2 threads measured a/b = 66 wordpieces on an AVX-512 Xeon and 33 with
torch capped to its AVX2 kernels (matrix products 1.75x slower, fixed part the same), and a
CPU where the threads synchronise slowly pays more per pass. So the CPU inference passes
are planned with the ratio measured from the encoder's own passes (:class:`PassCost`): the
first few passes of a process are timed, a line fitted through them robustly, and the ratio
then fixed for the life of the model (the plan, and so the outputs' last bits, stop changing
once it is), rounded to a power of two so that noise between runs rarely moves it.
``SPACY_TRANSFER_PASS_OVERHEAD`` (wordpieces) sets it instead, for runs that must plan alike.
"""

from __future__ import annotations

import math
import os
import statistics
from typing import List, Optional, Tuple

from ...errors import UserError

ENV = "SPACY_TRANSFER_PASS_OVERHEAD"
PRIOR = 64.0  # before the measurement: the ratio measured on an AVX-512 Xeon (see above)
WARMUP = 2  # the first passes also pay for first-touch allocations and kernel set-up
SAMPLES = 16  # timed passes the fit uses
MIN_SPREAD = 2.0  # passes this many times apart in size give a slope
MIN_ENDS = 4  # timed passes needed at each end of the sizes
MAX_SAMPLES = 256  # passes too alike to fit by then: keep the prior
# Below 16 the fit had been misled (4-8 measured at nlp.pipe batch 1000, where the few small passes
# hold short rows, whose wordpieces cost less); measured alone, the ratio was 33-66 here.
BOUNDS = (16.0, 4096.0)


def overhead_from_env() -> Optional[float]:
    """The ratio ``SPACY_TRANSFER_PASS_OVERHEAD`` fixes, if set; a bad value stops with what to set."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise UserError(
            f"{ENV}={text!r} is not a number of wordpieces.",
            hint=f"Set it to a non-negative number (e.g. {ENV}=64), or unset it to measure it at run time.",
        )
    return value


def fit_overhead(samples: List[Tuple[int, float]]) -> Optional[float]:
    """a/b of the line ``seconds = a + b * items`` through the samples (Theil-Sen: the median
    of the pairwise slopes, so one pass slowed by another process does not move it), or None
    where the slope is not positive. Only pairs of passes at least ``MIN_SPREAD`` apart in
    size give a slope: most passes are near the bound, and a pair of nearly equal sizes
    gives noise over a small difference."""
    slopes = [
        (t2 - t1) / (n2 - n1)
        for i, (n1, t1) in enumerate(samples)
        for n2, t2 in samples[i + 1 :]
        if max(n1, n2) >= MIN_SPREAD * min(n1, n2)
    ]
    if not slopes:
        return None
    slope = statistics.median(slopes)
    if slope <= 0:
        return None
    intercept = statistics.median(t - slope * n for n, t in samples)
    return max(intercept, 0.0) / slope


def rounded(ratio: float) -> float:
    """The ratio clamped to BOUNDS and rounded to the nearest power of two."""
    low, high = BOUNDS
    return float(2 ** round(math.log2(min(max(ratio, low), high))))


class PassCost:
    """One encoder's fixed cost per forward pass, in wordpieces' time: the prior until its
    passes have been timed, then measured and fixed."""

    def __init__(self) -> None:
        fixed = overhead_from_env()
        self.overhead: float = PRIOR if fixed is None else fixed
        # Where the figure comes from: "measuring" (the prior until the fit), "measured",
        # "env" (SPACY_TRANSFER_PASS_OVERHEAD) or "prior" (passes too alike or noisy to fit).
        self.source = "measuring" if fixed is None else "env"
        self._seen = 0
        self._samples: List[Tuple[int, float]] = []

    @property
    def settled(self) -> bool:
        return self.source != "measuring"

    @property
    def measured(self) -> Optional[bool]:
        """True once measured, None while measuring, False where it was set or the fit failed."""
        return None if self.source == "measuring" else self.source == "measured"

    def observe(self, items: int, seconds: float) -> None:
        """One timed forward pass of ``items`` padded wordpieces."""
        if self.settled:
            return
        self._seen += 1
        if self._seen <= WARMUP:
            return
        self._samples.append((items, seconds))
        if len(self._samples) >= SAMPLES and self._spread():
            ratio = fit_overhead(self._samples)
            self.overhead, self.source = (PRIOR, "prior") if ratio is None else (rounded(ratio), "measured")
            self._samples = []
        elif len(self._samples) >= MAX_SAMPLES:
            self.source, self._samples = "prior", []

    def _spread(self) -> bool:
        """Passes at both ends of the sizes: MIN_ENDS at most 1/MIN_SPREAD of the largest, and
        MIN_ENDS above that (most passes are near the bound; a few small ones would each carry
        every slope)."""
        largest = max(n for n, _ in self._samples)
        small = sum(1 for n, _ in self._samples if n * MIN_SPREAD <= largest)
        return MIN_ENDS <= small <= len(self._samples) - MIN_ENDS

    def describe(self) -> str:
        why = {
            "measured": "measured",
            "measuring": "prior, measuring",
            "env": f"set by {ENV}",
            "prior": "prior: passes too alike or too noisy to fit",
        }[self.source]
        return f"{self.overhead:g} wordpieces ({why})"
