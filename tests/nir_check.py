#!/usr/bin/env python3
"""nir_check.py — structural check of a NIR file with h5py, written from the NIR specification
(github.com/neuromorphs/NIR: nir/serialization.py, the node classes under nir/ir/, and the
primitives page of its documentation), independently of spikebp's C code.

    python3 tests/nir_check.py FILE.nir [--layers N] [--shortcuts N]

Checks what NIR's reference reader (nir.read) relies on:
  - the root holds a string dataset "version" and a group "node" whose "type" is "NIRGraph",
    with a group "nodes", a dataset "edges" of (E, 2) strings, and optionally "metadata";
  - every node is a group with a string "type" among NIR's primitives and EXACTLY the keys
    that primitive's class takes (the reader passes every key to the constructor, so an
    unknown key breaks it and a missing one too), plus an optional "metadata" group;
  - the types line up along every edge, inferred as NIR's NIRGraph.infer_types does (Conv2d
    output from input_shape, padding, dilation, kernel and stride; AvgPool2d likewise; Flatten
    from start_dim/end_dim; neuron parameters shaped like their input; Linear/Affine from the
    weight), every edge's names exist, and every node lies on a path from an Input to an Output;
  - for spikebp's neurons (when the graph's metadata gives spikebp_dt): LIF r·dt/tau = 1,
    IF and I r·dt = 1, LI r·dt/tau = 1 − dt/tau, v_leak = v_reset = 0 (docs/nir.md).
If the reference package `nir` is importable, nir.read(FILE) is run as well.
Prints a summary and exits 0, or prints every problem and exits 1.
"""
import argparse
import sys

import h5py
import numpy as np

# The keys of each primitive, as its class in nir/ir/*.py declares them (required, optional).
# "metadata" is optional everywhere.
KEYS = {
    "Input": ({"shape"}, set()),
    "Output": ({"shape"}, set()),
    "Conv2d": ({"weight", "stride", "padding", "dilation", "groups", "bias"}, {"input_shape"}),
    "AvgPool2d": ({"kernel_size", "stride", "padding"}, set()),
    "SumPool2d": ({"kernel_size", "stride", "padding"}, set()),
    "IF": ({"r", "v_threshold"}, {"v_reset"}),
    "LIF": ({"tau", "r", "v_leak", "v_threshold"}, {"v_reset"}),
    "LI": ({"tau", "r", "v_leak"}, set()),
    "I": ({"r"}, set()),
    "Linear": ({"weight"}, set()),
    "Affine": ({"weight", "bias"}, set()),
    "Flatten": ({"start_dim", "end_dim"}, {"input_type"}),
}
NEURONS = {"IF", "LIF", "LI", "I"}

problems = []


def problem(msg):
    problems.append(msg)


def as_str(v):
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def pair(v):
    a = np.atleast_1d(np.asarray(v)).astype(np.int64)
    return a if a.size == 2 else np.repeat(a[:1], 2)


