"""The Textual layer: it calls chatbot.core and renders what it returns."""
