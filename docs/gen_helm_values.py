#!/usr/bin/env python3
"""Generate the values table of docs/helm.md from charts/kestrel/values.yaml.

A value is documented by the `# --` comment right above its key (continued by the `#` lines that
follow it). A commented key is one row, its default shown whole; an uncommented mapping is
descended into. The table goes between the `<!-- values:start -->` and `<!-- values:end -->`
markers of docs/helm.md; the rest of the page is written by hand.

Checks, in both modes: every value has a description (its own or a commented ancestor's), and
every `.Values.x.y` the templates read exists in values.yaml.

Usage: gen_helm_values.py [--check]
  --check   exit 1 when docs/helm.md's table is not current or a check fails; write nothing
"""

import argparse
import difflib
import glob
import json
import os
import re
import sys

import yaml

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(DOCS)
CHART = os.path.join(REPO, "charts", "kestrel")
PAGE = os.path.join(DOCS, "helm.md")
START, END = "<!-- values:start -->", "<!-- values:end -->"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s|$)")


def comments_by_path(path):
    """{dotted.path: description} from the `# --` comments of values.yaml."""
    out, stack, pending = {}, [], None
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("# --"):
                pending = [stripped[4:].strip()]
                continue
            if stripped.startswith("#"):
                if pending is not None:
                    pending.append(stripped[1:].strip())
                continue
            m = KEY.match(line)
            if not m:
                if stripped and not stripped.startswith("-"):
                    pending = None
                continue
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            if pending is not None:
                out[".".join(k for _, k in stack)] = " ".join(p for p in pending if p)
                pending = None
    return out


def default_text(v):
    if isinstance(v, str):
        return f'`"{v}"`' if v == "" else f"`{v}`"
    return "`" + json.dumps(v, separators=(", ", ": ")).replace("|", "\\|") + "`"


def rows(values, docs, prefix="", problems=None):
    out = []
    for k, v in values.items():
        path = f"{prefix}{k}"
        if path in docs:
            out.append((path, default_text(v), docs[path]))
        elif isinstance(v, dict) and v:
            out.extend(rows(v, docs, path + ".", problems))
        else:
            problems.append(f"values.yaml: {path} has no `# --` description")
            out.append((path, default_text(v), ""))
    return out


def template_refs():
    refs = set()
    for f in glob.glob(os.path.join(CHART, "templates", "*")):
        with open(f) as fh:
            for m in re.finditer(r"\.Values((?:\.[A-Za-z0-9_]+)+)", fh.read()):
                refs.add((m.group(1)[1:], os.path.basename(f)))
    return refs


def has_path(values, path):
    node = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def table():
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    docs = comments_by_path(os.path.join(CHART, "values.yaml"))
    problems = []
    body = rows(values, docs, problems=problems)
    for ref, tmpl in sorted(template_refs()):
        if not has_path(values, ref):
            problems.append(f"templates/{tmpl} reads .Values.{ref}, which values.yaml does not define")
    lines = ["| value | default | description |", "| --- | --- | --- |"]
    for p, d, desc in body:
        desc = desc.replace("|", "\\|")
        lines.append(f"| `{p}` | {d} | {desc} |")
    return "\n".join(lines), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text, problems = table()
    with open(PAGE) as f:
        page = f.read()
    if START not in page or END not in page:
        problems.append(f"docs/helm.md has no {START} ... {END} markers")
    for p in problems:
        print(f"gen-helm-values: {p}", file=sys.stderr)
    if problems:
        return 1
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{text}\n{END}{tail}"
    if args.check:
        if new == page:
            return 0
        sys.stderr.writelines(list(difflib.unified_diff(page.splitlines(True), new.splitlines(True), "docs/helm.md", "generated", n=1))[:40])
        print("gen-helm-values: docs/helm.md's values table is out of date: run docs/gen-docs.sh and commit it", file=sys.stderr)
        return 1
    if new != page:
        with open(PAGE, "w") as f:
            f.write(new)
    print("wrote docs/helm.md (values table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
