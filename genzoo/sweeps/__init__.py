"""Speed/quality sweeps of the model families: every speed figure beside the quality it keeps.

``plan`` says which points a family's sweep visits, ``runner`` runs one point through the
harness pipeline, ``family_sweep.run_family`` runs a family's whole sweep.
"""

from genzoo.sweeps.family_sweep import run_family

__all__ = ["run_family"]
