"""docs/faults.md names the test that proves each row: every test it names exists, in the module it names."""

from __future__ import annotations

import re

from support import PROJECT

REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)(\*?)")


def defined() -> dict[str, set[str]]:
    """Test function name -> the modules (file names) that define it."""
    found: dict[str, set[str]] = {}
    for path in (PROJECT / "tests").glob("**/test_*.py"):
        for match in re.finditer(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M):
            found.setdefault(match.group(1), set()).add(path.name)
    return found


def test_every_test_the_fault_table_names_exists_where_it_says() -> None:
    tests = defined()
    table = (PROJECT / "docs" / "faults.md").read_text(encoding="utf-8")
    references = REFERENCE.findall(table)
    assert len(references) > 150
    wrong = []
    for module, name, prefix in references:
        # `test_x.py::test_app_*` names every test of the module whose name starts so.
        where = set().union(*(m for n, m in tests.items() if n.startswith(name))) if prefix else tests.get(name, set())
        if module not in where:
            wrong.append(f"{module}::{name}{prefix} (defined in {sorted(where) or 'no module'})")
    assert wrong == []
