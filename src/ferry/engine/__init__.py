"""The collect -> ledger -> deliver engine (docs/architecture.md §2)."""
