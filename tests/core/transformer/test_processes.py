"""A transformer pipeline crosses process boundaries: it pickles, and ``nlp.pipe(n_process=2)``
(forked workers on Linux, after the parent has run torch on several threads) gives the
same outputs as one process instead of hanging in the workers' first parallel op."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy
import spacy

from .conftest import CORPUS


def _nlp(path):
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(path)}})  # strided spans by default
    nlp.initialize()
    return nlp


def test_a_pipeline_pickles_and_predicts_the_same(tiny_model):
    nlp = _nlp(tiny_model("bert"))
    again = pickle.loads(pickle.dumps(nlp))
    for a, b in zip(nlp.pipe(CORPUS[:4]), again.pipe(CORPUS[:4])):
        numpy.testing.assert_array_equal(a._.trf_data.tensors[0], b._.trf_data.tensors[0])


def test_pipe_with_two_processes_matches_one(tiny_model):
    script = textwrap.dedent(
        f"""
        import numpy, spacy, torch
        torch.set_num_threads(2)
        nlp = spacy.blank("en")
        nlp.add_pipe("transformer", config={{"model": {{"name": {str(tiny_model("bert"))!r}}}}})
        nlp.initialize()
        texts = {CORPUS[:8]!r}
        one = [d._.trf_data.tensors[0] for d in nlp.pipe(texts)]  # the parent's thread pool is in use
        two = [d._.trf_data.tensors[0] for d in nlp.pipe(texts, n_process=2, batch_size=2)]
        print("max diff", max(float(numpy.abs(a - b).max()) for a, b in zip(one, two)))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split("max diff")[-1]) < 1e-5
