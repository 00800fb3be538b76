"""The five seed schemes in ``examples/`` (and their two helper schemes) load and validate.

Their connections read endpoints and credentials from the environment; here the environment
is the sandbox's (``ferry.sandbox.seeds.sandbox_env``), so every vendor connection type must be
registered and every connection field must validate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ferry.sandbox import Sandbox
from ferry.sandbox.seeds import SEEDS as SCHEME_FILES
from ferry.sandbox.seeds import sandbox_env
from ferry.scheme import Scheme, SourceMetadata, TargetMetadata, load_metadata, load_scheme, validate_metadata

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = [
    "000-k3cloud-saleorder-status-to-mysql",
    "001-kuaimai-aftersale-to-mysql",
    "002-jushuitan-otherinout-to-kis",
    "003-wdt-stockout-to-k3cloud-customer",
    "004-okki-receipts-to-k3cloud",
]
ENV = {
    **sandbox_env(Sandbox({})),
    "MOM_MYSQL_URL": "mysql+pymysql://mes@db.internal:3306/ty_mes",
    "BI_MYSQL_URL": "mysql+pymysql://bi@db.internal:3306/bi",
}


@pytest.mark.parametrize("entry", SCHEME_FILES, ids=lambda e: e.key)
def test_every_example_scheme_loads_with_its_connections(entry) -> None:
    scheme: Scheme = load_scheme(EXAMPLES / entry.folder / entry.file, env=ENV)
    assert scheme.source_meta is not None and scheme.target_meta is not None
    assert scheme.source_connection is not None and scheme.target_connection is not None


def test_example_connections_name_every_variable_the_sandbox_env_answers() -> None:
    refs = set()
    for folder in SEEDS:
        text = (EXAMPLES / folder / "connections.yaml").read_text(encoding="utf-8")
        refs |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert refs - set(ENV) == set()
    assert set(sandbox_env(Sandbox({}))) <= refs


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_metadata_loads_on_the_side_its_effect_names(seed: str) -> None:
    folder = EXAMPLES / seed
    source = load_metadata(folder / "source.json")
    target = load_metadata(folder / "target.json")
    assert isinstance(source, SourceMetadata) and source.id
    assert isinstance(target, TargetMetadata)


def test_seed_schemes_are_valid_without_their_connections() -> None:
    """With connections stripped, the DSL part of every seed is clean (independent of vendors)."""
    for seed in SEEDS:
        folder = EXAMPLES / seed
        source = load_metadata(folder / "source.json")
        target = load_metadata(folder / "target.json")
        scheme_text = (folder / "scheme.yaml").read_text(encoding="utf-8")
        lookup = re.search(r"lookup_scheme:\s*(\S+)", scheme_text)
        default = lookup.group(1) if lookup else None
        assert validate_metadata(source, "source", lookup_scheme=default) == [], seed
        assert validate_metadata(target, "target", lookup_scheme=default) == [], seed


def test_seed_002_needs_its_lookup_scheme_setting() -> None:
    target = load_metadata(EXAMPLES / SEEDS[2] / "target.json")
    issues = validate_metadata(target, "target")
    assert [i.path for i in issues] == [
        "target.request[5].children[0].value",
        "target.request[5].children[1].value",
    ]
    assert all("lookup_scheme" in str(i) for i in issues)


def test_examples_readme_explains_every_seed() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for seed in SEEDS:
        assert f"`{seed}/`" in readme, seed
