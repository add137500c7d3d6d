"""What the user sees: a live bar on a terminal, plain lines otherwise, the table, the plot."""

from __future__ import annotations

import io

from spacy_transfer.core.config import load_training_config
from spacy_transfer.core.training import progress, train
from spacy_transfer.core.training.plots import render_png

from .data import TINY_SHARED


def run(shared_config, corpora, **kwargs):
    config = load_training_config(
        shared_config,
        {
            **TINY_SHARED,
            "paths.train": str(corpora.uner_train),
            "paths.dev": str(corpora.uner_dev),
            "training.max_steps": 6,
            "training.eval_frequency": 3,
        },
    )
    out, err = io.StringIO(), io.StringIO()
    train(config, None, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_terminal_gets_a_live_bar_with_speed_eta_and_losses(shared_config, training_corpora):
    out, err = run(shared_config, training_corpora, bar=True)
    assert "words/s" in err and "ner=" in err and "/7" in err  # steps 0..6
    assert "LOSS NER" in out  # the table goes to stdout, above the bar


def test_without_a_terminal_plain_progress_lines(shared_config, training_corpora, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    out, err = run(shared_config, training_corpora, bar=False)
    assert err == ""
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert lines and "/6" in lines[0] and "words/s" in lines[0] and "ETA" in lines[0] and "ner=" in lines[0]


def test_plot_has_both_panels():
    history = [
        {"step": s, "losses": {"ner": 10.0 / (s + 1)}, "scores": {"ents_f": s / 10}, "score": s / 10}
        for s in range(0, 30, 10)
    ]
    png = render_png(history, ["ents_f"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
