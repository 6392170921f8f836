"""The database behind the server and the client's local replica (SQLAlchemy 2, asyncio).

- `open_store(url)` → `Store` with `write()` / `read()` units of work (`engine`).
- `ContractRepository`: the core use cases, one transaction each (`repository`).
- reads in `queries` and `aggregates` (dashboard); the event log in `event_log`.
- schema in `schema`, migrations in `migrate` (Alembic, `migrations/`).
"""

from core.store.engine import Store, open_store
from core.store.migrate import downgrade, upgrade
from core.store.repository import ContractRepository
from core.store.unit_of_work import Applied, ReadUnitOfWork, WriteUnitOfWork

__all__ = [
    "Applied",
    "ContractRepository",
    "ReadUnitOfWork",
    "Store",
    "WriteUnitOfWork",
    "downgrade",
    "open_store",
    "upgrade",
]
