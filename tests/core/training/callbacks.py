"""--code file for the resume tests: a before_update callback that kills its own process.

``SPACY_TRANSFER_TEST_SIGNAL_AT=STEP:SIGNUM`` sends SIGNUM to the process just before
STEP; without the variable it does nothing, so the same config serves the uninterrupted
run, the killed run and the resumed run.
"""

import os
import signal

import spacy


@spacy.registry.callbacks("spacy-transfer-test.signal_at_step.v1")
def signal_at_step():
    spec = os.environ.get("SPACY_TRANSFER_TEST_SIGNAL_AT", "")
    target, signum = (int(x) for x in spec.split(":")) if spec else (-1, 0)

    def before_update(nlp, info):
        if info["step"] == target:
            os.kill(os.getpid(), signum)
            if signum == signal.SIGKILL:  # pragma: no cover - never returns
                raise SystemExit(1)

    return before_update
