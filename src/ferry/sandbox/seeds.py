"""The five seed schemes (``examples/``) against the sandbox: what the main job and the
end-to-end tests run.

Each seed's ``connections.yaml`` takes endpoints and credentials from the environment
(``${K3CLOUD_URL}`` ...); :func:`sandbox_env` answers those variables with the simulators'
URLs and demo credentials. The MySQL targets of seeds 000 and 001 become SQLite files on the
embedded default (:func:`sqlite_connections`), with ``sqlite_attach`` so seed 000's
``update ty_mes.mt_so_head ...`` runs unchanged.

Two helper schemes come first: ``kis-material`` (the KIS materials seed 002 looks SKUs up in)
and ``caf5709b-...`` (the K3Cloud sales orders seed 004 finds FIDs in).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml

from ferry.sandbox import world
from ferry.sandbox.transport import Sandbox

__all__ = [
    "HISTORY_START",
    "RUN_UNTIL",
    "SEEDS",
    "Seed",
    "examples_dir",
    "examples_env",
    "load_seed",
    "load_state",
    "prepare_sqlite_targets",
    "run_seeds",
    "sandbox_env",
    "sandbox_rows",
    "save_state",
    "sqlite_connections",
]

RUN_UNTIL = world.ANCHOR + timedelta(days=1)
"""Collect up to here: the sandbox's history ends at ``world.ANCHOR``; a fixed end keeps runs repeatable."""
HISTORY_START = world.ANCHOR - world.SPAN - timedelta(days=1)
"""Where the sandbox's history starts (windows before it would all be empty)."""


@dataclass(frozen=True)
class Seed:
    """One scheme file of ``examples/``."""

    key: str
    folder: str
    file: str = "scheme.yaml"
    helper: bool = False
    """A reference-data scheme another seed looks up in (runs first)."""

    @property
    def path(self) -> Path:
        """The scheme file."""
        return examples_dir() / self.folder / self.file


SEEDS: tuple[Seed, ...] = (
    Seed("kis-material", "002-jushuitan-otherinout-to-kis", "kis-material.yaml", helper=True),
    Seed("k3cloud-saleorders", "004-okki-receipts-to-k3cloud", "k3cloud-saleorders.yaml", helper=True),
    Seed("000", "000-k3cloud-saleorder-status-to-mysql"),
    Seed("001", "001-kuaimai-aftersale-to-mysql"),
    Seed("002", "002-jushuitan-otherinout-to-kis"),
    Seed("003", "003-wdt-stockout-to-k3cloud-customer"),
    Seed("004", "004-okki-receipts-to-k3cloud"),
)
"""In run order: helpers before the seeds that look up in them."""


def examples_dir() -> Path:
    """``examples/`` of a source checkout, or the copy packaged as ``ferry/_examples``."""
    packaged = Path(__file__).resolve().parents[1] / "_examples"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "examples"


