"""`xiaoer units import` and `xiaoer seed` as an operator runs them: a real process, a real
database, the whole file refused when one line is bad, the demo seed never over an admin's work."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def xiaoer(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_units_import_refuses_a_bad_file_whole_then_loads_a_good_one_and_seed_leaves_it(tmp_path):
    database = tmp_path / "router.db"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XIAOER_VAR_DIR": str(tmp_path),
        "XIAOER_ROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "XIAOER_LOG_JSON": "false",
    }
    assert xiaoer("migrate", "router", env=env).returncode == 0

    def units() -> dict[str, int]:
        with sqlite3.connect(database) as db:
            return dict(db.execute("SELECT unit_code, active FROM department_units").fetchall())

    bad = tmp_path / "units.csv"
    bad.write_text(
        "unit_code,name,kind,region_code,clerk_email\n"
        "430682.tax,临湘市税务局,tax,430682,tax@linxiang.gov.cn\n"
        "430682.spaceport,临湘市航天局,spaceport,430682,\n",
        encoding="utf-8",
    )
    refused = xiaoer("units", "import", str(bad), env=env)
    assert refused.returncode == 1
    assert "第 3 行" in refused.stderr and "spaceport" in refused.stderr
    assert units() == {}, "nothing is written from a refused file"

    good = ROOT / "deploy" / "registry.example.yaml"
    imported = xiaoer("units", "import", str(good), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported: 4 units" in imported.stdout
    with sqlite3.connect(database) as db:
        announced = db.execute("SELECT count(*) FROM outbox WHERE topic = 'registry.events'").fetchone()[0]
    assert announced == 5, "each unit and the supervising office, for the notifier"

    with sqlite3.connect(database) as db:
        db.execute("UPDATE department_units SET active = 0 WHERE unit_code = '430624.tax'")
    seeded = xiaoer("seed", env=env)
    assert seeded.returncode == 0 and "skipped" in seeded.stdout
    assert units()["430624.tax"] == 0 and len(units()) == 4, "the demo seed leaves an admin's registry alone"
