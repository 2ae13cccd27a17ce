#!/usr/bin/env python3
"""Static checks of images/*.Dockerfile, for a machine without Docker (no hadolint either).

For each Dockerfile (build context: the repository root):
  - instructions are known ones, continuation lines are complete, the first is ARG/FROM
  - every `${VAR}` used in FROM is a global ARG; every `COPY --from=STAGE` names an earlier stage
  - every COPY/ADD source from the context exists and is not excluded by <Dockerfile>.dockerignore
  - every `cargo build -p PKG` names a workspace package, and the binary the last stage copies
    out of the build stage is the one that package builds (ENTRYPOINT runs it)
  - every package of `apt-get install` exists in this machine's apt sources (Debian bookworm, like
    the images), with the suite it comes from printed

Usage: dockerfile_check.py [DOCKERFILE...]   (default: images/*.Dockerfile)
Exits 1 on any problem, naming the file and line.
"""

import glob
import os
import re
import shlex
import subprocess
import sys
import tomllib

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}


def logical_lines(path):
    """(line number, instruction, arguments) with continuations joined and comments dropped."""
    out, buf, start = [], "", None
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if buf and line.lstrip().startswith("#"):
                continue  # comment lines inside a continuation are removed by the parser
            if start is None:
                start = n
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            word, _, rest = buf.strip().partition(" ")
            out.append((start, word.upper(), rest.strip()))
            buf, start = "", None
    if buf:
        out.append((start, "<unterminated>", buf))
    return out


