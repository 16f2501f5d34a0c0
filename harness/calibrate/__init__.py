"""``onyx-bench calibrate``: measure a running server gently and write a profile of it.

    measure       run files one after another against the target, no retry, a pause between
                  them, through the harness's extractor and runner; every call recorded (``measure``)
    analyze       per endpoint: the durations of its successful calls, fits of the mock's
                  distributions ranked by AIC (``fit``), 95% intervals of the median and p99
                  (``intervals``), and its failures as the mock's fault probabilities (``faults``)
    write         the profile TOML (``profile_text``), the durations per endpoint as CSVs that
                  ``empirical(...)`` reads, every call as a CSV, and a CDF and Q-Q plot (``plot``),
                  whole or not at all (``write``)

The names below are imported on first use, so the CLI's ``--help`` stays light.
"""

from typing import TYPE_CHECKING

from mock_onyx.lazy import lazy_exports

if TYPE_CHECKING:
    from harness.calibrate.analyze import EndpointFit
    from harness.calibrate.fit import Fit, fit_all
    from harness.calibrate.intervals import Interval
    from harness.calibrate.measure import Calibration, Settings, measure
    from harness.calibrate.profile_text import Outputs
    from harness.calibrate.write import write_all

FIT_CHOICES = ("best", "lognormal", "empirical")  # what the profile gives each endpoint
SOURCES = ("auto", "drawn", "measured")  # which durations are fitted

__all__ = ["FIT_CHOICES", "SOURCES", "Calibration", "EndpointFit", "Fit", "Interval", "Outputs", "Settings",
           "fit_all", "measure", "write_all"]

_SUBMODULES = {
    "analyze": ("EndpointFit",),
    "fit": ("Fit", "fit_all"),
    "intervals": ("Interval",),
    "measure": ("Calibration", "Settings", "measure"),
    "profile_text": ("Outputs",),
    "write": ("write_all",),
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _SUBMODULES)
