"""Generation speed: the streaming sampler against a bare loop of the same fast step, against
the same step in torch (what a GPU runs), and against the old path (the model's forward
called with a sequence of one); N streams against one, and the bound on that ratio set by
the step's matrix products alone (one row is a matrix-vector product, bound by reading
the weights; eight rows a small matrix product, bound by arithmetic); beam search.

    python bench/generate.py [MODEL] [--chars 2000]

MODEL is a saved model name or file; without one a fresh 2×256 LSTM is used (speed does
not depend on the weights).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import add_save_flag, emit

from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.generation.search import beam_search, sample_n
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.models.stepper import Stepper
from charrnn_tui.engine.threads import set_blas_threads


def load(ref: str | None):
    if ref is None:
        vocab = [chr(32 + i) for i in range(65)]
        return build_model(ModelSpec(vocab=vocab)), vocab
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.resources import open_store

    ckpt = open_store().load(ref)
    return restore_model(ckpt), ckpt.spec.vocab


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?")
    p.add_argument("--chars", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    add_save_flag(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    set_blas_threads(args.threads)  # the fast step runs in numpy
    model, vocab = load(args.model)
    model.eval()
    seed = ("To be, or not to be, that is the question: " * 5)[:200]

    stepper, torch_stepper = Stepper(model), Stepper(model, use_numpy=False)

    def bare(stepper=stepper) -> float:
        st = stepper.from_model(model.init_state(1))
        x = np.zeros(1, dtype=np.intp)
        t = time.perf_counter()
        for _ in range(args.chars):
            x[0] = stepper.step(x, st)[0].argmax()
        return time.perf_counter() - t

    def module() -> float:
        state = model.init_state(1)
        x = torch.zeros(1, 1, dtype=torch.long)
        t = time.perf_counter()
        with torch.no_grad():
            for _ in range(args.chars):
                logits, state = model(x, state)
                x[0, 0] = int(torch.argmax(logits[0, -1]))
        return time.perf_counter() - t

    def sampler() -> tuple[float, float]:
        s = Sampler(model, vocab, rng_seed=0)
        s.prime(seed)
        t = time.perf_counter()
        s.next_char()
        first = time.perf_counter() - t
        t = time.perf_counter()
        for _ in s.stream(args.chars):
            pass
        return time.perf_counter() - t, first

    def many(n: int) -> float:
        t = time.perf_counter()
        sample_n(Sampler(model, vocab), seed, n, args.chars // 4, rng_seed=0)
        return time.perf_counter() - t

    def products(n: int, reps: int = 500) -> float:
        """Seconds per step of the step's matrix products alone, for n streams: what
        bounds N streams against one once everything else is gone."""
        pairs = [(np.ones((n, w.shape[0]), w.dtype), w) for layer in stepper._layers
                 for w in (layer.wih_t, layer.whh_t) if w is not None]
        pairs.append((np.ones((n, stepper.head_t.shape[0]), stepper.head_t.dtype),
                      stepper.head_t))
        outs = [np.empty((n, w.shape[1]), w.dtype) for _, w in pairs]
        t = time.perf_counter()
        for _ in range(reps):
            for (x, w), out in zip(pairs, outs, strict=True):
                np.dot(x, w, out=out)
        return (time.perf_counter() - t) / reps

    def beam(width: int) -> float:
        t = time.perf_counter()
        beam_search(Sampler(model, vocab), seed, width, args.chars // 4)
        return time.perf_counter() - t

    bare()
    sampler()
    bare_t, samp_t, firsts, prime_t, module_t, torch_t = [], [], [], [], [], []
    many_t, one_t, beam_t, prod1_t, prod8_t = [], [], [], [], []
    for _ in range(args.rounds):
        module_t.append(module())
        torch_t.append(bare(torch_stepper))
        bare_t.append(bare())
        st, first = sampler()
        samp_t.append(st)
        firsts.append(first)
        t = time.perf_counter()
        Sampler(model, vocab).prime(seed)
        prime_t.append(time.perf_counter() - t)
        many_t.append(many(8))
        one_t.append(many(1))
        beam_t.append(beam(4))
        prod1_t.append(products(1))
        prod8_t.append(products(8))
    bare_rate = args.chars / min(bare_t)
    samp_rate = args.chars / min(samp_t)
    module_rate = args.chars / min(module_t)
    n8_rate = 8 * (args.chars // 4) / min(many_t)
    n1_rate = (args.chars // 4) / min(one_t)
    emit({"bench": "generate", "model": args.model or "fresh torch/lstm 2x256",
          "bare_chars_per_s": round(bare_rate), "sampler_chars_per_s": round(samp_rate),
          # each round times the two back to back; the median of those pairs is steadier
          # than a ratio of the bests, which come from different moments of a noisy machine
          "ratio_sampler_vs_bare": round(float(np.median(np.divide(bare_t, samp_t))), 3),
          "ratio_sampler_vs_bare_of_bests": round(samp_rate / bare_rate, 3),
          "torch_step_bare_chars_per_s": round(args.chars / min(torch_t)),
          "module_step_chars_per_s": round(module_rate),
          "ratio_sampler_vs_module_step": round(samp_rate / module_rate, 2),
          "prime_200_chars_ms": round(1000 * min(prime_t), 2),
          "first_char_after_prime_ms": round(1000 * min(firsts), 2),
          "n1_chars_per_s": round(n1_rate), "n8_total_chars_per_s": round(n8_rate),
          "ratio_n8_total_vs_n1": round(n8_rate / n1_rate, 2),
          "ratio_n8_total_vs_sampler": round(n8_rate / samp_rate, 2),
          "products_us_per_step_n1_n8": [round(1e6 * min(prod1_t), 1),
                                         round(1e6 * min(prod8_t), 1)],
          "bound_n8_total_vs_n1_products_only": round(8 * min(prod1_t) / min(prod8_t), 2),
          "beam4_output_chars_per_s": round((args.chars // 4) / min(beam_t))}, args)


if __name__ == "__main__":
    main()
