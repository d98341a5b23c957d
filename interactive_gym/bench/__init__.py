"""Benchmarks: ``python -m interactive_gym.bench [--quick] [--json PATH] [--only SECTION]``.

Each section measures one part of the system on real components (Chromium, Pyodide, uvicorn,
the database) and reports its figures next to their targets; see ``__main__.py``.
"""
