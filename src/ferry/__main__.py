"""``python -m ferry`` is the ``ferry`` command."""

from ferry.cli.main import app

if __name__ == "__main__":
    app()
