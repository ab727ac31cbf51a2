"""Screens of the app, one per file, each with its stylesheet beside it."""
