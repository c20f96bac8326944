"""The IP garbage collector (docs/gc.md), run by a CronJob: ``gc/main.py`` or ``python -m
spidernet.gc``.

    rules       is a holder of records a zombie? (pure)
    census      what a pass read, arranged by holder; inconsistencies (pure)
    suspects    first sightings of zombies, across passes (pure)
    plan        what a pass will do (pure)
    report      the JSON report and the summary (pure)
    collecting  one pass against the API server (the I/O)
    command     options, passes, output (the entry's wiring)

The code lives here, not in the repository's ``gc/`` folder: ``gc`` is a standard
library module, so ``gc/`` holds only the entry script and is no package.
"""