def dockerignore(dockerfile):
    path = dockerfile + ".dockerignore"
    if not os.path.exists(path):
        path = os.path.join(REPO, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


def pattern_regex(pat):
    """A .dockerignore pattern (Go filepath.Match plus `**` for any number of directories) as a
    regex over slash-separated paths relative to the context root."""
    out = []
    segments = pat.strip("/").split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            out.append(".*" if last else "(?:.*/)?")
            continue
        rx, j = "", 0
        while j < len(seg):
            c = seg[j]
            if c == "*":
                rx += "[^/]*"
            elif c == "?":
                rx += "[^/]"
            elif c == "[":
                k = seg.find("]", j)
                rx += seg[j : k + 1] if k > 0 else re.escape(c)
                j = k if k > 0 else j
            else:
                rx += re.escape(c)
            j += 1
        out.append(rx if last else rx + "/")
    return "".join(out)


def excluded(rel, patterns):
    """Docker's rule: the last matching pattern wins; `!` re-includes; a pattern that matches a
    directory excludes its whole subtree."""
    verdict = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for p in patterns:
        neg = p.startswith("!")
        regex = pattern_regex(p[1:] if neg else p)
        if any(re.fullmatch(regex, pre) for pre in prefixes):
            verdict = not neg
    return verdict


def workspace_packages():
    with open(os.path.join(REPO, "Cargo.toml"), "rb") as f:
        ws = tomllib.load(f)
    pkgs = {}
    for member in ws["workspace"]["members"]:
        with open(os.path.join(REPO, member, "Cargo.toml"), "rb") as f:
            m = tomllib.load(f)
        name = m["package"]["name"]
        bins = [b["name"] for b in m.get("bin", [])]
        if os.path.exists(os.path.join(REPO, member, "src", "main.rs")):
            bins.append(name)
        pkgs[name] = set(bins)
    return pkgs


def apt_origin(pkg):
    try:
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return None, "apt-cache not available"
    cand = re.search(r"Candidate:\s*(\S+)", out)
    if not cand or cand.group(1) == "(none)":
        return False, "no candidate"
    m = re.search(r"^\s+\d+\s+(\S+)\s+(\S+)\s", out[out.find("Version table") :], re.M)
    return True, f"{cand.group(1)} from {m.group(1)} {m.group(2)}" if m else cand.group(1)


def check(dockerfile, pkgs):
    rel_df = os.path.relpath(dockerfile, REPO)
    problems, notes = [], []
    lines = logical_lines(dockerfile)
    ignore = dockerignore(dockerfile)
    global_args, stages, cargo_bins, copied_out = set(), [], [], []
    seen_from = False
    for n, instr, args in lines:
        where = f"{rel_df}:{n}"
        if instr not in INSTRUCTIONS:
            problems.append(f"{where}: unknown or unterminated instruction {instr!r}")
            continue
        if not seen_from and instr not in ("ARG", "FROM"):
            problems.append(f"{where}: {instr} before the first FROM")
        if instr == "ARG" and not seen_from:
            global_args.add(args.split("=", 1)[0])
        if instr == "FROM":
            seen_from = True
            for var in re.findall(r"\$\{?(\w+)", args):
                if var not in global_args:
                    problems.append(f"{where}: FROM uses ${var}, which is not a global ARG")
            m = re.search(r"\s+AS\s+(\S+)", args, re.I)
            stages.append(m.group(1) if m else None)
        if instr in ("COPY", "ADD"):
            words = shlex.split(args)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            src_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if src_stage:
                if src_stage not in stages[:-1]:
                    problems.append(f"{where}: COPY --from={src_stage} names no earlier stage ({stages[:-1]})")
                copied_out.extend(paths[:-1])
                continue
            if len(paths) < 2:
                problems.append(f"{where}: {instr} needs a source and a destination")
                continue
            for src in paths[:-1]:
                if src in (".", "./"):
                    continue
                hits = glob.glob(os.path.join(REPO, src))
                if not hits:
                    problems.append(f"{where}: {instr} source {src!r} does not exist in the build context")
                for h in hits:
                    r = os.path.relpath(h, REPO)
                    if excluded(r, ignore):
                        problems.append(f"{where}: {instr} source {r!r} is excluded by the .dockerignore")
        if instr == "RUN":
            for m in re.finditer(r"cargo build ([^&;]*)", args):
                words = m.group(1).split()
                for i, w in enumerate(words):
                    if w in ("-p", "--package") and i + 1 < len(words):
                        pkg = words[i + 1]
                        if pkg not in pkgs:
                            problems.append(f"{where}: cargo build -p {pkg}: no such workspace package ({sorted(pkgs)})")
                        else:
                            cargo_bins.extend(pkgs[pkg])
            for m in re.finditer(r"apt-get install ([^&;]*)", args):
                for pkg in m.group(1).split():
                    if pkg.startswith("-"):
                        continue
                    found, why = apt_origin(pkg)
                    if found is False:
                        problems.append(f"{where}: apt package {pkg} is not in the apt sources ({why})")
                    else:
                        notes.append(f"{pkg}: {why}")
            for m in re.finditer(r"target/release/([\w-]+)", args):
                if cargo_bins and m.group(1) not in cargo_bins:
                    problems.append(f"{where}: target/release/{m.group(1)} is not a binary of the packages built ({cargo_bins})")
        if instr == "ENTRYPOINT":
            try:
                import json

                entry = json.loads(args)
            except ValueError:
                problems.append(f"{where}: ENTRYPOINT is not in exec (JSON) form: signals would not reach the binary")
                continue
            binary = os.path.basename(entry[0])
            if cargo_bins and binary not in cargo_bins:
                problems.append(f"{where}: ENTRYPOINT runs {binary}, the build makes {cargo_bins}")
            if not any(os.path.basename(p) == binary for p in copied_out):
                problems.append(f"{where}: ENTRYPOINT runs {entry[0]}, which no COPY --from puts in the image")
    if not cargo_bins:
        problems.append(f"{rel_df}: no `cargo build -p <package>` found")
    return problems, notes


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(REPO, "images", "*.Dockerfile")))
    if not files:
        print("no images/*.Dockerfile")
        return 1
    pkgs = workspace_packages()
    failed = False
    for f in files:
        problems, notes = check(os.path.abspath(f), pkgs)
        rel = os.path.relpath(f, REPO)
        if problems:
            failed = True
            for p in problems:
                print(p)
        else:
            print(f"{rel}: ok" + (f" (apt: {'; '.join(notes)})" if notes else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
