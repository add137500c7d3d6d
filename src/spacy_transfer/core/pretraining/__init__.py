"""Pretraining: tok2vec objectives (characters, vectors) and masked LM for transformers.

``pretrain(config, output_dir)`` runs the loop; ``load_init_tok2vec(nlp, config)`` puts
pretrained weights into a pipeline at the start of training (checked).

- :mod:`.recipe`: the run (:class:`PretrainRecipe`: setup, restore, run, close), its epochs and steps; :mod:`.setup`: the pipeline and objective from
  [pretraining]; :mod:`.target`: which layer is trained;
- :mod:`.objectives` (characters, vectors) and :mod:`.masked_lm` (transformers, with
  :mod:`.masking` choosing the wordpieces);
- :mod:`.outputs`: model{N}.bin, resume states, log.jsonl; :mod:`.resume`: continuing
  from them; :mod:`.state_file`: the state file format; :mod:`.progress`: spaCy's table;
- :mod:`.raw_text`: the raw-text reader; :mod:`.weights`: init_tok2vec loading;
  :mod:`.adapter_weights`: LoRA adapters alone in a weights file (pretraining with an adapter).
"""

from .masked_lm import create_pretrain_masked_lm
from .raw_text import RawTextCorpus, create_raw_text_reader
from .recipe import PretrainRecipe, PretrainResult, pretrain, setup_pretraining
from .weights import load_init_tok2vec, load_weights

__all__ = [
    "RawTextCorpus",
    "create_raw_text_reader",
    "create_pretrain_masked_lm",
    "pretrain",
    "setup_pretraining",
    "PretrainRecipe",
    "PretrainResult",
    "load_init_tok2vec",
    "load_weights",
]
