"""Run by the coexistence tests inside a test venv: what a user of that venv sees, printed
as one JSON line. Arguments: pipeline folders to load and run on their ``probe_texts.json``
(or the fixture's ``outputs.json`` texts)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path


def texts_for(path: Path) -> list:
    for name in ("outputs.json", "probe_texts.json"):
        if (path / name).exists():
            return json.loads((path / name).read_text())["texts"]
    return ["Apple is buying a startup in London."]


def run(path: Path) -> dict:
    import spacy

    nlp = spacy.load(path)
    trf_name = "transformer" if "transformer" in nlp.pipe_names else None
    docs = list(nlp.pipe(texts_for(path)))
    return {
        "pipe_names": nlp.pipe_names,
        "component_module": type(nlp.get_pipe(trf_name)).__module__ if trf_name else None,
        "component_file": sys.modules[type(nlp.get_pipe(trf_name)).__module__].__file__ if trf_name else None,
        "tags": [[t.tag_ for t in d] for d in docs],
        "ents": [[[e.start_char, e.end_char, e.label_] for e in d.ents] for d in docs],
    }


def main() -> None:
    report: dict = {"pipelines": {}}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for arg in sys.argv[1:]:
            report["pipelines"][arg] = run(Path(arg))
        import spacy_transformers

        report["spacy_transformers"] = spacy_transformers.__file__
    report["warnings"] = [str(w.message) for w in seen if issubclass(w.category, UserWarning)]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
