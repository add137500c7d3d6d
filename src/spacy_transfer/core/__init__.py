"""What the commands do. ``core`` never imports ``cli``.

``train``, ``pretrain`` and ``distill`` are recipes (:mod:`.recipe`: a cheap constructor, then
``setup``, ``restore``, ``run``, ``close``) in :mod:`.training`, :mod:`.pretraining` and
:mod:`.distill`; ``ARCHITECTURE.md`` draws them and says where each concern lives.
"""
