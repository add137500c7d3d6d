"""The memory allocator a training run uses: tcmalloc (or jemalloc) where the system has one.

Why: a training step's activations change size with every batch, and glibc's malloc serves
them from a heap that fragments: at the peak of a step it held 0.4-0.75 GB free beside
1.1 GB in use, growing from step to step (benchmarks/README.md). tcmalloc keeps freed
blocks in size classes and reuses them. Measured on bench_peft's BERT-base-sized child
(1,000-word batches, 2 threads, medians of 3 alternating runs, results/peft_allocator_ab.json):
full fine-tuning 18.03 -> 17.10 s per 6 steps and 3,562 -> 3,280 MiB peak RSS; LoRA r=8
13.16 -> 11.54 s and 2,305 -> 1,872 MiB. jemalloc was about as lean but 1.26x slower on full
fine-tuning (a probe), so tcmalloc comes first. A MiniLM transformer + tagger step: 4% faster, peak RSS 1,660 -> 1,320 MiB.

An allocator replaces malloc only from a process's start (``LD_PRELOAD``), so the training
commands (``train``, ``pretrain``, ``distill``) start themselves again, once, with it
preloaded (:func:`start_training_process`), as torch's own ``torch.backends.xeon.run_cpu``
launcher does: first thing when the package is imported (:func:`restart_training_cli`), so
spaCy, torch and transformers load once, in the restarted process. ``SPACY_TRANSFER_ALLOCATOR`` chooses: ``auto`` (the default: tcmalloc, else
jemalloc, else the system's malloc), ``tcmalloc``, ``jemalloc``, ``system``, or the path of
an allocator library. Linux only; elsewhere the system's malloc stays.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import UserError

ENV = "SPACY_TRANSFER_ALLOCATOR"
_STARTED = "SPACY_TRANSFER_ALLOCATOR_STARTED"  # set in the restarted process: never restart twice
TRAINING_COMMANDS = ("train", "pretrain", "distill")
CHOICES = ("auto", "tcmalloc", "jemalloc", "system")
# Library names (ldconfig's) and file names to look for, best first.
LIBRARIES: Dict[str, Tuple[str, ...]] = {
    "tcmalloc": ("tcmalloc_minimal", "tcmalloc"),
    "jemalloc": ("jemalloc",),
}
FILES: Dict[str, Tuple[str, ...]] = {
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so.4", "libtcmalloc.so"),
    "jemalloc": ("libjemalloc.so.2", "libjemalloc.so"),
}
INSTALL_HINT = (
    "install tcmalloc: `apt-get install libtcmalloc-minimal4` (Debian/Ubuntu), "
    "`dnf install gperftools-libs` (Fedora/RHEL) or `conda install gperftools`"
)


def loaded() -> str:
    """Which allocator this process runs on: "tcmalloc", "jemalloc" or "system"."""
    maps = Path("/proc/self/maps")
    text = maps.read_text(errors="replace") if maps.exists() else ""
    for name in ("tcmalloc", "jemalloc"):
        if f"lib{name}" in text:
            return name
    return "system"


def _search_dirs() -> List[Path]:
    """Where a venv's, conda's or the system's libraries lie (ldconfig covers the system's)."""
    dirs = [Path(sys.prefix) / "lib", Path(sysconfig.get_config_var("LIBDIR") or sys.prefix + "/lib")]
    if os.environ.get("CONDA_PREFIX"):
        dirs.append(Path(os.environ["CONDA_PREFIX"]) / "lib")
    multiarch = sysconfig.get_config_var("MULTIARCH")
    for root in ("/usr/local/lib", "/usr/lib", "/usr/lib64", "/lib"):
        if multiarch:
            dirs.append(Path(root) / multiarch)
        dirs.append(Path(root))
    return dirs


def find(name: str) -> Optional[str]:
    """The allocator library ``name`` ("tcmalloc" or "jemalloc") as ``LD_PRELOAD`` takes it:
    a path, or a library name the dynamic loader finds; None where there is none."""
    for directory in _search_dirs():
        for file in FILES[name]:
            if (directory / file).is_file():
                return str(directory / file)
    for lib in LIBRARIES[name]:
        found = ctypes.util.find_library(lib)
        if found:
            return found
    return None


def choose(setting: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """(allocator name, library to preload or None) for ``setting`` (default: the ``ENV``
    variable, else "auto"). A named allocator that is not installed is an error."""
    value = (setting if setting is not None else os.environ.get(ENV, "auto")).strip() or "auto"
    if value == "system" or not sys.platform.startswith("linux"):
        return "system", None
    if value == "auto":
        for name in ("tcmalloc", "jemalloc"):
            lib = find(name)
            if lib:
                return name, lib
        return "system", None
    if value in LIBRARIES:
        lib = find(value)
        if lib is None:
            raise UserError(
                f"{ENV}={value}: no {value} library found on this machine",
                rows=[
                    (
                        "looked in",
                        ", ".join(str(d) for d in _search_dirs()[:4]) + ", ... and ldconfig's cache",
                    )
                ],
                hint=f"{INSTALL_HINT}; or set {ENV}=auto (the system's malloc where none is installed).",
            )
        return value, lib
    if "/" in value:
        if not Path(value).is_file():
            raise UserError(
                f"{ENV}={value}: no such library file",
                hint=f"Give the path of an allocator library (e.g. libtcmalloc_minimal.so.4), or one of {', '.join(CHOICES)}.",
            )
        return Path(value).name, value
    raise UserError(
        f"{ENV}={value!r} is not an allocator this knows",
        hint=f"Use one of {', '.join(CHOICES)}, or the path of an allocator library.",
    )


def preload_environment(setting: Optional[str] = None) -> Dict[str, str]:
    """The environment variables that start a process on the chosen allocator (empty for the
    system's malloc). Benchmarks start their children of ours with these."""
    _, lib = choose(setting)
    if lib is None:
        return {}
    preload = " ".join(p for p in (lib, os.environ.get("LD_PRELOAD", "")) if p)
    # tcmalloc reports every allocation over 1 GiB on stderr by default: a large batch is not news.
    return {"LD_PRELOAD": preload, "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": os.environ.get(
        "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD", str(1 << 40)
    )}  # fmt: skip


def command_of(argv: List[str]) -> Optional[str]:
    """The subcommand of a ``spacy-transfer`` command line (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def start_training_process(argv: List[str]) -> None:
    """For a training command, start this process again on the chosen allocator (``execv``:
    same process id, same open files and standard input), unless it already runs on one.
    Returns (without starting anything) in every other case."""
    if command_of(argv) not in TRAINING_COMMANDS or os.environ.get(_STARTED) or loaded() != "system":
        return
    env = preload_environment()
    if not env:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), {**os.environ, **env, _STARTED: "1"})


# Python's options that take the next word as their value (``-X importtime``, ``-W error``).
_PYTHON_OPTIONS_WITH_VALUE = ("-X", "-W")


def cli_arguments(orig_argv: Sequence[str], argv: Sequence[str]) -> Optional[List[str]]:
    """The words after the program when this process is spacy-transfer's command line
    (``spacy-transfer ARGS`` or ``python [OPTIONS] -m spacy_transfer ARGS``); None when it is
    anything else (a script, ``-c`` code, another module) that merely imports the package."""
    if argv and Path(argv[0]).name == "spacy-transfer":
        return list(argv[1:])
    words = list(orig_argv[1:])
    while words:
        word = words.pop(0)
        if word == "-m" or (word.startswith("-m") and len(word) > 2):
            module = word[2:] or (words.pop(0) if words else "")
            return words if module == "spacy_transfer" else None
        if word in _PYTHON_OPTIONS_WITH_VALUE:
            words = words[1:]
        elif word == "-c" or not word.startswith("-"):
            return None
    return None


def restart_training_cli() -> None:
    """Run first thing at the package's import: the command line running a training command
    starts again on the chosen allocator now, before spaCy, torch and transformers load
    (about 2 s that the new process would load again). Anything else returns at once; a bad
    setting is left for the command line to report (:func:`start_training_process`)."""
    args = cli_arguments(getattr(sys, "orig_argv", []), sys.argv)
    if args is None:
        return
    try:
        start_training_process(args)
    except UserError:
        return


def _system_malloc() -> str:
    """The system's malloc, and why: the user's choice, or no other allocator installed."""
    if os.environ.get(ENV, "auto").strip() == "system":
        return f"the system's malloc ({ENV}=system)"
    return f"the system's malloc ({INSTALL_HINT} to train faster in less memory)"


def log_line() -> str:
    """What a CPU training run's log says about its allocator."""
    now = loaded()
    return f"Memory allocator: {now if now != 'system' else _system_malloc()}"


def as_dict() -> Dict[str, Optional[str]]:
    """The allocator this process runs on, and the one (and its library) training would use."""
    try:
        name, lib = choose()
        problem = None
    except UserError as err:
        name, lib, problem = "system", None, err.message
    return {"loaded": loaded(), "training": name, "library": lib, "problem": problem}


def describe() -> str:
    """``spacy-transfer info``'s line: the allocator training commands run on."""
    d = as_dict()
    if d["problem"]:
        return f"training: {d['problem']}"
    if d["library"]:
        return f"training runs on {d['training']} ({d['library']})"
    return f"training runs on {_system_malloc()}"
