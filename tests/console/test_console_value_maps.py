"""The scheme page lists the scheme's value maps (值映射), read-only: origin, entries, unmatched
policy, version and the first entries; the JSON API gives the same."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

from console_env import SCHEME_ID, ConsoleEnv

from ferry.console import create_app
from ferry.sandbox.seeds import examples_dir
from ferry.scheme.loader import load_scheme


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_scheme_page_lists_its_value_maps(env: ConsoleEnv, tmp_path: Path) -> None:
    folder = tmp_path / "mapped"
    shutil.copytree(examples_dir() / "001-kuaimai-aftersale-to-mysql", folder)
    (folder / "maps").mkdir()
    (folder / "maps" / "statuses.csv").write_text("code,word\n1,待处理\n2,已完成\n", encoding="utf-8")
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    target["request"][2]["value"] = "_map statuses {status}"
    (folder / "target.json").write_text(json.dumps(target, ensure_ascii=False), encoding="utf-8")
    conns = {
        "kuaimai": {"type": "kuaimai", "app_key": "k", "app_secret": "s-123456", "session": "x-123456"},
        "bi_mysql": {"type": "sql", "url": "sqlite://"},
    }
    scheme = load_scheme(folder / "scheme.yaml", connections=conns)
    version = scheme.value_maps["statuses"].version
    env.app = create_app(env.store, schemes=lambda: {scheme.id: scheme}, secret_key="k")
    client = env.new_client()
    env.login(client)

    page = client.get(f"/schemes/{SCHEME_ID}").text

    listing = text_of(page.split('id="value-maps"')[1].split("<h2>")[0])
    assert f"statuses maps/statuses.csv 2 keep {version}" in listing
    assert "1 待处理" in listing and "2 已完成" in listing
    api = client.get(f"/api/schemes/{SCHEME_ID}").json()
    assert api["value_maps"] == [
        {
            "name": "statuses",
            "origin": "maps/statuses.csv",
            "entries": 2,
            "unmatched": "keep",
            "version": version,
            "sample": [["1", "待处理"], ["2", "已完成"]],
        }
    ]
