"""The web console: FastAPI pages and a JSON API over a Ferry store (docs/architecture.md §7).

::

    from ferry.console import SchemeFiles, create_app
    files = SchemeFiles(["examples/001-kuaimai-aftersale-to-mysql/scheme.yaml"])
    app = create_app(store, schemes=files.schemes, load_issues=files.issues)
    # uvicorn.run(app, host="127.0.0.1", port=8000)  -- or: ferry console FILES...

Pages and the API need a console user (``ferry users add NAME``); every POST needs the
session's CSRF token. No asset comes from a CDN: CSS, JavaScript and the charts (inline SVG)
are served by the app, so it works offline. Labels are in Chinese and English.
"""

from ferry.console._app import create_app
from ferry.console._auth import (
    add_user,
    authenticate,
    hash_password,
    list_users,
    remove_user,
    verify_password,
)
from ferry.console._files import SchemeFiles
from ferry.console._runner import BackgroundRunner, RunState

__all__ = [
    "BackgroundRunner",
    "RunState",
    "SchemeFiles",
    "add_user",
    "authenticate",
    "create_app",
    "hash_password",
    "list_users",
    "remove_user",
    "verify_password",
]
