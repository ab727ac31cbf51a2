"""Benchmarks of the chat app: ``python -m benchmarks`` runs them all (see benchmarks/__main__.py).

Not tests: pytest never collects them (its testpaths is tests/, and no file here is named test_*.py).
"""

# Run in this order; each name is a module of this package with run(quick: bool) -> list[helpers.Row].
BENCHMARKS = ("streaming", "responsiveness", "startup", "long_conversation", "token_counting", "terminal")
