"""charrnn engine: corpora, batching, models, training, sampling and model files.

Imports torch and numpy only; never textual or rich (tests/engine/test_boundary.py checks).
"""
