"""What is kept of the chats: the history (SQLite), the ledger of requests, export and import, the usage log, and
the one thread that writes the history. The recorder and the usage log observe a session's events; nothing here
runs a turn."""
