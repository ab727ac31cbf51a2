"""The command line: `chat` and its store commands. It calls chatbot.core and prints through cli.output."""

from chatbot.cli.run import main

__all__ = ["main"]
