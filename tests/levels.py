#!/usr/bin/env python3
"""levels.py — the structure of the code, checked: every file of src/ and tools/ sits at a level
(the README's layout section), and

  1. no file includes a header of a higher level;
  2. no object file calls (or reads) a symbol defined only in a file of a higher level;
  3. no files call each other in a loop (a cycle in the file-level call graph).

Includes come from the sources; calls from the object files of a build (`nm`), so a function
declared by hand or reached through a macro still counts. Usage: levels.py SOURCE_DIR BUILD_DIR.
Exits 1 listing every violation."""
import os
import re
import subprocess
import sys

# Bottom to top. A file may use its own level and those below.
LEVELS = [
    ("core", "src/core/"),
    ("formats", "src/formats/"),
    ("data", "src/data/"),
    ("net", "src/net/"),
    ("io", "src/io/"),
    ("backend", "src/backend/"),
    ("engine", "src/engine/"),
    ("train", "src/train/"),
    ("analysis", "src/analysis/"),
    ("tools", "tools/"),
]


def level_of(rel):
    if rel.startswith("include/"):
        return 0  # the public header declares, it defines nothing: usable everywhere
    for i, (_, prefix) in enumerate(LEVELS):
        if rel.startswith(prefix):
            return i
    return None


def sources(src):
    out = []
    for top in ("src", "tools"):
        for root, _, files in os.walk(os.path.join(src, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(root, f), src))
    return sorted(out)


def include_errors(src, files):
    errors = []
    pat = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for rel in files:
        me = level_of(rel)
        text = open(os.path.join(src, rel), encoding="utf-8", errors="replace").read()
        for inc in pat.findall(text):
            # quoted includes resolve against src/, tools/spikebp/ or the file's own folder
            cands = ["src/" + inc, "include/" + inc, os.path.join(os.path.dirname(rel), inc)]
            target = next((c for c in cands if os.path.exists(os.path.join(src, c))), None)
            if target is None:
                continue
            lv = level_of(os.path.normpath(target))
            if lv is not None and me is not None and lv > me:
                errors.append(f"{rel} ({LEVELS[me][0]}) includes {target} ({LEVELS[lv][0]})")
    return errors


def objects(src, build):
    """Map source path (relative) -> object file, for the library and the CLI (objects left
    behind by sources that no longer exist are ignored)."""
    out = {}
    # the library's objects: the object library, or (in a build folder made before it existed)
    # the static library's own — never both, or stale objects of an older layout would count
    lib = "CMakeFiles/spikebp_objects.dir"
    if not os.path.isdir(os.path.join(build, lib)):
        lib = "CMakeFiles/spikebp.dir"
    for d in (lib, "CMakeFiles/spikebp_cli.dir"):
        base = os.path.join(build, d)
        for root, _, files in os.walk(base):
            for f in files:
                if f.endswith(".c.o"):
                    rel = os.path.relpath(os.path.join(root, f), base)[: -len(".o")]
                    if os.path.exists(os.path.join(src, rel)):
                        out[rel] = os.path.join(root, f)
    return out


def symbols(obj):
    res = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def call_errors(src, build):
    objs = objects(src, build)
    if not objs:
        return [f"no object files under {build}: build first"]
    defs, uses = {}, {}
    for rel, obj in objs.items():
        d, u = symbols(obj)
        uses[rel] = u
        for name in d:
            defs.setdefault(name, set()).add(rel)
    errors, edges = [], {rel: set() for rel in objs}
    for rel, used in uses.items():
        me = level_of(rel)
        for name in used:
            for owner in defs.get(name, ()):
                if owner == rel:
                    continue
                edges[rel].add(owner)
                lv = level_of(owner)
                if me is not None and lv is not None and lv > me:
                    errors.append(f"{rel} ({LEVELS[me][0]}) uses {name} from {owner} "
                                  f"({LEVELS[lv][0]})")
    # cycles: strongly connected components with more than one file (Tarjan)
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in comps:
        errors.append("files call each other in a loop: " + " <-> ".join(comp))
    return errors


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    src, build = sys.argv[1], sys.argv[2]
    files = sources(src)
    unknown = [f for f in files if level_of(f) is None]
    errors = [f"{f}: not in any level (add its folder to tests/levels.py)" for f in unknown]
    errors += include_errors(src, files)
    errors += call_errors(src, build)
    for e in errors:
        print("levels: " + e)
    print(f"levels: {len(files)} files checked, {len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
