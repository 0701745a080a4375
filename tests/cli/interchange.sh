#!/usr/bin/env bash
# interchange.sh — `spikebp export --npz` writes every weight tensor in PyTorch layout under its
# documented name (checked with NumPy), and `train --init` starts from such an archive (the
# weights come back unchanged after a training run with a negligible learning rate); a
# misshapen archive is refused with a message naming the array.
set -euo pipefail
: "${SBP_CLI:?SBP_CLI must point to the spikebp binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
py=/usr/bin/python3
cp "$SBP_SOURCE_DIR/tests/data/residual-small.net" "$work/res.net"
common=(--data mnist --train-limit 64 --test-limit 32 -T 6 --batch 32 --quiet --threads 2)
"$SBP_CLI" train --net "$work/res.net" "${common[@]}" --save "$work/a.sbp" >/dev/null && ok || bad "train a"
"$SBP_CLI" export --model "$work/a.sbp" --npz "$work/a.npz" >/dev/null && ok || bad "export a"
$py - "$work/a.npz" <<'PY' && ok || bad "npz names/shapes/dtypes"
import sys, numpy as np
z = np.load(sys.argv[1])
want = {"layer0.conv.weight": (4, 1, 5, 5), "layer1.conv.weight": (6, 4, 3, 3),
        "layer1.shortcut.weight": (6, 4, 1, 1), "layer3.dense.weight": (12, 6 * 7 * 7),
        "layer4.output.weight": (10, 12)}
assert sorted(z.files) == sorted(want), z.files
for k, s in want.items():
    assert z[k].shape == s and z[k].dtype == np.float32, (k, z[k].shape, z[k].dtype)
    assert np.isfinite(z[k]).all() and np.abs(z[k]).max() > 0, k
PY
# --init: a run with a negligible learning rate must keep the given weights
"$SBP_CLI" train --net "$work/res.net" "${common[@]}" --seed 99 --lr 1e-12 --weight-decay 0 \
  --init "$work/a.npz" --save "$work/b.sbp" >/dev/null && ok || bad "train --init"
"$SBP_CLI" export --model "$work/b.sbp" --npz "$work/b.npz" >/dev/null && ok || bad "export b"
$py - "$work/a.npz" "$work/b.npz" <<'PY' && ok || bad "--init did not load the weights"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in a.files:
    assert np.array_equal(a[k], b[k]), k
PY
# a misshapen archive is refused, naming the array
$py - "$work/a.npz" "$work/bad.npz" <<'PY'
import sys, numpy as np
z = dict(np.load(sys.argv[1]))
z["layer1.shortcut.weight"] = np.zeros((6, 5, 1, 1), np.float32)
np.savez(sys.argv[2], **z)
PY
set +e; out=$("$SBP_CLI" train --net "$work/res.net" "${common[@]}" --init "$work/bad.npz" --save "$work/c.sbp" 2>&1); st=$?; set -e
[ $st = 1 ] && echo "$out" | grep -q "layer1.shortcut.weight" && ok || bad "bad --init: exit $st: $out"
[ ! -e "$work/c.sbp" ] && ok || bad "a model was written despite the bad --init"
echo "interchange: $pass passed, $fail failed"
[ $fail = 0 ]
