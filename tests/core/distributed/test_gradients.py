"""Gradient all-reduce on a real gloo process group over loopback (2 CPU processes)."""

from __future__ import annotations

import os
import socket

import numpy
import torch.multiprocessing as mp

from spacy_transfer.core.distributed import DistContext, shard

SHARED_CFG = """
[nlp]
lang = "en"
pipeline = ["tok2vec","tagger"]
[components]
[components.tok2vec]
factory = "tok2vec"
[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"
[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 32
attrs = ["NORM","SHAPE"]
rows = [500,100]
include_static_vectors = false
[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 32
depth = 1
window_size = 1
maxout_pieces = 2
[components.tagger]
factory = "tagger"
[components.tagger.model]
@architectures = "spacy.Tagger.v2"
[components.tagger.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32
"""

SENTS = [
    (["I", "like", "green", "eggs"], ["N", "V", "J", "N"]),
    (["Eat", "blue", "ham"], ["V", "J", "N"]),
    (["They", "run", "fast", "today"], ["N", "V", "R", "N"]),
    (["We", "see", "red"], ["N", "V", "J"]),
    (["Cats", "sleep"], ["N", "V"]),
]


def make_nlp():
    from spacy import util
    from spacy.training import Example
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = util.load_model_from_config(util.load_config_from_str(SHARED_CFG), auto_fill=True, validate=True)
    examples = []
    for words, tags in SENTS:
        doc = nlp.make_doc(" ".join(words))
        examples.append(Example.from_dict(doc, {"words": words, "tags": tags}))
    optimizer = nlp.initialize(lambda: examples)
    return nlp, examples, optimizer


def train_steps(nlp, examples, optimizer, steps, ctx=None):
    from spacy_transfer.core.distributed import allreduce_gradients

    for _ in range(steps):
        batch = shard(examples, ctx) if ctx else examples
        nlp.update(batch, drop=0.0, sgd=False)
        if ctx:
            allreduce_gradients([proc.model for _, proc in nlp.pipeline], ctx)
        for _, proc in nlp.pipeline:
            proc.finish_update(optimizer)


def weights(nlp):
    return {name: proc.model.to_bytes() for name, proc in nlp.pipeline}


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    from spacy_transfer.core.distributed import init_from_env, parameter_checksum, shutdown

    ctx = init_from_env(use_gpu=False)
    nlp, examples, optimizer = make_nlp()
    sums = []
    for _ in range(3):
        train_steps(nlp, examples, optimizer, 1, ctx)
        sums.append(parameter_checksum([p.model for _, p in nlp.pipeline]))
    nlp.to_disk(os.path.join(out_dir, f"rank{rank}"))
    with open(os.path.join(out_dir, f"sums{rank}.txt"), "w") as f:
        f.write("\n".join(sums))
    shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_cover_the_batch_once():
    batch = list(range(7))
    parts = [shard(batch, DistContext(rank=r, world_size=3, local_rank=r, backend="gloo")) for r in range(3)]
    assert sorted(x for p in parts for x in p) == batch


def test_two_ranks_stay_identical_and_match_one_process(tmp_path):
    mp.start_processes(
        _worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True, start_method="spawn"
    )
    sums0 = (tmp_path / "sums0.txt").read_text().split()
    sums1 = (tmp_path / "sums1.txt").read_text().split()
    assert sums0 == sums1 and len(set(sums0)) == 3  # identical after every step, and changing

    import spacy

    dist_nlp = spacy.load(tmp_path / "rank0")
    nlp, examples, optimizer = make_nlp()
    train_steps(nlp, examples, optimizer, 3)
    for name, proc in nlp.pipeline:
        for a, b in zip(proc.model.walk(), dist_nlp.get_pipe(name).model.walk()):
            for pname in a.param_names:
                if a.has_param(pname):
                    numpy.testing.assert_allclose(a.get_param(pname), b.get_param(pname), atol=1e-5)
