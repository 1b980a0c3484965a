"""Continuing a saved model on a corpus: fit the vocabulary, keep counters and optimizer."""

from __future__ import annotations

import copy

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.models import restore_model
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.engine.training.vocab import fit_corpus


def resume_trainer(ckpt: Checkpoint, corpus: Corpus, config: TrainConfig, *,
                   corpus_info: dict, policy: str = "refuse",
                   replacement: str | None = None) -> tuple[Trainer, str | None]:
    """A Trainer that picks up where `ckpt` stopped; returns it and a notice, if any.

    The optimizer state is restored when the optimizer is unchanged (a different one, or
    a vocabulary that had to grow, starts it afresh). A CharRNNError says why it cannot start.
    """
    ckpt, data, notice = fit_corpus(ckpt.as_torch(), corpus, policy, replacement)
    same_optimizer = (config.optimizer or "") == ckpt.optim_meta.get("name")
    trainer = Trainer(restore_model(ckpt), data, config, corpus_info=corpus_info,
                      state=copy.deepcopy(ckpt.state),
                      optim_tensors=ckpt.optim_tensors if same_optimizer else None,
                      optim_meta=ckpt.optim_meta if same_optimizer else None)
    return trainer, notice
