"""A keyboard-driven terminal chat client for the OpenAI chat-completions API."""

__version__ = "0.1.0"
