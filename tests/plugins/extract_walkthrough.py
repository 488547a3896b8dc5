#!/usr/bin/env python3
"""Extracts the walk-through of docs/PLUGINS.md into a folder so that the
out-of-tree test runs exactly what the page says: every ```sh block of the
section "Walk-through" goes, in order, into walkthrough.sh; a block whose
info string names a file (```c swish.c, ```python make_model.py) is written
to that file in the folder the sh blocks create (the first sh block ends
with `cd` into it), so it is listed as a `cat > FILE` step at its place."""
import shlex
import sys


def main():
    doc, out = sys.argv[1], sys.argv[2]
    lines = open(doc, encoding="utf-8").read().split("\n")
    inside = False
    block = None
    script = ["set -eu"]
    for line in lines:
        if line.startswith("## "):
            inside = line.startswith("## Walk-through")
            continue
        if not inside:
            continue
        if block is None and line.startswith("```"):
            info = line[3:].split()
            block = {"lang": info[0] if info else "", "file": info[1] if len(info) > 1 else None, "text": []}
            continue
        if block is not None and line == "```":
            text = "\n".join(block["text"]) + "\n"
            if block["file"]:
                marker = "ENGINE_WALKTHROUGH_EOF"
                assert marker not in text
                script.append(f"cat > {shlex.quote(block['file'])} <<'{marker}'\n{text}{marker}")
            elif block["lang"] == "sh":
                script.append(text)
            block = None
            continue
        if block is not None:
            block["text"].append(line)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")


if __name__ == "__main__":
    main()
