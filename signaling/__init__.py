"""The Socket.IO signaling hub: `/chat` (messaging) and `/consult` (waiting room and consult rooms).

`hub.Hub` owns the python-socketio server, the shared room state (memory, or Redis with several
nodes) and the grace timers; `namespace.BaseNamespace` authenticates connections with the HTTP API's
bearer token and runs every event through one wrapper (rate limit, size, validation, one transaction,
emits after commit). The events and payloads are documented in docs/protocol.md. Video offers and
answers will travel over `/consult` to `media/` (next issue).
"""
