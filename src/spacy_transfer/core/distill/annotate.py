"""The teacher annotates raw text, streamed and batched, into cached ``.spacy`` shards.

Each shard (``shard-00000.spacy``, ...) holds the teacher's annotations (its predictions,
the hard targets) and, in each Doc's ``user_data[SOFT_KEY]``, the top-k probabilities of
the components with a distribution (the soft targets). ``manifest.json`` says which
teacher, raw text and top-k made the cache and how many documents are done; shards and
manifest are written atomically, one after the other, so an interrupted pass resumes at
the first document no shard holds. A finished cache is reused as it is, or extended
when a later run asks for more documents than an earlier one stopped at (``--max-docs``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import numpy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ...errors import UserError
from ..io import atomic_write_bytes, atomic_write_text
from ..pretraining.raw_text import RawTextCorpus, raw_text_files
from ..recipe import Reporter
from .soft import (
    DOC_LEVEL,
    SOFT_COMPONENTS,
    SOFT_KEY,
    SPAN_LEVEL,
    TRANSITION_LEVEL,
    as_probabilities,
    span_targets,
    top_k,
)
from .transitions import class_names, host_array, teacher_transitions

MANIFEST = "manifest.json"


@dataclass
class Manifest:
    teacher: str  # fingerprint of the teacher's files
    raw_text: List[Dict[str, Any]]  # path, size and mtime of each raw-text file
    top_k: int
    labels: Dict[str, List[str]]  # the teacher's labels, by component with soft targets
    shards: List[Dict[str, Any]] = field(default_factory=list)  # file, docs, words
    docs_done: int = 0
    finished: bool = False
    exhausted: bool = False  # the pass reached the raw text's end (not only --max-docs)

    @property
    def words(self) -> int:
        return sum(s["words"] for s in self.shards)

    def first(self, cache: Path, limit: int) -> Dict[str, int]:
        """Documents and words of the first ``limit`` cached documents (all when 0)."""
        if not 0 < limit < self.docs_done:
            return {"docs": self.docs_done, "words": self.words}
        docs = words = 0
        for shard in self.shards:
            if docs + shard["docs"] > limit:  # the shard the limit cuts: count its docs' tokens
                lengths = [len(t) for t in DocBin().from_disk(cache / shard["file"]).tokens]
                return {"docs": limit, "words": words + sum(lengths[: limit - docs])}
            docs, words = docs + shard["docs"], words + shard["words"]
        return {"docs": docs, "words": words}


def raw_identity(path: Path) -> List[Dict[str, Any]]:
    return [
        {"path": str(p.resolve()), "size": p.stat().st_size, "mtime": int(p.stat().st_mtime)}
        for p in raw_text_files(path)
    ]


def soft_components(teacher: Language, names: List[str], transitions: bool = True) -> Dict[str, List[str]]:
    """The components among ``names`` that get soft targets, with the teacher's labels (the
    parser's and ner's: their actions; only with ``transitions``)."""
    out = {}
    for name in names:
        factory, proc = teacher.get_pipe_meta(name).factory, teacher.get_pipe(name)
        if factory in TRANSITION_LEVEL and transitions:
            out[name] = class_names(proc)
        elif factory in SOFT_COMPONENTS:
            out[name] = [str(label) for label in proc.labels]
    return out


def annotate_batch(teacher: Language, docs: List[Doc], soft: Dict[str, List[str]], k: int) -> List[Doc]:
    """Run the teacher over ``docs`` as ``nlp.pipe`` does, keeping soft components' scores."""
    targets: Dict[str, List[Dict[str, Any]]] = {}
    for name, proc in teacher.pipeline:
        if name in soft:
            factory, n_labels = teacher.get_pipe_meta(name).factory, len(soft[name])
            if factory in DOC_LEVEL:
                scores = proc.predict(docs)  # textcat's predictions are its probabilities
                proc.set_annotations(docs, scores)
                probs = as_probabilities(_rows(scores, n_labels), factory == "textcat_multilabel")
                targets[name] = [top_k(probs[i : i + 1], k) for i in range(len(docs))]
            elif factory in SPAN_LEVEL:
                targets[name] = _span_scores(proc, docs, n_labels, k)
            elif factory in TRANSITION_LEVEL:
                targets[name] = teacher_transitions(proc, docs, k)
            else:
                # Taggers' predict() keeps only the argmax: take the scores, then set the argmax.
                scores = [_rows(s, n_labels) for s in _token_scores(proc, docs, n_labels)]
                proc.set_annotations(docs, [s.argmax(axis=1) for s in scores])
                targets[name] = [top_k(as_probabilities(s, False), k) for s in scores]
        elif hasattr(proc, "pipe"):
            docs = list(proc.pipe(docs, batch_size=len(docs)))
        else:
            docs = [proc(doc) for doc in docs]
    for i, doc in enumerate(docs):
        doc.user_data.clear()  # drops doc._.trf_data and the like: only annotations are kept
        doc.tensor = numpy.zeros((0,), dtype="float32")
        doc.user_data[SOFT_KEY] = {name: t[i] for name, t in targets.items()}
    return docs


