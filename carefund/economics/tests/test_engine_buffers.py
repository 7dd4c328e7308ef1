"""The engine reuses its (cycles, from, to, draws) transition array between blocks of the same size (a speed fix,
docs/benchmarks.md): results must not depend on what was evaluated before, nor on other threads."""

from __future__ import annotations

import threading

import numpy as np

from carefund.economics.engine import compile_model
from carefund.economics.examples import benchmark_model
from carefund.economics.psa import draw_parameters


def test_a_block_gives_the_same_result_whatever_was_evaluated_before():
    model = benchmark_model(cycles=20)
    first_draws = draw_parameters(model, 64, seed=1)
    other_draws = draw_parameters(model, 64, seed=2)
    fresh = compile_model(model).evaluate(first_draws)[0]
    reused = compile_model(model)
    reused.evaluate(other_draws)  # fills the shared buffer with other numbers
    again = reused.evaluate(first_draws)[0]
    assert np.array_equal(fresh.cost, again.cost)
    assert np.array_equal(fresh.qalys, again.qalys)
    assert not np.array_equal(fresh.cost, reused.evaluate(other_draws)[0].cost)


def test_threads_sharing_a_compiled_model_do_not_share_its_buffer():
    model = benchmark_model(cycles=20)
    compiled = compile_model(model)
    blocks = [draw_parameters(model, 64, seed=s) for s in range(6)]
    serial = [compile_model(model).evaluate(b)[0].cost for b in blocks]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = compiled.evaluate(blocks[i])[0].cost

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        assert np.array_equal(results[i], serial[i])
