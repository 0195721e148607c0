"""The pack's content hash covers the Python files it names; each part is hashed to be named."""

from __future__ import annotations

import shutil
from pathlib import Path

from policy_agent.domain import load_pack
from tests.domain._support import pack_data, tool, write_pack

MINIMAL = Path(__file__).parent / "packs" / "minimal"
PYTHON = "def get_book(db, book_id):\n    return db['books'][book_id]\n"
SYNC = "def sync(db, user_db):\n    return None\n"
CHECK = "def lent(db):\n    return True\n"


def _python_pack(folder: Path) -> Path:
    tools = [tool("get_book", {"python": "tools/books.py:get_book"}, book_id="string")]
    task = {
        "id": "t1",
        "user_scenario": {"instructions": "Hi."},
        "evaluation_criteria": {
            "env_assertions": [{"python": "checks/lent.py:lent"}],
            "reward_basis": ["ENV_ASSERTION"],
        },
    }
    data = pack_data(tools=tools, tasks=[task], sync="tools/sync.py:sync")
    files = {"tools/books.py": PYTHON, "tools/sync.py": SYNC, "checks/lent.py": CHECK}
    return write_pack(folder, data, files)


def test_a_pack_without_python_keeps_the_hash_it_had() -> None:
    # policy-agent 45bbad8 (before Python files were hashed) gave this pack this hash.
    expected = "2272cf0d5b4bee1bc0dab8aae65bce9c7ff68dcc36c200bb8735142f69dd5397"
    assert load_pack(MINIMAL).content_hash == expected


def test_every_python_file_the_pack_names_is_listed_once(tmp_path: Path) -> None:
    pack = load_pack(_python_pack(tmp_path))
    assert pack.python_files == ("checks/lent.py", "tools/books.py", "tools/sync.py")


def test_changing_a_python_file_changes_the_hash_and_names_the_file(tmp_path: Path) -> None:
    folder = _python_pack(tmp_path / "a")
    before = load_pack(folder)
    (folder / "tools" / "books.py").write_text(PYTHON.replace("book_id]", "book_id].copy()"))
    after = load_pack(folder)
    assert after.content_hash != before.content_hash
    changed = [
        name
        for name in after.content_parts
        if after.content_parts[name] != before.content_parts[name]
    ]
    assert changed == ["tools/books.py"]


def test_a_copy_of_the_pack_elsewhere_has_the_same_hash(tmp_path: Path) -> None:
    folder = _python_pack(tmp_path / "a")
    shutil.copytree(folder, tmp_path / "b")
    assert load_pack(tmp_path / "b").content_hash == load_pack(folder).content_hash


def test_each_part_is_named_as_a_person_would(tmp_path: Path) -> None:
    pack = load_pack(_python_pack(tmp_path))
    assert list(pack.content_parts) == [
        "the policy",
        "the tools",
        "the user tools",
        "the database",
        "the user database",
        "the tasks",
        "the name, version, clock or sync hook",
        "checks/lent.py",
        "tools/books.py",
        "tools/sync.py",
    ]
    edited = _python_pack(tmp_path / "edited")
    text = (edited / "domain.yaml").read_text().replace("Lend books", "Lend novels")
    (edited / "domain.yaml").write_text(text)
    other = load_pack(edited).content_parts
    assert [name for name in other if other[name] != pack.content_parts[name]] == ["the policy"]
