"""The Jiayi domain: residents, care teams, contracts, consults, follow-ups, referrals and access rules.

Plain dataclasses, enums and pure functions. Nothing here does I/O or imports aiohttp, Socket.IO,
aiortc, SQLAlchemy or Redis: the other packages persist, transport and render what this package decides.
"""
