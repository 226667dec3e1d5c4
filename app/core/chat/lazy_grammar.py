"""Grammar sampling that checks one token, not the whole vocabulary, as llama.cpp's own tools do.

llama-cpp-python puts the grammar first in its sampler chain, so every decoded token runs the grammar
over every candidate: 262,144 of them for Gemma 3, which made a JSON step decode at a third of the free
speed. llama.cpp's common sampler samples without the grammar first and asks the grammar about that
one token; only when the grammar refuses it is the token drawn again from candidates the grammar
filtered. Drawing again keeps the distribution the eager way gives (a token it accepts with
probability p is kept with p, else drawn with p/(1-refused) from the rest). The filtered draw looks
at the WIDE most likely candidates first, and at all of them only when the grammar allows none of
those: after top-k, top-p and min-p, a token past the first WIDE never had a chance to be drawn.
``LazyGrammarLlama`` is llama_cpp.Llama with that sampler wherever a grammar is given.
"""

from __future__ import annotations

import ctypes
import math
from functools import cache

WIDE = 4096  # candidates the grammar filters before it filters them all


class LazyGrammarSampler:
    """``chain`` (a grammar-free llama-cpp-python LlamaSampler) with ``grammar`` applied lazily: what
    llama-cpp-python's ``Llama.sample`` calls (``sample(ctx, idx)``), each token accepted by both."""

    def __init__(self, chain, model, grammar, n_vocab: int):
        import llama_cpp
        import numpy as np
        from llama_cpp._internals import LlamaSampler

        self.chain = chain
        self.grammar = LlamaSampler()
        parsed = getattr(grammar, "parsed", None)  # the engine's cached parse (grammar_cache.py)
        if parsed is not None:  # this generation's own copy, in the start state; the chain frees it
            llama_cpp.llama_sampler_chain_add(self.grammar.sampler, parsed.copy())
        else:
            self.grammar.add_grammar(model, grammar)
        self.wide = LlamaSampler()
        self.wide.add_top_k(WIDE)
        self.n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._cands = np.zeros(n_vocab, dtype=np.dtype([("id", np.int32), ("logit", np.float32),
                                                        ("p", np.float32)], align=True))
        self._data = self._cands.ctypes.data_as(llama_cpp.llama_token_data_p)
        self._one = (llama_cpp.llama_token_data * 1)()
        self.checked = 0  # tokens the grammar was asked about one by one
        self.refused = 0  # of those, how many it refused (drawn again from the filtered candidates)
        self.wide_missed = 0  # of those, how many had no allowed token in the WIDE most likely

    def _candidates(self, ctx, idx: int):
        import llama_cpp
        import numpy as np

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        self._cands["id"] = self._ids
        self._cands["logit"] = logits
        self._cands["p"] = 0.0
        return llama_cpp.llama_token_data_array(data=self._data, size=self.n_vocab, selected=-1, sorted=False)

    def _draw(self, ctx, idx: int, with_grammar: bool) -> int:
        import llama_cpp
        import numpy as np

        cands = self._candidates(ctx, idx)
        if with_grammar:
            llama_cpp.llama_sampler_apply(self.wide.sampler, ctypes.byref(cands))
            llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(cands))
            cands.sorted = False  # refused ones are -inf now: a top-k after must sort again, not cut
            if np.isinf(np.ctypeslib.as_array(cands.data, shape=(cands.size,))["logit"]).all():
                self.wide_missed += 1
                cands = self._candidates(ctx, idx)
                llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(cands))
        llama_cpp.llama_sampler_apply(self.chain.sampler, ctypes.byref(cands))
        if cands.selected < 0:  # pragma: no cover - every chain here ends in a sampler that selects
            raise RuntimeError("the sampler chose no token")
        return int(cands.data[cands.selected].id)

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its present state, accepts ``token`` next."""
        import llama_cpp

        one = self._one[0]
        one.id, one.logit, one.p = token, 1.0, 0.0  # type: ignore[assignment]  # ctypes takes ints
        single = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(single))
        return not math.isinf(one.logit)

    def sample(self, ctx, idx: int = -1) -> int:
        import llama_cpp

        token = self._draw(ctx, idx, with_grammar=False)
        self.checked += 1
        if not self.allows(token):
            self.refused += 1
            token = self._draw(ctx, idx, with_grammar=True)
        llama_cpp.llama_sampler_accept(self.grammar.sampler, token)
        llama_cpp.llama_sampler_accept(self.chain.sampler, token)
        return token

    def close(self) -> None:
        for sampler in (self.grammar, self.wide, self.chain):
            sampler.close()


@cache
def lazy_grammar_llama():
    """llama_cpp.Llama whose samplers apply a grammar lazily (imported on first use: llama_cpp is heavy)."""
    import llama_cpp

    class LazyGrammarLlama(llama_cpp.Llama):
        def _init_sampler(self, *args, **kwargs):  # llama-cpp-python passes grammar by keyword
            grammar = kwargs.pop("grammar", None)
            chain = super()._init_sampler(*args, **kwargs)
            if grammar is None:
                return chain
            return LazyGrammarSampler(chain, self._model, grammar, self._n_vocab)

    return LazyGrammarLlama
