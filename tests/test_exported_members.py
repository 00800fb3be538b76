import ferry


def test_all_is_sorted_and_every_name_exists_and_is_public():
    assert ferry.__all__ == sorted(ferry.__all__)
    for name in ferry.__all__:
        assert hasattr(ferry, name), name


def test_nothing_public_is_left_out_of_all():
    public = {n for n in dir(ferry) if not n.startswith("_")} - {
        # subpackages imported as a side effect of the re-exports
        "annotations",
        "importlib",
        "TYPE_CHECKING",
        "Any",
        "cli",
        "connectors",
        "console",
        "dberrors",
        "demo",
        "sandbox",
        "schedule",
        "engine",
        "errors",
        "expr",
        "observe",
        "scheme",
        "store",
        "transform",
    }
    assert public <= set(ferry.__all__), public - set(ferry.__all__)
