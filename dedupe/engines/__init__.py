"""Engines that run ``Detector.scan`` elsewhere than in this process: ``spark`` for clusters.

Each is imported on its own (``from dedupe.engines.spark import scan_dataframe``), so that its
optional dependencies are needed only by those who use it.
"""
