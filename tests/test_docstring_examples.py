"""The examples in the package's docstrings run as written.

They are what ``help(robustmech.ModelBuilder)`` and the API page show; every module of
``robustmech`` is run through :mod:`doctest`, so an example that raises or prints
something else than it says fails here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import robustmech

MODULES = ["robustmech"] + sorted(m.name for m in pkgutil.walk_packages(robustmech.__path__, "robustmech.")
                                  if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, (f"{result.failed} of the {result.attempted} examples of {name} fail "
                                "(see the output above)")


def test_the_builders_have_examples():
    """The two builders' docstrings hold examples (the test above is not vacuous for them)."""
    finder = doctest.DocTestFinder()
    for name, cls in (("robustmech.model.environment", "ModelBuilder"),
                      ("robustmech.model.prior_free", "PriorFreeBuilder")):
        module = importlib.import_module(name)
        tests = finder.find(getattr(module, cls), f"{name}.{cls}", module=module)
        assert sum(len(t.examples) for t in tests) >= 8, cls


def test_model_builder_example_is_the_public_good_of_the_model_file():
    """The ModelBuilder example builds the environment of models/public_good.mech (004
    Section 4.1, N = 2, social value 3): the same lowered utility and objective arrays."""
    import pathlib

    import numpy as np

    import robustmech as rm

    [example] = [t for t in doctest.DocTestFinder().find(rm.ModelBuilder, "ModelBuilder", globs={})
                 if t.name == "ModelBuilder"]
    assert doctest.DocTestRunner().run(example, out=lambda _: None, clear_globs=False).failed == 0
    built = rm.lower_environment(example.globs["env"])
    path = pathlib.Path(__file__).resolve().parent.parent / "models" / "public_good.mech"
    from_file = rm.lower_environment(rm.load_model(path))
    for name in ("prior", "states", "utility_coef", "utility_const", "designer_coef", "designer_const"):
        np.testing.assert_allclose(getattr(built, name), getattr(from_file, name), err_msg=name)
