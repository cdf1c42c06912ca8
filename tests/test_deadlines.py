"""DeadlineHeap against a naive model: a dict scanned in full."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meshnet.deadlines import DeadlineHeap

ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "clear", "pop"]),
        st.integers(0, 9),
        st.floats(0, 100, allow_nan=False),
    ),
    max_size=200,
)


@given(ops)
def test_matches_naive_model(operations: list[tuple[str, int, float]]) -> None:
    heap: DeadlineHeap[int] = DeadlineHeap()
    model: dict[int, float] = {}
    for op, key, value in operations:
        if op == "set":
            heap.set(key, value)
            model[key] = value
        elif op == "clear":
            heap.set(key, None)
            model.pop(key, None)
        else:
            due = heap.pop_due(value)
            expected = sorted((d, k) for k, d in model.items() if d <= value)
            assert sorted(due) == sorted(k for _, k in expected)
            assert [model[k] for k in due] == sorted(model[k] for k in due)
            for k in due:
                del model[k]
        assert heap.earliest() == (min(model.values()) if model else None)
        assert len(heap) == len(model)
        assert all(k in heap for k in model)


def test_many_updates_stay_compact() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    for i in range(10_000):
        heap.set("a", float(i))
    assert heap.earliest() == 9999.0
    assert len(heap._heap) < 200
