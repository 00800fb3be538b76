"""``Faults(rename_field=...)``: records served after N calls carry the renamed key, nested ones too."""

from __future__ import annotations

from datetime import datetime

import pytest

from ferry.sandbox import Faults
from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import FaultDice


def _dataset(faults: Faults) -> Dataset:
    rows = [
        (str(i), datetime(2024, 5, 1, i), {"id": i, "shop_no": "S1", "goods": [{"shop_no": "x"}]})
        for i in range(4)
    ]
    return Dataset(rows, dice=FaultDice(faults))


def test_the_key_is_renamed_at_every_depth_after_the_given_calls() -> None:
    data = _dataset(Faults(rename_field="shop_no:shopNo", rename_after_calls=1))
    ids = data.select()
    data.tick()
    assert data.page(ids, 0, 2)[0] == {"id": 0, "shop_no": "S1", "goods": [{"shop_no": "x"}]}
    data.tick()
    assert data.page(ids, 2, 2)[0] == {"id": 2, "shopNo": "S1", "goods": [{"shopNo": "x"}]}
    assert data.get("2") == {"id": 2, "shop_no": "S1", "goods": [{"shop_no": "x"}]}  # the stored record stays


def test_a_rename_without_both_names_is_refused() -> None:
    with pytest.raises(ValueError, match="'old:new'"):
        Faults(rename_field="shop_no")
