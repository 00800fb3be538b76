"""The collect -> ledger -> deliver engine (DESIGN §2)."""
