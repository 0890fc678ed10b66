"""Quality benchmarks for dedupe: labelled sets, the datasketch baseline and their comparison.

Run ``python -m benchmarks.quality``; see ``benchmarks/README.md``. The data is read from
``../shared/data`` (or ``--data`` / ``DEDUPE_DATA``) and never copied into the repository.
"""
