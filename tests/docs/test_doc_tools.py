"""The code-block test's own tools: the fence parser, the skip marker, the offline runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import blocks_of

RUNNER = Path(__file__).with_name("doc_runner.py")
ROOT = Path(__file__).resolve().parents[2]

PAGE = """# A page

```python
x = 1
```

- a list item:

  ```bash
  make test
  ```

<!-- docs-test: skip: needs a real API key -->

~~~python
call_openai()
~~~

<!-- docs-test: skip: -->
```python
y = 2
```

````text
```python
not a block of its own
```
````
"""


def test_blocks_are_found_dedented_with_their_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = blocks_of(page, tmp_path)
    assert [(b.line, b.lang, b.code, b.skip_reason) for b in blocks] == [
        (3, "python", "x = 1\n", None),
        (9, "bash", "make test\n", None),
        (15, "python", "call_openai()\n", "needs a real API key"),
        (20, "python", "y = 2\n", None),  # a marker without a reason is no marker
        (24, "text", "```python\nnot a block of its own\n```\n", None),
    ]


def test_an_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="never closed"):
        blocks_of(page, tmp_path)


def _run(tmp_path: Path, *codes: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    spec = tmp_path / "spec.json"
    report = tmp_path / "ran.txt"
    blocks = [[10 * (i + 1), code] for i, code in enumerate(codes)]
    spec.write_text(
        json.dumps({"root": str(ROOT), "page": "p.md", "blocks": blocks, "report": str(report)})
    )
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(spec)], cwd=tmp_path, capture_output=True, text=True
    )
    return done, report.read_text().split() if report.exists() else []


def test_blocks_share_one_namespace_and_failures_name_the_page_line(tmp_path: Path) -> None:
    done, ran = _run(tmp_path, "a = my_embedding_api('x')\n", "assert a\nb = 1 / 0\n")
    assert done.returncode == 1 and ran == ["p.md:10"]
    assert 'File "p.md", line 22' in done.stderr  # the second block's second line
    assert "FAILED: the block at p.md:20" in done.stdout


def test_blocks_run_offline(tmp_path: Path) -> None:
    code = "import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=5)\n"
    done, ran = _run(tmp_path, code)
    assert done.returncode == 1 and ran == []
    assert "docs code blocks run offline" in done.stderr
