#!/usr/bin/env python3
"""Generate docs/crds.md, the CRD reference, from crds/*.yaml and docs/examples/*.yaml.

Every field of every CRD comes from its OpenAPI schema (the schema is generated from the Rust types
in api/, so the descriptions are the doc comments). Each example is validated against the schema
(unknown fields, missing required fields, types, enums) so it cannot drift from the CRD either.

Usage: gen_crd_reference.py [--check] [--output FILE]
  --check   exit 1 (and show a diff) when FILE is not what would be generated; write nothing
"""

import argparse
import difflib
import glob
import os
import sys

import yaml

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(DOCS)
# Order of the sections: what users write first, what the agents write last.
ORDER = ["FalcoRule", "FalcoAlertSink", "FalcoAlert"]
INTRO = {
    "FalcoRule": "Written by users. The operator validates it and writes `status`; the agents run the accepted rules.",
    "FalcoAlertSink": "Written by users. The operator checks it and writes `status`; the agents deliver alerts to it.",
    "FalcoAlert": "Written by the node agents (one object per rule and container or host, with a count); read by users; "
    "deleted by the operator after the retention period or above the per-namespace cap.",
}


class ExampleError(Exception):
    pass


def type_of(s):
    """The type column: OpenAPI type, format, enum, default, nullability, Kubernetes extensions."""
    if s.get("x-kubernetes-int-or-string"):
        t = "integer or string"
    elif s.get("x-kubernetes-preserve-unknown-fields") and "type" not in s:
        t = "any"
    else:
        t = s.get("type", "any")
        if t == "array":
            t = f"[]{base_type(s.get('items', {}))}"
        elif t == "object" and isinstance(s.get("additionalProperties"), dict):
            t = f"map[string]{base_type(s['additionalProperties'])}"
    if s.get("format"):
        t += f" ({s['format']})"
    return t


def base_type(s):
    """The type without its format: the element type of an array or map."""
    return type_of(s).split(" (")[0]


def cell(text):
    """Text for one markdown table cell."""
    text = (text or "").strip().replace("|", "\\|")
    paras = [" ".join(p.split()) for p in text.split("\n\n")]
    return "<br><br>".join(p for p in paras if p)


def details(s):
    parts = []
    if "enum" in s:
        parts.append("One of: " + ", ".join(f"`{v}`" for v in s["enum"]) + ".")
    if "default" in s:
        parts.append(f"Default: `{yaml.safe_dump(s['default'], default_flow_style=True).strip()}`.")
    for v in s.get("x-kubernetes-validations", []):
        parts.append(f"Rule: {v.get('message', '')} (`{v['rule']}`).")
    if s.get("x-kubernetes-list-type") == "map":
        parts.append("Map list keyed by " + ", ".join(f"`{k}`" for k in s.get("x-kubernetes-list-map-keys", [])) + ".")
    return " ".join(parts)


def rows(schema, path, required, out):
    """One row per field, depth first, in schema order (sorted keys, as generated)."""
    for name, sub in (schema.get("properties") or {}).items():
        p = f"{path}.{name}" if path else name
        desc = cell(sub.get("description"))
        extra = details(sub)
        if sub.get("type") == "array" and "items" in sub:
            items = sub["items"]
            if "properties" not in items and items.get("description"):
                desc = " ".join(x for x in (desc, "Each item: " + cell(items["description"])) if x)
            extra = " ".join(x for x in (extra, details(items)) if x)
        out.append((p, type_of(sub), name in required, " ".join(x for x in (desc, cell(extra)) if x)))
        if sub.get("type") == "object" or "properties" in sub:
            rows(sub, p, set(sub.get("required") or []), out)
        elif sub.get("type") == "array" and "properties" in sub.get("items", {}):
            rows(sub["items"], p + "[]", set(sub["items"].get("required") or []), out)


def validate(value, s, path, errors):
    """Structural validation of an example against an OpenAPI v3 schema (the subset CRDs use)."""
    if value is None:
        if not s.get("nullable"):
            errors.append(f"{path}: null is not allowed")
        return
    if s.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer or a string, got {value!r}")
        return
    t = s.get("type")
    if t is None:
        return  # preserve-unknown-fields: anything
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }[t](value)
    if not ok:
        errors.append(f"{path}: expected {t}, got {value!r}")
        return
    if "enum" in s and value not in s["enum"]:
        errors.append(f"{path}: {value!r} is not one of {s['enum']}")
    if t == "array":
        for i, v in enumerate(value):
            validate(v, s.get("items", {}), f"{path}[{i}]", errors)
    if t == "object":
        props = s.get("properties") or {}
        for r in s.get("required") or []:
            if r not in value:
                errors.append(f"{path}.{r}: required field missing")
        for k, v in value.items():
            if k in props:
                validate(v, props[k], f"{path}.{k}", errors)
            elif isinstance(s.get("additionalProperties"), dict):
                validate(v, s["additionalProperties"], f"{path}.{k}", errors)
            elif not s.get("x-kubernetes-preserve-unknown-fields") and path != "metadata":
                errors.append(f"{path}.{k}: unknown field (the CRD has {', '.join(sorted(props)) or 'none'})")


