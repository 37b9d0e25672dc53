"""The ranking rule, pure: Wilson lower bounds, the minimum number of votes, and crafted votes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store.ranking import MIN_VOTES, Ranked, leaders, wilson_interval, wilson_lower


def test_known_intervals() -> None:
    # Worked by hand from the formula (z = 1.96): 9 of 12 is 47% to 91%; 1 of 1 is 21% to 100%.
    assert wilson_interval(9, 12) == pytest.approx((0.4677, 0.9111), abs=1e-4)
    assert wilson_interval(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)
    assert wilson_interval(0, 5) == pytest.approx((0.0, 0.4345), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_one_thumbs_up_on_a_new_type_does_not_beat_nine_to_three() -> None:
    new, old = Ranked(up=1, down=0), Ranked(up=9, down=3)
    assert new.votes < MIN_VOTES and not new.enough and old.enough
    assert wilson_lower(1, 1) < wilson_lower(9, 12)  # even without the minimum, the score gets it right
    assert sorted([new, old], key=lambda r: r.order) == [old, new]
    assert leaders([new, old], lambda r: r) == [old]


def test_more_votes_at_the_same_share_rank_higher() -> None:
    few, many = Ranked(4, 1), Ranked(40, 10)
    assert few.share == many.share == 0.8
    assert sorted([few, many], key=lambda r: r.order) == [many, few]


def test_nothing_leads_without_enough_votes_and_exact_ties_share_the_lead() -> None:
    assert leaders([Ranked(MIN_VOTES - 1, 0), Ranked(0, 1)], lambda r: r) == []
    a, b, c = Ranked(4, 1), Ranked(4, 1), Ranked(3, 2)
    assert leaders([a, c, b], lambda r: r) == [a, b]


def test_descriptions_say_the_share_the_range_and_the_votes() -> None:
    assert Ranked(9, 3).describe() == "75% 👍 (47-91%), 12 votes"
    assert Ranked(1, 0).describe() == f"not enough votes yet (1 of {MIN_VOTES} votes)"
    assert Ranked(1200, 300).describe() == "80% 👍 (78-82%), 1,500 votes"


@given(st.integers(0, 500), st.integers(0, 500))
def test_the_interval_holds_the_share_and_tightens_with_more_votes(up: int, down: int) -> None:
    low, high = wilson_interval(up, up + down)
    assert 0.0 <= low <= high <= 1.0
    if up + down:
        assert low <= up / (up + down) + 1e-12 <= high + 2e-12
        # twice the votes at the same share: a higher lower bound
        assert wilson_lower(2 * up, 2 * (up + down)) >= low - 1e-12
    assert wilson_lower(up + 1, up + down + 1) > wilson_lower(up, up + down + 1)  # one more 👍 always helps