def annotate_raw_text(
    teacher: Language,
    raw_text: Path,
    cache: Path,
    *,
    fingerprint: str,
    components: List[str],
    k: int = 5,
    batch_size: int = 64,
    shard_size: int = 1000,
    max_docs: int = 0,
    transitions: bool = True,
    printer: Optional[Reporter] = None,
) -> Manifest:
    """Annotate ``raw_text`` with the teacher into ``cache`` (or continue/reuse what is there)."""
    printer = printer or Reporter(enabled=False)
    fresh = Manifest(
        fingerprint, raw_identity(raw_text), k, soft_components(teacher, components, transitions)
    )
    manifest = _existing(cache, fresh)
    if manifest.finished and (manifest.exhausted or 0 < max_docs <= manifest.docs_done):
        printer.info(f"Reusing the teacher's annotations in {cache}: {manifest.docs_done:,} docs")
        return manifest
    if manifest.finished:  # an earlier pass stopped at a smaller --max-docs: annotate on
        asked = f"{max_docs:,}" if max_docs else "all"
        printer.info(f"Extending the annotation in {cache}: {manifest.docs_done:,} docs there, {asked} asked")
        manifest.finished = False
    elif manifest.docs_done:
        printer.info(f"Continuing the annotation in {cache} after {manifest.docs_done:,} docs")
    start, n_words = time.perf_counter(), 0
    pending: List[Doc] = []
    for batch in _batches(
        RawTextCorpus(raw_text, limit=max_docs).docs(teacher), batch_size, manifest.docs_done
    ):
        pending += annotate_batch(teacher, batch, manifest.labels, k)
        n_words += sum(len(d) for d in batch)
        while len(pending) >= shard_size:
            _write_shard(cache, manifest, pending[:shard_size])
            pending = pending[shard_size:]
            printer.text(
                f"  {manifest.docs_done:,} docs annotated ({n_words / (time.perf_counter() - start):,.0f} words/s)"
            )
    if pending:
        _write_shard(cache, manifest, pending)
    if manifest.docs_done == 0:
        raise UserError(
            f"The raw text has no documents: {raw_text}",
            hint='Give a file with one JSON object with a "text" key per line, or one text per line (.txt, .jsonl, .spacy, .gz).',
        )
    manifest.finished = True
    manifest.exhausted = not max_docs or manifest.docs_done < max_docs
    atomic_write_text(cache / MANIFEST, srsly.json_dumps(asdict(manifest), indent=2))
    printer.good(f"The teacher annotated {manifest.docs_done:,} docs ({manifest.words:,} words) into {cache}")
    return manifest


def _span_scores(proc: Any, docs: List[Doc], n_labels: int, k: int) -> List[Dict[str, Any]]:
    """Set the teacher's spans, and keep each doc's scored candidates (the suggester's
    spans, with a row of probabilities each: sigmoid per label, or softmax with "no label")."""
    indices, scores = proc.predict(docs)
    proc.set_annotations(docs, (indices, scores))
    n_cols = n_labels + (1 if proc.add_negative_label else 0)
    data, lengths = proc.model.ops.to_numpy(indices.data), proc.model.ops.to_numpy(indices.lengths)
    scores = _rows(scores, n_cols) if len(data) else numpy.zeros((0, n_cols), dtype="float32")
    targets, offset = [], 0
    for n in (int(x) for x in lengths):
        rows = slice(offset, offset + n)
        targets.append(span_targets(data[rows], scores[rows], n_labels, n_cols, k))
        offset += n
    return targets


def _token_scores(proc: Any, docs: List[Doc], n_labels: int) -> List[Any]:
    if not any(len(doc) for doc in docs):  # the model cannot run on no tokens at all
        return [numpy.zeros((0, n_labels), dtype="float32") for _ in docs]
    return proc.model.predict(docs)


def _rows(array: Any, n_labels: int) -> numpy.ndarray:
    """Scores on the host, one row per token/doc (an empty doc's may come flat)."""
    return host_array(array).reshape((-1, n_labels))


def _existing(cache: Path, fresh: Manifest) -> Manifest:
    path = cache / MANIFEST
    if not path.exists():
        return fresh
    try:
        old = Manifest(**srsly.read_json(path))
    except (ValueError, TypeError) as e:
        raise UserError(
            f"The annotation cache's manifest is damaged: {path} ({e})",
            hint=f"Delete {cache} to annotate again.",
        ) from None
    problems = []
    if old.teacher != fresh.teacher:
        problems.append(
            ("teacher", f"the cache was made by another teacher ({old.teacher}, this one: {fresh.teacher})")
        )
    if old.raw_text != fresh.raw_text:
        problems.append(("raw text", "the cache was made from other raw text (or the file changed)"))
    if old.top_k != fresh.top_k:
        problems.append(
            ("top-k", f"the cache keeps {old.top_k} probabilities per row, {fresh.top_k} asked for")
        )
    if old.labels != fresh.labels:
        problems.append(
            (
                "components",
                f"the cache has soft targets for {sorted(old.labels)}, {sorted(fresh.labels)} needed",
            )
        )
    if problems:
        raise UserError(
            f"The annotation cache in {cache} does not fit this run",
            rows=problems,
            header=("what", "problem"),
            hint=f"Use another --output, or delete {cache} to annotate the raw text again with this teacher.",
        )
    return old


def _batches(docs: Iterator[Doc], size: int, skip: int) -> Iterator[List[Doc]]:
    batch: List[Doc] = []
    for i, doc in enumerate(docs):
        if i < skip:
            continue
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_shard(cache: Path, manifest: Manifest, docs: List[Doc]) -> None:
    """The shard first, then the manifest that counts it: a crash between the two leaves a
    shard the manifest does not list, which the next pass writes again."""
    name = f"shard-{len(manifest.shards):05d}.spacy"
    cache.mkdir(parents=True, exist_ok=True)
    db = DocBin(store_user_data=True, docs=docs)
    atomic_write_bytes(cache / name, db.to_bytes())
    manifest.shards.append({"file": name, "docs": len(docs), "words": sum(len(d) for d in docs)})
    manifest.docs_done += len(docs)
    atomic_write_text(cache / MANIFEST, srsly.json_dumps(asdict(manifest), indent=2))
