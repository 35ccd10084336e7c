"""The triage classifier: SudachiPy normalised forms + character n-grams, a linear model.

Implements ``bot.domain.triage.Classifier``; wired in ``bot/app.py``. See
docs/triage.md for the corpus, the evaluation and why the weights are committed.
"""
