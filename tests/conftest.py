"""Hypothesis profiles: HYPOTHESIS_PROFILE=ci (the default, keeps the suite under five minutes on
two cores), dev (more examples) or thorough (for a night run)."""

import os
import pathlib
import sys

from hypothesis import HealthCheck, settings

# examples/ (the lstm_showcase package) importable by the tests of the showcase's code, once for all
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples"))

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

