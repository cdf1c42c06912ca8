"""``BufferPool``: a buffer is reused only once nothing but the pool refers to it."""

from __future__ import annotations

from meshnet.wire.bufferpool import BufferPool


def test_a_buffer_is_reused_only_when_nothing_else_refers_to_it() -> None:
    pool = BufferPool(2, bytearray)
    first = pool.take(100, exact=True)
    first_id = id(first)
    view = memoryview(first)[10:20]
    del first
    held = pool.take(100, exact=True)  # the view keeps the first taken
    assert id(held) != first_id and len(pool) == 2
    del view
    assert id(pool.take(100, exact=True)) == first_id  # let go: reused


def test_exact_and_at_least_sizes() -> None:
    pool = BufferPool(1, bytearray)
    big = id(pool.take(200, exact=False))
    assert id(pool.take(100, exact=False)) == big
    small = pool.take(100, exact=True)  # 200 is not 100: a fresh one replaces it
    small_id = id(small)
    assert small_id != big and len(small) == 100 and len(pool) == 1
    assert pool.take(100, exact=True) is not small  # held here: taken
    del small
    assert id(pool.take(100, exact=True)) == small_id


def test_the_pool_is_bounded_and_clear_forgets_every_buffer() -> None:
    pool = BufferPool(3, bytearray)
    taken = [pool.take(64, exact=True) for _ in range(5)]
    assert len({id(buffer) for buffer in taken}) == 5 and len(pool) == 3
    pool.clear()
    assert len(pool) == 0
