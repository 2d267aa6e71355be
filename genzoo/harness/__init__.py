"""The harness: the one path that every measured thing takes, op or model or sweep point.

    point -> fresh inputs -> backend applied (``backends``) -> warm-up (compilation) ->
    checked output (error against its reference, or against eager fp32) ->
    synchronized timing (``timing``; no recompilation inside) -> ``Measurement`` row

``pipeline.measure`` runs it for any subject: ``ops.OpSubject`` (a registry op at one case)
and ``models.ModelSubject`` (a family's generation or training step). The pytest-benchmark
suites in ``bench/`` and ``genzoo run``'s stages are adapters over it; ``gate`` holds the one
rule for whether a row may claim a speed; ``ceilings`` measures the machine's roofs in the same
run; ``goals`` reads the issues' speed goals off the rows.
"""
