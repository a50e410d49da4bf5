"""Every Python snippet of this package's README compiles (syntax), and the names it imports from
hopper_jobs exist: the README is the user's first truth."""

import ast
import re
import unittest
from pathlib import Path

import hopper_jobs

README = Path(__file__).resolve().parents[1] / "README.md"


class ReadmeTest(unittest.TestCase):
    def test_python_snippets_compile_and_import_what_exists(self) -> None:
        snippets = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
        self.assertGreaterEqual(len(snippets), 3)
        for index, snippet in enumerate(snippets):
            with self.subTest(snippet=index):
                tree = ast.parse(snippet, filename=f"README.md snippet {index}")
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.module == "hopper_jobs":
                        for alias in node.names:
                            self.assertTrue(hasattr(hopper_jobs, alias.name), f"hopper_jobs has no {alias.name}")


if __name__ == "__main__":
    unittest.main()
