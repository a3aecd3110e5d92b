"""The Socket.IO signaling hub (to come with the live-consult issue).

Namespaces, consult rooms, presence, the waiting queue, messaging and the multi-node (Redis) manager live
here. It speaks to clients over python-socketio, asks `consult/` what is allowed, persists through
`storage/`, and hands SDP to `media/` through a small interface. Clients authenticate with the same bearer
token as the HTTP API (see `web/auth.py`).
"""
