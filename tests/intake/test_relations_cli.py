"""`xiaoer relations import` as an operator runs it: a real process and database, the whole file
refused when one line is bad (each bad line named), nothing written; a good file imported."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from shared.validation import make_uscc
from tests.support import MINGLUO, MINGLUO_SH, MINGLUO_YY

ROOT = Path(__file__).resolve().parents[2]


def xiaoer(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def intake_on_sqlite(tmp_path: Path) -> tuple[Path, dict]:
    """A database file of intake's own and the environment the command runs in."""
    database = tmp_path / "intake.db"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XIAOER_VAR_DIR": str(tmp_path),
        "XIAOER_INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "XIAOER_LOG_JSON": "false",
    }
    return database, env


def test_a_relations_file_is_refused_whole_then_a_good_one_is_imported(tmp_path):
    database, env = intake_on_sqlite(tmp_path)
    assert xiaoer("migrate", "intake", env=env).returncode == 0

    def relations() -> set[tuple[str, str, str]]:
        with sqlite3.connect(database) as db:
            return set(db.execute("SELECT parent_uscc, subject_uscc, kind FROM enterprise_relations").fetchall())

    header = "parent_uscc,parent_name,parent_region,subject_uscc,subject_name,subject_region,kind\n"
    parent = f"{MINGLUO},广州明珞装备股份有限公司,440112"
    bad = tmp_path / "relations.csv"
    bad.write_text(
        header
        + f"{parent},{MINGLUO_SH},明珞(上海)科技有限公司,310115,子公司\n"
        + f"{parent},{MINGLUO_SH[:-1]}0,明珞(上海)科技有限公司,310115,子公司\n"
        + f"{parent},{MINGLUO_YY},明珞(湘阴)有限公司,430624,合伙人\n"
        + f"{parent},{MINGLUO_SH.lower()},明珞(上海)科技有限公司,310115,分支机构\n"
        + f"{parent},{MINGLUO},广州明珞装备股份有限公司,440112,\n",
        encoding="utf-8",
    )
    refused = xiaoer("relations", "import", str(bad), env=env)
    assert refused.returncode == 1
    for line, what in (("第 3 行", "校验位"), ("第 4 行", "kind"), ("第 5 行", "第 2 行"), ("第 6 行", "自己")):
        [said] = [row for row in refused.stderr.splitlines() if line in row.split(":")[0]]
        assert what in said, said
    assert "第 2 行 /" not in refused.stderr.split("第 3 行")[0], "the good line is not reported"
    assert relations() == set(), "nothing is written from a refused file"

    good = tmp_path / "relations.yaml"
    other = make_uscc("91440101MA5CXXXX0".replace("X", "1"))
    good.write_text(
        "relations:\n"
        f"  - {{parent_uscc: '{MINGLUO}', parent_name: 广州明珞装备股份有限公司, parent_region: '440112',"
        f" subject_uscc: '{MINGLUO_SH}', subject_name: 明珞(上海)科技有限公司, subject_region: '310115'}}\n"
        f"  - {{parent_uscc: '{MINGLUO}', parent_name: 广州明珞装备股份有限公司, parent_region: '440112',"
        f" subject_uscc: '{other}', subject_name: 明珞(天河)分公司, subject_region: '440106', kind: branch}}\n",
        encoding="utf-8",
    )
    imported = xiaoer("relations", "import", str(good), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported: 2 relations" in imported.stdout
    assert relations() == {(MINGLUO, MINGLUO_SH, "subsidiary"), (MINGLUO, other, "branch")}
    again = xiaoer("relations", "import", str(good), env=env)
    assert again.returncode == 0 and len(relations()) == 2, "importing again replaces, never doubles"


def test_the_demo_group_goes_into_an_empty_registry_only(tmp_path):
    """What ``make run`` does (cli/devstack.py): the demo enterprise's subsidiary is registered on
    the first start, and a later start leaves the registry as an admin left it."""
    from cli.devstack import DEMO_RELATIONS

    database, env = intake_on_sqlite(tmp_path)
    assert xiaoer("migrate", "intake", env=env).returncode == 0
    first = xiaoer("relations", "import", "--if-empty", str(DEMO_RELATIONS), env=env)
    assert first.returncode == 0 and "imported: 1 relations" in first.stdout, first.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT parent_uscc, subject_uscc FROM enterprise_relations").fetchall() == [
            (MINGLUO, MINGLUO_SH)
        ]
        db.execute("UPDATE enterprise_relations SET subject_name = '改过的名称'")
    again = xiaoer("relations", "import", "--if-empty", str(DEMO_RELATIONS), env=env)
    assert again.returncode == 0 and "nothing imported" in again.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT subject_name FROM enterprise_relations").fetchall() == [("改过的名称",)]
