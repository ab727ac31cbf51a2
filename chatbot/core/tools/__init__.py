"""Tools through MCP servers: the servers (`servers.py`), their tools as the model sees them (`definitions.py`),
the calls a stream delivers in pieces (`calls.py`) and when a call needs the user's yes (`policy.py`).

Nothing here imports the `mcp` SDK at import time: it costs about a second, which start-up must not pay; a
server's first start imports it off the event loop.
"""
