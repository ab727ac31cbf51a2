"""Widgets of the chat screen, each with its stylesheet beside it."""
