"""Results on disk and the conventions every reader of the measurement table shares.

The table is ``genzoo.measurement.to_frame`` (one row per measurement, long format, a
``knob_<name>`` column per knob) plus the environment fingerprint's columns. The modules:

- ``store``: one results directory per run (``results/<run-id>/``): the raw pytest-benchmark
  JSON, the sweep rows, the fingerprint, a tidy ``measurements.csv``, and a record of finished
  stages so that a stopped run can be resumed;
- ``benchmark_json``: pytest-benchmark JSON, genzoo's or any other project's;
- ``schema``: the files' schema version, and the migration of older rows;
- ``table``: the column types, the machine a row was measured on, how values are shown;
- ``metrics``: which way a metric is better, what is a speed, and which rows may claim one;
- ``errors``: ``ResultsError``, naming the file that cannot be read.
"""

from genzoo.results.errors import ResultsError
from genzoo.results.metrics import is_speed_metric, is_throughput_metric, metric_direction, speed_exclusion
from genzoo.results.table import (
    MEASUREMENT_COLUMNS,
    PROVENANCE_COLUMNS,
    format_value,
    machine_labels,
    typed_table,
)

__all__ = [
    "MEASUREMENT_COLUMNS", "PROVENANCE_COLUMNS", "ResultsError", "format_value", "is_speed_metric",
    "is_throughput_metric", "machine_labels", "metric_direction", "speed_exclusion", "typed_table",
]
