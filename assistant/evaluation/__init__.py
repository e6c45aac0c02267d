"""Evaluating: load a QA set, run the assistant (and the tutorial baselines), compute metrics, write reports.

``evaluate`` (QA files and metrics), ``runner`` (the ``eval`` command's run folder and floors),
``baseline`` (the LangChain-tutorial pipelines), ``report`` (report.md and report.html).
"""
