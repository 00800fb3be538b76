"""The ``ferry`` command line (typer + rich); the app is :data:`ferry.cli.main.app`."""
