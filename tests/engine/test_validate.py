"""`llmsoc validate`: reference on several seeds, blank stub, mutants caught or reported missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.grading.config import Course
from autograder.grading.validate import MIN_MUTANTS, Mutant, apply_mutant, validate

STUB = """
    def add(a, b):
        raise NotImplementedError("TODO: add")

    def scale(x, k):
        raise NotImplementedError("TODO: scale")
    """

HIDDEN = """
    import pytest
    import torch

    from autograder.grading import checks

    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.hint("a + b")
    def test_add(submission, reference, rng):
        a, b = torch.randn(3, generator=rng), torch.randn(3, generator=rng)
        checks.assert_close(submission.add(a, b), reference.add(a, b))

    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.hint("x * k")
    def test_scale(submission, reference, rng):
        x = torch.randn(3, generator=rng)
        checks.assert_close(submission.scale(x, 3.0), reference.scale(x, 3.0))
    """


def mutants_toml(missed: bool) -> str:
    """MIN_MUTANTS mutants that break `add`; with ``missed``, the last one changes nothing."""
    entries = [("a + b", f"a + b + {k + 1}") for k in range(MIN_MUTANTS - 1)]
    entries.append(("a + b", "b + a") if missed else ("a + b", "a - b"))
    return "".join(f'[[mutant]]\nname = "m{k}"\ndescription = "mutant {k}"\n'
                   f'file = "__init__.py"\nfind = "{find}"\nreplace = "{replace}"\n\n'
                   for k, (find, replace) in enumerate(entries))


@pytest.fixture
def course(make_course, forget_course_modules):
    def make(missed: bool) -> Course:
        root = make_course(STUB, {"test_x.py": HIDDEN, "mutants.toml": mutants_toml(missed)})
        forget_course_modules()
        return Course(root)

    yield make
    forget_course_modules()


def test_a_sound_course_is_valid(course) -> None:
    v = validate(course(missed=False), "demo", seeds=2, progress=lambda s: None)
    assert v.problems == []
    assert v.lines[0].startswith("reference: full marks on 2/2 seeds")
    assert v.lines[1].startswith("stub: 0/2, 2/2 tests say 'not implemented'")
    # a mutant's run stops at the first test that takes points off it
    assert all(line.endswith("caught by test_add") for line in v.lines[2:])
    assert len(v.lines) == 2 + MIN_MUTANTS


def test_a_mutant_that_scores_full_marks_is_a_problem(course) -> None:
    v = validate(course(missed=True), "demo", seeds=1, progress=lambda s: None)
    assert v.problems == [f"mutant m{MIN_MUTANTS - 1} (mutant {MIN_MUTANTS - 1}) scores full "
                          "marks"]
    assert v.lines[-1] == f"mutant m{MIN_MUTANTS - 1}: MISSED, 2/2"


def test_a_mutant_must_match_exactly_once(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\ny = 1\n")
    with pytest.raises(ValueError, match="occurs 2 times"):
        apply_mutant(package, Mutant("m", "d", "__init__.py", "= 1", "= 2"), tmp_path / "out")


def test_slow_tests_run_last(make_course, grade) -> None:
    """Training and perplexity tests run after the others, whatever their order in the file."""
    order = """
        import pytest

        RAN = []

        @pytest.mark.points(1)
        @pytest.mark.category("training")
        @pytest.mark.hint("h")
        def test_train(submission):
            RAN.append("train")

        @pytest.mark.points(1)
        @pytest.mark.category("perplexity")
        @pytest.mark.hint("h")
        def test_perplexity(submission):
            RAN.append("perplexity")

        @pytest.mark.points(1)
        @pytest.mark.category("value")
        @pytest.mark.hint("h")
        def test_value(submission):
            RAN.append("value")

        @pytest.mark.points(1)
        @pytest.mark.category("value")
        @pytest.mark.hint("h")
        def test_ran_first(submission):
            assert RAN == ["value"]
        """
    graded = grade(make_course(STUB, order), stop_at_first_failure=True)
    assert graded["test_ran_first"].status == "passed"
    assert list(graded.tests) == ["test_value", "test_ran_first", "test_train",
                                         "test_perplexity"]
