"""What is kept of the chats: the ledger of requests and the one thread that writes the history."""
