"""Persistence: SQLAlchemy models and repositories, migrations, the encrypted blob store and the audit chain.

Repositories take an `AsyncSession`, flush, and return `consult/` dataclasses; the caller owns the
transaction. Nothing here decides a rule: that is `consult/`'s job.
"""
