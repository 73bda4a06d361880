"""Keep the README's example code blocks equal to the scripts: ``python -m examples._readme``.

A block is marked with ``<!-- example: examples/<name>.py -->`` on the line before its
```` ```python ```` fence. This rewrites every marked block of README.md from its file;
``--check`` only reports the blocks that differ, with exit status 1.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKED_BLOCK = re.compile(
    r"(?P<head><!-- example: (?P<path>[\w./-]+) -->\s*```python\n)(?P<code>.*?)```", re.S
)


def sync(readme: Path, *, check: bool) -> list[str]:
    """Rewrite (or, with ``check``, only compare) the marked blocks; returns the stale ones."""
    text = readme.read_text(encoding="utf-8")
    stale: list[str] = []

    def replace(match: re.Match[str]) -> str:
        code = (REPO / match["path"]).read_text(encoding="utf-8")
        if code != match["code"]:
            stale.append(match["path"])
        return f"{match['head']}{code}```"

    updated = MARKED_BLOCK.sub(replace, text)
    if not check and updated != text:
        readme.write_text(updated, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples._readme", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    files = args.files or [REPO / "README.md"]
    status = 0
    for readme in files:
        for path in sync(readme, check=args.check):
            print(f"{readme.name}: {path} {'differs' if args.check else 'updated'}")
            status = 1 if args.check else status
    return status


if __name__ == "__main__":
    sys.exit(main())
