"""tools/duplicates.py: code written twice is found, however indented; imports are not code."""

from __future__ import annotations

from tools.duplicates import Duplicate, find

BLOCK = """
total = 0
for item in items:
    if item.ok:
        total += item.size
    else:
        total -= 1
print(total)
"""


def _indented(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def test_a_block_copied_into_a_function_is_found_once():
    first = "import os\n" + BLOCK
    second = "def report(items):\n    x = 1\n" + _indented(BLOCK, "    ")
    found = find({"a.py": first, "b.py": second}, window=6)
    assert found == [Duplicate(("a.py", 3, 9), ("b.py", 4, 10))]
    assert str(found[0]) == "a.py:3-9  ==  b.py:4-10  (7 lines)"


def test_shared_imports_and_different_code_are_not_duplicates():
    imports = "import os\nimport sys\nfrom a import (\n    b,\n    c,\n    d,\n)\n"
    first = imports + "print(os.sep)\n"
    second = imports + "print(sys.argv)\n"
    assert find({"a.py": first, "b.py": second}, window=3) == []
