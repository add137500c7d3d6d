"""``make compat-test``: spacy-transformers 2.0's own test suite as an acceptance test.

It unpacks ``spacy_transformers/tests`` from the 2.0 source in ``../shared/anchors``,
unchanged but for its imports of the package itself (``from ..layers import X`` becomes
``from spacy_transformers.layers import X``), and runs it twice, side by side:

- against the real spacy-transformers 2.0, in its own venv (``benchmarks/_anchor.py``,
  ``st20``, on our transformers version);
- against our compatibility package (``import spacy_transformers`` in our venv).

The hub models the tests name are replaced by small random-init stand-ins saved as local
folders under the same names (``scripts/compat_models.py``); no network is used. It prints
the tests whose outcome differs, and fails when a test that passes on the real 2.0 fails on
ours without a row in README.md's table of deliberate differences.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.compat_models import build_standins  # noqa: E402

from benchmarks._anchor import SHARED, anchor_python  # noqa: E402

WORK = ROOT / ".compat-test"
SUITE = "st_tests"  # the unpacked test package
README = ROOT / "README.md"
DIFF_START, DIFF_END = "<!-- compat-differences:start -->", "<!-- compat-differences:end -->"


def source_tarball() -> Path:
    found = sorted((SHARED / "anchors").glob("spacy-transformers-2.*.tar.gz"))
    if not found:
        raise SystemExit(f"✘ no spacy-transformers 2.x source in {SHARED / 'anchors'}")
    return found[-1]


def absolute_imports(code: str) -> str:
    """``from ..x import y`` / ``from .. import y`` -> ``from spacy_transformers.x import y``;
    the suite's imports of its own modules (``from .util``) stay relative."""
    code = re.sub(
        r"^(\s*)from \.\.(\w[\w.]*) import", r"\1from spacy_transformers.\2 import", code, flags=re.M
    )
    return re.sub(r"^(\s*)from \.\. import", r"\1from spacy_transformers import", code, flags=re.M)


def unpack_suite(dest: Path) -> Path:
    """The tests folder of the 2.0 source as package ``st_tests`` under ``dest``."""
    out = dest / SUITE
    with tarfile.open(source_tarball()) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if (
                "tests" not in parts
                or not member.isfile()
                or parts[parts.index("tests") - 1] != "spacy_transformers"
            ):
                continue
            rel = Path(*parts[parts.index("tests") + 1 :])
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if rel.suffix == ".py":
                data = absolute_imports(data.decode("utf8")).encode("utf8")
            target.write_bytes(data)
    return out


def run_suite(python: Path, label: str) -> Dict[str, str]:
    """Run the suite with ``python``; returns {test id: passed|failed|error|skipped}."""
    report = WORK / f"{label}.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPACY_TRANSFORMERS_IMPL")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(WORK)})
    cmd = [
        str(python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--continue-on-collection-errors",
        f"--junitxml={report}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, str(WORK / SUITE)], cwd=WORK / "models", env=env, capture_output=True, text=True
    )
    print(
        f"  {label}: {time.perf_counter() - start:.0f} s, {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]}"
    )
    return outcomes(report)


def outcomes(report: Path) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        # a module that fails to import is reported with its dotted path as the name
        module = (classname or name).split(f"{SUITE}.", 1)[-1]
        test_id = f"{module}::{name}" if classname else f"{module}::(import)"
        kinds = {child.tag for child in case}
        out[test_id] = (
            "failed"
            if "failure" in kinds
            else "error"
            if "error" in kinds
            else "skipped"
            if "skipped" in kinds
            else "passed"
        )
    return out


def deliberate_differences() -> Dict[str, str]:
    """README.md's table of deliberate differences: {test id or prefix: reason}."""
    text = README.read_text(encoding="utf8")
    if DIFF_START not in text:
        return {}
    rows = text.split(DIFF_START, 1)[1].split(DIFF_END, 1)[0].splitlines()
    table = {}
    for row in rows:
        cells = [c.strip().strip("`") for c in row.strip().strip("|").split("|")]
        if len(cells) >= 2 and "::" in cells[0]:
            table[cells[0]] = cells[-1]
    return table


def listed(test_id: str, table: Dict[str, str]) -> bool:
    return any(test_id == key or (key.endswith("*") and test_id.startswith(key[:-1])) for key in table)


def ensure_pytest(python: Path) -> None:
    if subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "pytest"], check=True
        )


def main() -> int:
    WORK.mkdir(exist_ok=True)
    print(f"spacy-transformers' test suite from {source_tarball().name}")
    unpack_suite(WORK)
    build_standins(WORK / "models")
    real = anchor_python("st20")
    ensure_pytest(real)
    results = {"real 2.0": run_suite(real, "real"), "spacy-transfer": run_suite(Path(sys.executable), "ours")}
    theirs, ours = results["real 2.0"], results["spacy-transfer"]
    ids = sorted(set(theirs) | set(ours))
    table = deliberate_differences()
    differ: List[Tuple[str, str, str, str]] = []
    for test_id in ids:
        a, b = theirs.get(test_id, "absent"), ours.get(test_id, "absent")
        if a != b:
            note = "listed" if listed(test_id, table) else ("UNLISTED" if a == "passed" else "")
            differ.append((test_id, a, b, note))
    width = max([len(d[0]) for d in differ] + [10])
    print(f"\n{'test':<{width}}  {'real 2.0':<8}  {'ours':<8}  note")
    for test_id, a, b, note in differ:
        print(f"{test_id:<{width}}  {a:<8}  {b:<8}  {note}")
    for name, res in results.items():
        counts = {k: sum(1 for v in res.values() if v == k) for k in ("passed", "failed", "error", "skipped")}
        print(f"{name}: {len(res)} tests, " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    unlisted = [d for d in differ if d[3] == "UNLISTED"]
    (WORK / "results.json").write_text(json.dumps({"results": results, "differ": differ}, indent=1))
    if unlisted:
        print(
            f"\n✘ {len(unlisted)} test(s) pass on the real 2.0 and fail on ours without a row in README.md's table"
        )
        return 1
    print("\n✔ every test that passes on the real 2.0 passes on ours or is a listed deliberate difference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
