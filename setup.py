"""Everything is in pyproject.toml but one file: ``spacy_transfer_st.pth``, which goes to the
top of site-packages so that ``import spacy_transformers`` finds spacy-transfer's
compatibility package where the real spacy-transformers is not installed (or where
``SPACY_TRANSFORMERS_IMPL=spacy-transfer`` asks for it). See ``src/_spacy_transfer_st.py``."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "spacy_transfer_st.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(os.path.join("src", PTH), os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


setup(cmdclass={"build_py": BuildPyWithPth})
