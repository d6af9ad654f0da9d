import numpy as np
import pytest

from recoup.risk.grades import (
    COLLECTION_BANDS,
    EARLY_WARNING_BANDS,
    GradeBands,
    GradeBandsError,
    parse_grade_bands,
)


def test_grade__a_bound_belongs_to_the_band_above_it() -> None:
    p = np.array([0.0, 0.0199, 0.02, 0.0499, 0.05, 0.1199, 0.12, 0.2499, 0.25, 1.0])
    assert EARLY_WARNING_BANDS.grade(p).tolist() == list("AABBCCDDEE")


def test_grade__collection_bands_are_even_steps_of_twenty_points() -> None:
    p = np.array([0.1, 0.2, 0.39, 0.4, 0.6, 0.79, 0.8, 0.99])
    assert COLLECTION_BANDS.grade(p).tolist() == list("ABBCDDEE")


def test_grade__keeps_the_shape_and_accepts_lists() -> None:
    assert EARLY_WARNING_BANDS.grade([[0.01, 0.3], [0.06, 0.2]]).tolist() == [
        ["A", "E"],
        ["C", "D"],
    ]
    assert EARLY_WARNING_BANDS.grade(np.zeros(0)).shape == (0,)


def test_grade__configured_names_and_bounds() -> None:
    bands = GradeBands(bounds=(0.1, 0.3), names=("low", "medium", "high"))
    assert bands.grade(np.array([0.05, 0.1, 0.29, 0.3])).tolist() == [
        "low",
        "medium",
        "medium",
        "high",
    ]


@pytest.mark.parametrize(
    ("p", "message"),
    [
        ([0.1, float("nan")], "missing"),
        ([0.1, -0.01], "-0.01 is not between 0 and 1"),
        ([1.2], "1.2 is not between 0 and 1"),
    ],
)
def test_grade__refuses_what_is_not_a_probability(p: list[float], message: str) -> None:
    with pytest.raises(GradeBandsError, match=message):
        EARLY_WARNING_BANDS.grade(np.array(p))


@pytest.mark.parametrize(
    ("bounds", "names", "message"),
    [
        ((0.05, 0.02), ("A", "B", "C"), "upper bound 0.02 does not exceed .* bounds must increase"),
        ((0.05, 0.05), ("A", "B", "C"), "bounds must increase"),
        ((0.05, 0.1), ("A", "B", "A"), "band name 'A' appears twice"),
        ((0.0, 0.1), ("A", "B", "C"), "upper bound 0.0 is not between 0 and 1"),
        ((0.5, 1.0), ("A", "B", "C"), "upper bound 1.0 is not between 0 and 1"),
        ((0.1,), ("A", "B", "C"), "3 names need 2 upper bounds, got 1"),
        ((), ("A",), "at least two bands"),
        ((0.1,), ("A", ""), "non-empty text"),
        ((0.1,), ("A", " B"), "surrounding spaces"),
        ((0.1,), ("A", "VERY-HIGH"), "longer than 8 characters"),
    ],
)
def test_grade_bands__refuse_an_unusable_configuration(
    bounds: tuple[float, ...], names: tuple[str, ...], message: str
) -> None:
    with pytest.raises(GradeBandsError, match=message):
        GradeBands(bounds=bounds, names=names)


def test_parse_grade_bands__reads_names_bounds_and_percentages_in_order() -> None:
    bands = parse_grade_bands({"low": "10%", "mid": 0.3, "high": "62.5 %", "worst": None})
    assert bands == GradeBands(bounds=(0.1, 0.3, 0.625), names=("low", "mid", "high", "worst"))


def test_parse_grade_bands__reads_back_the_defaults_it_writes() -> None:
    assert EARLY_WARNING_BANDS.to_mapping() == {
        "A": 0.02,
        "B": 0.05,
        "C": 0.12,
        "D": 0.25,
        "E": None,
    }
    for bands in (EARLY_WARNING_BANDS, COLLECTION_BANDS):
        assert parse_grade_bands(bands.to_mapping()) == bands


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"A": 0.02, "B": 0.05}, "the last band 'B' has no upper bound; write null"),
        ({"A": 0.02, "B": None, "C": None}, "band 'B' needs an upper bound"),
        ({"A": "two", "B": None}, "'two' is neither a number nor a percentage"),
        ({"A": True, "B": None}, "True is no number"),
        ({"A": None}, "at least two bands"),
        ({"A": 0.3, "B": 0.2, "C": None}, "bounds must increase"),
        (["A", "B"], "expected a mapping"),
    ],
)
def test_parse_grade_bands__says_which_band_is_wrong(section: object, message: str) -> None:
    with pytest.raises(GradeBandsError, match=message):
        parse_grade_bands(section)  # type: ignore[arg-type]


def test_parse_grade_bands__numeric_names_from_yaml_become_text() -> None:
    bands = parse_grade_bands({1: 0.1, 2: 0.4, 3: None})
    assert bands.grade(np.array([0.05, 0.5])).tolist() == ["1", "3"]
