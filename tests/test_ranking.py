"""The ranking rule, pure: each thing's chance of being the best from its votes, and when a winner is named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store.ranking import WINNER_CHANCE, Ranked, chances, rank, winner


def test_three_up_against_two_down_names_a_winner_and_a_tie_does_not() -> None:
    # 3 👍 on one, 2 👎 on another, nothing else: in a run of two, or with unvoted ones beside them.
    for votes in ([(3, 0), (0, 2)], [(3, 0), (0, 2), (0, 0)], [(3, 0), (0, 2), (0, 0), (0, 0), (0, 0)]):
        ranking = rank(list(range(len(votes))), lambda i, v=votes: v[i])  # type: ignore[misc]
        found = winner(ranking)
        assert found is not None and found[0] == 0, votes
    for votes in ([(1, 0), (1, 0)], [(1, 0), (1, 0), (0, 0)]):
        assert winner(rank(list(range(len(votes))), lambda i, v=votes: v[i])) is None  # type: ignore[misc]


def test_known_chances() -> None:
    # Worked by hand: P(Beta(4,1) > Beta(1,2)) = ∫ 4x³ (2x - x²) dx = 8/5 - 2/3 = 14/15.
    assert chances([(3, 0), (0, 1)]) == pytest.approx([14 / 15, 1 / 15], abs=1e-3)
    # P(Beta(4,1) > Beta(1,1)) = E[x] = 4/5.
    assert chances([(3, 0), (0, 0)]) == pytest.approx([0.8, 0.2], abs=1e-3)
    assert chances([(1, 0), (1, 0)]) == [0.5, 0.5]
    assert chances([(3, 0)]) == pytest.approx([0.8], abs=1e-3) and chances([]) == []  # alone: against an untried one


def test_unvoted_things_are_one_rival_together() -> None:
    alone, beside_three = chances([(3, 0), (0, 0)]), chances([(3, 0), (0, 0), (0, 0), (0, 0)])
    assert beside_three[0] == pytest.approx(alone[0])
    assert beside_three[1:] == pytest.approx([alone[1] / 3] * 3)


def test_more_votes_at_the_same_share_say_more() -> None:
    assert chances([(8, 2), (4, 1)])[0] > 0.5
    assert chances([(9, 3), (1, 0)])[0] > 0.5  # one lucky 👍 does not beat 9 to 3


def test_descriptions_say_the_votes_and_the_chance() -> None:
    [(_, first), (_, second)] = rank(["a", "b"], {"a": (3, 0), "b": (0, 1)}.__getitem__)
    assert first.describe() == "3 👍 0 👎, 93% likely the best"
    assert second.describe() == "0 👍 1 👎, 7% likely the best"
    assert Ranked(0, 0, 0.5).describe() == "no votes yet"
    assert Ranked(1200, 300, 0.5).describe() == "1,200 👍 300 👎, 50% likely the best"
    assert Ranked(0, 0, WINNER_CHANCE).winner is False  # "more than" the threshold


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=6))
def test_chances_add_up_and_an_extra_thumbs_up_always_helps(votes: list[tuple[int, int]]) -> None:
    found = chances(votes)
    alone = len(votes) == 1 and sum(votes[0]) > 0  # measured against an untried rival that is not listed
    assert sum(found) == pytest.approx(1.0) or (alone and sum(found) < 1)
    assert all(0.0 <= c <= 1.0 for c in found)
    assert found == chances(votes)  # deterministic
    more = [(votes[0][0] + 1, votes[0][1]), *votes[1:]]
    if len(votes) > 1:
        assert chances(more)[0] >= found[0] - 1e-9