def load_example(kind, schema, group_version):
    path = os.path.join(DOCS, "examples", f"{kind.lower()}.yaml")
    if not os.path.exists(path):
        raise ExampleError(f"docs/examples/{kind.lower()}.yaml is missing: every kind needs an example")
    with open(path) as f:
        text = f.read()
    doc = yaml.safe_load(text)
    errors = []
    if doc.get("apiVersion") != group_version or doc.get("kind") != kind:
        errors.append(f"apiVersion/kind must be {group_version}/{kind}")
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    validate(body, {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items()}}, "", errors)
    if errors:
        raise ExampleError(f"docs/examples/{kind.lower()}.yaml does not match the CRD:\n  " + "\n  ".join(e.lstrip(".") for e in errors))
    return text


def section(crd):
    spec = crd["spec"]
    names = spec["names"]
    kind = names["kind"]
    out = [f"## {kind}", ""]
    version = next(v for v in spec["versions"] if v.get("storage", True))
    gv = f"{spec['group']}/{version['name']}"
    schema = version["schema"]["openAPIV3Schema"]
    out += [cell(schema.get("description")), "", INTRO.get(kind, ""), ""]
    out += [
        "| | |",
        "| --- | --- |",
        f"| apiVersion | `{gv}` |",
        f"| scope | {spec['scope']} |",
        f"| plural | `{names['plural']}` |",
        f"| short names | {', '.join(f'`{n}`' for n in names.get('shortNames', [])) or '—'} |",
        f"| categories | {', '.join(f'`{n}`' for n in names.get('categories', [])) or '—'} |",
        f"| status subresource | {'yes' if 'status' in (version.get('subresources') or {}) else 'no'} |",
    ]
    if version.get("selectableFields"):
        sel = ", ".join(f"`{f['jsonPath'].lstrip('.')}`" for f in version["selectableFields"])
        out.append(f"| field selectors | {sel} (`kubectl get {names['plural']} --field-selector spec.rule='Read Passwd File'`) |")
    out.append("")
    cols = version.get("additionalPrinterColumns") or []
    if cols:
        out += [f"`kubectl get {names['plural']}` columns (`-o wide` adds those of priority 1):", ""]
        out += ["| column | JSONPath | description |", "| --- | --- | --- |"]
        for c in cols:
            wide = " (wide)" if c.get("priority", 0) > 0 else ""
            out.append(f"| {c['name']}{wide} | `{c['jsonPath']}` | {cell(c.get('description', ''))} |")
        out.append("")
    out += ["### Fields", "", "| field | type | required | description |", "| --- | --- | --- | --- |"]
    field_rows = []
    rows(schema, "", set(schema.get("required") or []), field_rows)
    for p, t, req, d in field_rows:
        out.append(f"| `{p}` | {t} | {'yes' if req else ''} | {d} |")
    out += ["", "### Example", "", "```yaml", load_example(kind, schema, gv).rstrip("\n"), "```", ""]
    return kind, "\n".join(out)


def generate():
    crds = []
    for path in sorted(glob.glob(os.path.join(REPO, "crds", "*.yaml"))):
        with open(path) as f:
            crds.append(yaml.safe_load(f))
    if not crds:
        raise ExampleError("no CRDs in crds/")
    sections = dict(section(c) for c in crds)
    kinds = [k for k in ORDER if k in sections] + sorted(k for k in sections if k not in ORDER)
    head = [
        "# Kestrel CRD reference",
        "",
        "<!-- Generated by docs/gen-crd-reference.sh from crds/*.yaml and docs/examples/*.yaml; do not edit. -->",
        "",
        "Generated from the CRDs in `crds/` (themselves generated from the Rust types in `api/`), so it",
        "matches what the API server enforces; `kubectl explain <kind>.spec` shows the same text in a",
        "cluster. Every example below is checked against its schema when this page is generated.",
        "",
    ]
    head += [f"- [{k}](#{k.lower()})" for k in kinds] + [""]
    return "\n".join(head + [sections[k] for k in kinds]).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail when the file is not current; write nothing")
    ap.add_argument("--output", default=os.path.join(DOCS, "crds.md"))
    args = ap.parse_args()
    try:
        text = generate()
    except ExampleError as e:
        print(f"gen-crd-reference: {e}", file=sys.stderr)
        return 1
    rel = os.path.relpath(args.output, REPO)
    if args.check:
        have = open(args.output).read() if os.path.exists(args.output) else ""
        if have == text:
            return 0
        sys.stderr.writelines(list(difflib.unified_diff(have.splitlines(True), text.splitlines(True), rel, "generated", n=1))[:40])
        print(f"gen-crd-reference: {rel} is out of date: run docs/gen-crd-reference.sh and commit it", file=sys.stderr)
        return 1
    with open(args.output, "w") as f:
        f.write(text)
    print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