def conv_out(hw, padding, dilation, kernel, stride):
    hw, padding, dilation, kernel, stride = map(pair, (hw, padding, dilation, kernel, stride))
    return (hw + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--layers", type=int, help="expected number of neuron nodes")
    ap.add_argument("--shortcuts", type=int, help="expected number of neuron nodes with 2 inputs")
    a = ap.parse_args()
    f = h5py.File(a.file, "r")
    if "version" not in f or not isinstance(f["version"], h5py.Dataset) or \
            f["version"].dtype.kind not in "OSU":
        problem("root: no string dataset 'version'")
    if "node" not in f or not isinstance(f["node"], h5py.Group):
        problem("root: no group 'node'")
        return finish(a)
    g = f["node"]
    if as_str(g["type"][()]) != "NIRGraph":
        problem("node/type is %r, not NIRGraph" % g["type"][()])
    extra = set(g.keys()) - {"type", "nodes", "edges", "metadata"}
    if extra:
        problem("node: unexpected keys %s" % sorted(extra))
    # type strings must be variable-length strings, as h5py.string_dtype() writes them
    if h5py.check_string_dtype(g["type"].dtype) is None:
        problem("node/type is not a string dataset")
    nodes = g["nodes"]
    types = {}
    for name, n in nodes.items():
        if not isinstance(n, h5py.Group) or "type" not in n:
            problem("node %s: not a group with a 'type'" % name)
            continue
        t = as_str(n["type"][()])
        types[name] = t
        if t not in KEYS:
            problem("node %s: type %r is not one spikebp writes (%s)" % (name, t, sorted(KEYS)))
            continue
        req, opt = KEYS[t]
        keys = set(n.keys()) - {"type", "metadata"}
        if req - keys:
            problem("node %s (%s): missing keys %s" % (name, t, sorted(req - keys)))
        if keys - req - opt:
            problem("node %s (%s): keys NIR's %s does not take: %s" %
                    (name, t, t, sorted(keys - req - opt)))
        if "metadata" in n and not isinstance(n["metadata"], h5py.Group):
            problem("node %s: metadata is not a group" % name)
        if t in ("Conv2d", "Linear", "Affine") and n["weight"].dtype != np.float32:
            problem("node %s: weight is %s, not float32" % (name, n["weight"].dtype))
    e = g["edges"]
    if e.ndim != 2 or e.shape[1] != 2 or h5py.check_string_dtype(e.dtype) is None:
        problem("node/edges is not an (E, 2) string array: %s %s" % (e.shape, e.dtype))
        return finish(a)
    edges = [(as_str(x), as_str(y)) for x, y in e[()]]
    for x, y in edges:
        for v in (x, y):
            if v not in types:
                problem("edge (%s, %s): no node %r" % (x, y, v))
    if problems:
        return finish(a)
    infer(nodes, types, edges)
    check_neurons(g, nodes, types)
    if a.layers is not None:
        got = sum(t in NEURONS for t in types.values())
        if got != a.layers:
            problem("%d neuron nodes, expected %d" % (got, a.layers))
    if a.shortcuts is not None:
        got = sum(1 for v, t in types.items() if t in NEURONS and
                  sum(y == v for _, y in edges) == 2)
        if got != a.shortcuts:
            problem("%d neuron nodes with two inputs (residual), expected %d" % (got, a.shortcuts))
    try:
        import nir  # the reference reader, when installed
        nir.read(a.file)
        print("nir.read: ok")
    except ImportError:
        print("nir.read: the reference package is not installed; structure checked with h5py only")
    except Exception as ex:  # noqa: BLE001 — any failure of the reference reader is a finding
        problem("nir.read failed: %s" % ex)
    print("%s: %d nodes, %d edges" % (a.file, len(types), len(edges)))
    return finish(a)


def infer(nodes, types, edges):
    """Shapes along the edges, NIR's infer_types in a few lines; checks every node is used."""
    out = {}
    inputs = [k for k, t in types.items() if t == "Input"]
    if len(inputs) != 1:
        problem("%d Input nodes" % len(inputs))
        return
    if not any(t == "Output" for t in types.values()):
        problem("no Output node")
    out[inputs[0]] = tuple(np.asarray(nodes[inputs[0]]["shape"][()]).tolist())
    pending = set(types) - set(inputs)
    while pending:
        progress = False
        for v in sorted(pending):
            srcs = [x for x, y in edges if y == v]
            if not srcs:
                problem("node %s has no input edge" % v)
                pending.discard(v)
                progress = True
                break
            if not all(s in out for s in srcs):
                continue
            shapes = {out[s] for s in srcs}
            if len(shapes) != 1:
                problem("node %s: inputs of different shapes %s" % (v, sorted(shapes)))
            shape = out[srcs[0]]
            n, t = nodes[v], types[v]
            if t == "Conv2d":
                w = n["weight"].shape
                want = (w[1] * int(n["groups"][()]),) + tuple(np.asarray(n["input_shape"][()]).tolist())
                if shape != want:
                    problem("node %s: Conv2d input %s, its weight and input_shape say %s" %
                            (v, shape, want))
                hw = conv_out(shape[1:], n["padding"][()], n["dilation"][()], w[2:], n["stride"][()])
                out[v] = (w[0],) + tuple(hw.tolist())
            elif t in ("AvgPool2d", "SumPool2d"):
                hw = conv_out(shape[1:], n["padding"][()], 1, n["kernel_size"][()], n["stride"][()])
                out[v] = (shape[0],) + tuple(hw.tolist())
            elif t == "Flatten":
                it = tuple(np.asarray(n["input_type"][()]).tolist())
                if it != shape:
                    problem("node %s: Flatten input_type %s, its input is %s" % (v, it, shape))
                sd, ed = int(n["start_dim"][()]), int(n["end_dim"][()])
                ed = ed if ed >= 0 else len(shape) + ed
                out[v] = shape[:sd] + (int(np.prod(shape[sd:ed + 1])),) + shape[ed + 1:]
            elif t in ("Linear", "Affine"):
                w = n["weight"].shape
                if shape != (w[1],):
                    problem("node %s: %s input %s, weight %s" % (v, t, shape, w))
                out[v] = (w[0],)
            elif t in NEURONS:
                for k in KEYS[t][0] | KEYS[t][1]:
                    if k in n and n[k].shape != shape:
                        problem("node %s: %s %s has shape %s, its input %s" %
                                (v, t, k, n[k].shape, shape))
                out[v] = shape
            elif t == "Output":
                want = tuple(np.asarray(n["shape"][()]).tolist())
                if want != shape:
                    problem("node %s: Output shape %s, its input %s" % (v, want, shape))
                out[v] = shape
            pending.discard(v)
            progress = True
        if not progress:
            problem("nodes not reachable from the Input (or in a cycle): %s" % sorted(pending))
            break
    leaves = set(types) - {x for x, _ in edges}
    for v in leaves:
        if types[v] != "Output":
            problem("node %s (%s) leads nowhere" % (v, types[v]))


def check_neurons(g, nodes, types):
    meta = g["metadata"] if "metadata" in g else {}
    if "spikebp_dt" not in meta:
        return
    dt = float(meta["spikebp_dt"][()])

    def one(n, k):
        v = np.asarray(n[k][()], dtype=np.float64)
        if v.size == 0 or not np.all(v == v.flat[0]):
            problem("%s: %s is not one value" % (n.name, k))
        return float(v.flat[0])

    for v, t in types.items():
        if t not in NEURONS:
            continue
        n = nodes[v]
        r = one(n, "r")
        if t in ("IF", "I"):
            gain = r * dt
            want = 1.0
        else:
            tau = one(n, "tau")
            gain = r * dt / tau
            want = 1.0 if t == "LIF" else 1.0 - dt / tau
            if one(n, "v_leak") != 0:
                problem("%s: v_leak is not 0" % v)
        if abs(gain - want) > 1e-5:
            problem("%s (%s): input gain per step %g, expected %g" % (v, t, gain, want))
        if t != "LI" and "v_reset" in n and one(n, "v_reset") != 0:
            problem("%s: v_reset is not 0" % v)


def finish(a):
    for p in problems:
        print("nir_check: %s: %s" % (a.file, p), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