def sandbox_env(sandbox: Sandbox, urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the examples' ``connections.yaml`` files read, pointing at ``sandbox``.

    Args:
        sandbox: The simulators (their demo credentials are class constants).
        urls: Each simulator's root URL; defaults to the in-process ``http://<name>.sandbox``
            (``ferry sandbox`` passes its ``http://127.0.0.1:<port>`` URLs).
    """
    from ferry.sandbox.jushuitan import JushuitanSimulator as Jst
    from ferry.sandbox.k3cloud import K3CloudSimulator as K3
    from ferry.sandbox.kis import KisSimulator as Kis
    from ferry.sandbox.kuaimai import KuaimaiSimulator as Km
    from ferry.sandbox.okki import OkkiSimulator as Okki
    from ferry.sandbox.wangdiantong import WangdiantongSimulator as Wdt

    root = {name: sim.base_url for name, sim in sandbox.simulators.items()} | dict(urls or {})
    return {
        "K3CLOUD_URL": f"{root.get('k3cloud', 'http://k3cloud.sandbox')}/k3cloud",
        "K3CLOUD_ACCT_ID": K3.ACCT_ID,
        "K3CLOUD_USERNAME": K3.USERNAME,
        "K3CLOUD_APP_ID": K3.APP_ID,
        "K3CLOUD_APP_SECRET": K3.APP_SECRET,
        "KUAIMAI_URL": f"{root.get('kuaimai', 'http://kuaimai.sandbox')}/router",
        "KUAIMAI_APP_KEY": Km.APP_KEY,
        "KUAIMAI_APP_SECRET": Km.APP_SECRET,
        "KUAIMAI_SESSION": Km.SESSION,
        "JST_URL": root.get("jushuitan", "http://jushuitan.sandbox"),
        "JST_APP_KEY": Jst.APP_KEY,
        "JST_APP_SECRET": Jst.APP_SECRET,
        "JST_ACCESS_TOKEN": Jst.ACCESS_TOKEN,
        "KIS_URL": root.get("kis", "http://kis.sandbox"),
        "KIS_CLIENT_ID": Kis.CLIENT_ID,
        "KIS_CLIENT_SECRET": Kis.CLIENT_SECRET,
        "KIS_AUTH_CODE": Kis.AUTH_CODE,
        "KIS_ACCT_NUMBER": Kis.ACCT_NUMBER,
        "WDT_QIMEN_URL": f"{root.get('wangdiantong', 'http://wangdiantong.sandbox')}/router/qm",
        "WDT_SID": Wdt.SID,
        "WDT_QIMEN_APP_KEY": Wdt.QIMEN_APP_KEY,
        "WDT_QIMEN_APP_SECRET": Wdt.QIMEN_APP_SECRET,
        "WDT_TARGET_APP_KEY": Wdt.TARGET_APP_KEY,
        "OKKI_URL": root.get("okki", "http://okki.sandbox"),
        "OKKI_CLIENT_ID": Okki.CLIENT_ID,
        "OKKI_CLIENT_SECRET": Okki.CLIENT_SECRET,
    }


MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
"""Where the examples' MySQL databases live unless ``ferry sandbox --mysql`` says otherwise."""
SIZE_VARIABLE = "FERRY_SANDBOX_SIZE"
"""The env-file variable holding the sandbox's size (``ferry check --sandbox-rows`` reads it)."""


def examples_env(
    sandbox: Sandbox, urls: Mapping[str, str] | None = None, *, mysql: str = MYSQL_SERVER, size: int = 200
) -> dict[str, str]:
    """Every variable the examples' ``connections.yaml`` files read: :func:`sandbox_env`, the
    MySQL URLs of seeds 001 (``bi``) and 000 (``ty_mes``) on the server ``mysql``, and the
    sandbox's ``size`` (:data:`SIZE_VARIABLE`)."""
    server = mysql.rstrip("/")
    return {
        **sandbox_env(sandbox, urls),
        "BI_MYSQL_URL": f"{server}/bi?charset=utf8mb4",
        "MOM_MYSQL_URL": f"{server}/ty_mes?charset=utf8mb4",
        SIZE_VARIABLE: str(size),
    }


def sandbox_rows(size: int) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """Rows the systems beside the sandbox hold, by table: ``{table: (columns, rows)}``.

    Seed 000's MES (``mt_so_head``) knows every sales order of the K3Cloud simulator, ``OPEN``;
    the scheme closes those K3Cloud closed or cancelled. Only for trying the examples against
    the sandbox (``ferry check --create-tables --sandbox-rows``, ``ferry demo``).
    """
    orders = [(order.bill_no, "OPEN") for order in world.sale_orders(size)]
    return {"mt_so_head": (("SO_NUMBER", "SO_STATUS"), orders)}


def prepare_sqlite_targets(home: Path, sale_orders: int) -> dict[str, Path]:
    """Create the SQLite stand-ins of the seeds' MySQL databases under ``home``.

    ``ty_mes.db`` holds seed 000's ``mt_so_head`` with every sandbox sales order ``OPEN``
    (the MES knows the orders; the scheme closes them); ``bi.db`` holds seed 001's
    ``aftersale_list_query``. Existing rows are kept, so a second run shows what changed.
    """
    home.mkdir(parents=True, exist_ok=True)
    files = {"ty_mes": home / "ty_mes.db", "bi": home / "bi.db", "main": home / "targets.db"}
    with sqlite3.connect(files["ty_mes"]) as con:
        con.executescript((examples_dir() / SEEDS[2].folder / "schema.sql").read_text(encoding="utf-8"))
        columns, rows = sandbox_rows(sale_orders)["mt_so_head"]
        con.executemany(
            f"INSERT OR IGNORE INTO mt_so_head ({', '.join(columns)}) VALUES (?, ?)",
            rows,
        )
    with sqlite3.connect(files["bi"]) as con:
        con.executescript((examples_dir() / SEEDS[3].folder / "schema.sql").read_text(encoding="utf-8"))
    sqlite3.connect(files["main"]).close()
    return files


def _written(sandbox: Sandbox) -> dict[str, Any]:
    """The simulators the seeds write into (K3Cloud, KIS): their state is what a demo keeps."""
    from ferry.sandbox.k3cloud import K3CloudSimulator
    from ferry.sandbox.kis import KisSimulator

    return {
        name: sim
        for name, sim in sandbox.simulators.items()
        if isinstance(sim, K3CloudSimulator | KisSimulator)
    }


def _tagged(value: Any) -> Any:
    """``value`` as JSON data, datetimes tagged (``{"$datetime": iso}``) so they come back."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dict):
        return {k: _tagged(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    return value


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: _untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value


def save_state(sandbox: Sandbox, path: Path, size: int) -> Path:
    """Write what the seeds wrote into the K3Cloud and KIS simulators to ``path`` (JSON)."""
    state = {"size": size, **{name: sim.snapshot() for name, sim in _written(sandbox).items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(_tagged(state)))
    return path


def load_state(sandbox: Sandbox, path: Path, size: int) -> bool:
    """Put a :func:`save_state` file's records back into the simulators; ``False`` (nothing
    loaded) when there is none or it was saved with another ``size``."""
    if not path.is_file():
        return False
    state = _untagged(orjson.loads(path.read_bytes()))
    if state.get("size") != size:
        return False
    for name, sim in _written(sandbox).items():
        if name in state:
            sim.restore(state[name])
    return True


def sqlite_connections(seed: Seed, files: Mapping[str, Path]) -> dict[str, Any]:
    """``seed``'s connections with every ``sql`` connection replaced by a SQLite file."""
    raw = yaml.safe_load((examples_dir() / seed.folder / "connections.yaml").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for name, spec in raw.items():
        if spec.get("type") != "sql":
            out[name] = spec
        elif seed.key == "000":
            attach = {"ty_mes": str(files["ty_mes"])}
            out[name] = {"type": "sql", "url": f"sqlite:///{files['main']}", "sqlite_attach": attach}
        else:
            out[name] = {"type": "sql", "url": f"sqlite:///{files['bi']}"}
    return out


def load_seed(
    seed: Seed,
    *,
    env: Mapping[str, str],
    connections: Mapping[str, Any] | None = None,
    since: datetime | None = HISTORY_START,
) -> Any:
    """Load ``seed``'s scheme with ``env``; ``since`` moves its window start (``None``: keep)."""
    from ferry.scheme.loader import load_scheme

    scheme = load_scheme(seed.path, connections=connections, env=env)
    if since is not None:
        start = since if since.tzinfo else since.replace(tzinfo=scheme.tz)
        scheme.window = scheme.window.model_copy(update={"start": start})
    return scheme


def run_seeds(
    store: Any,
    *,
    sandbox: Sandbox,
    env: Mapping[str, str],
    connections: Callable[[Seed], Mapping[str, Any] | None] = lambda seed: None,
    seeds: tuple[Seed, ...] = SEEDS,
    now: datetime = RUN_UNTIL,
    since: datetime | None = HISTORY_START,
    progress: Callable[[Seed, Any], Any] | None = None,
    retry: Any = None,
    in_process: bool = True,
) -> Iterator[tuple[Seed, Any]]:
    """Run each of ``seeds`` once against ``sandbox``; yields ``(seed, RunReport)``.

    ``in_process``: reach the simulators through the in-process transport; ``False`` when
    ``env`` points at a :class:`~ferry.sandbox.server.SandboxServer` (real HTTP).

    ``progress(seed, scheme)`` may return a context manager whose value is passed to
    ``run_scheme`` as ``progress`` (the CLI's live reporter).
    """
    from contextlib import nullcontext

    from ferry.engine.runner import run_scheme

    transport = sandbox.transport() if in_process else None
    for seed in seeds:
        scheme = load_seed(seed, env=env, connections=connections(seed), since=since)
        at = now.replace(tzinfo=scheme.tz)
        reporter = progress(seed, scheme) if progress else nullcontext(None)
        with reporter as callback:
            report = run_scheme(scheme, store, now=at, transport=transport, progress=callback, retry=retry)
        yield seed, report
