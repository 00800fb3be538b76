"""The five seed schemes in ``examples/`` load and pass every DSL check.

Vendor connection types (Kingdee, JuShuiTan, WangDianTong, KuaiMai, OKKI) arrive with the
vendor connectors; until they are registered, the only issues a seed scheme may raise are
``unknown connection type`` at ``connections.<name>.type`` -- and the test says which.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ferry.errors import SchemeError
from ferry.scheme import Scheme, SourceMetadata, TargetMetadata, load_metadata, load_scheme, validate_metadata

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = [
    "000-k3cloud-saleorder-status-to-mysql",
    "001-kuaimai-aftersale-to-mysql",
    "002-jushuitan-otherinout-to-kis",
    "003-wdt-stockout-to-k3cloud-customer",
    "004-okki-receipts-to-k3cloud",
]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _fake_env(folder: Path) -> dict[str, str]:
    names = _ENV_REF.findall((folder / "connections.yaml").read_text(encoding="utf-8"))
    return {name: ("sqlite://" if name.endswith("_URL") else f"test-{name.lower()}") for name in names}


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_metadata_loads_on_the_side_its_effect_names(seed: str) -> None:
    folder = EXAMPLES / seed
    source = load_metadata(folder / "source.json")
    target = load_metadata(folder / "target.json")
    assert isinstance(source, SourceMetadata) and source.id
    assert isinstance(target, TargetMetadata)


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_scheme_passes_all_dsl_checks(seed: str) -> None:
    folder = EXAMPLES / seed
    try:
        scheme: Scheme = load_scheme(folder / "scheme.yaml", env=_fake_env(folder))
    except SchemeError as exc:
        vendor = [i for i in exc.issues if i.message.startswith("unknown connection type")]
        others = [i for i in exc.issues if i not in vendor]
        assert not others, f"{seed}: issues other than unregistered vendor connection types:\n" + "\n".join(
            str(i) for i in others
        )
        assert all(re.fullmatch(r"connections\.\w+\.type", i.path) for i in vendor)
    else:
        assert scheme.source_meta is not None and scheme.target_meta is not None


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
