"""The memory store's expiring tables: expired entries are never returned, and the table
is swept when it has doubled, so it stays bounded by its live entries."""

from __future__ import annotations

from authapi.store.memory import MIN_SWEEP_SIZE, _Expiring, _Kept


def test_expired_entries_are_not_returned_and_get_drops_them() -> None:
    table: _Expiring[_Kept] = _Expiring()
    table.put("a", _Kept("live", expires_at=100.0), now=0.0)
    table.put("b", _Kept("dead", expires_at=10.0), now=0.0)
    assert table.get("a", now=50.0) == _Kept("live", 100.0)
    assert table.get("b", now=50.0) is None
    assert "b" not in table._items
    assert table.pop("a", now=100.0) is None  # expired exactly now
    assert "a" not in table._items


def test_a_table_of_expired_entries_is_swept_when_it_doubles() -> None:
    table: _Expiring[_Kept] = _Expiring()
    for n in range(MIN_SWEEP_SIZE):
        table.put(f"old-{n}", _Kept("x", expires_at=1.0), now=0.0)
    table.put("live", _Kept("y", expires_at=1e6), now=0.0)
    assert len(table._items) == MIN_SWEEP_SIZE + 1  # nothing had expired at the sweep

    for n in range(3 * MIN_SWEEP_SIZE):
        table.put(f"new-{n}", _Kept("z", expires_at=2.0 + n), now=2.0 + n)
    # every sweep dropped what had expired by then: far fewer than were put
    assert len(table._items) < 2 * MIN_SWEEP_SIZE + 2
    assert table.get("live", now=50.0) == _Kept("y", 1e6)
    assert all(not key.startswith("old-") for key in table._items)
