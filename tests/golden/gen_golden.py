#!/usr/bin/python3
"""Independent float64 reference for spikebp's forward and backward passes (golden fixtures).

Written only from /work/shared/SPEC.md sections 1 (forward), 2 (loss), 3 (backward, exact and
aggregate modes) and 7 (numbers to test against). It does not use any code from src/.
It builds two small networks with fixed seeds ("small": signed input, dropout; "lenetlike":
unsigned input, no dropout), runs the T-step forward pass, the summed-MSE loss, and both backward
modes. It writes tests/golden/<case>.txt in the format described in README.md. Self-checks
(asserts): conv vs a brute-force loop, conv adjoints, the SPEC §7 numbers, and each backward
pass against a forward-mode derivative of the same linearisation (sum_l <dL/dW_l, dW_l> = dL).

Run:   /usr/bin/python3 tests/golden/gen_golden.py      (needs numpy; output is deterministic)
"""
import itertools
import os
import numpy as np

LAM, VTH, THP, P_DROP = 0.99, 1.0, 0.75, 0.25
# Threshold-tie guard: a seed is accepted only if every LIF |U-Vth| and every pool |Up-0.75| is at
# least MIN_MARGIN. A float32 re-computation of these nets differs from float64 by ~1e-5 in U at most.
MIN_MARGIN = 1e-3
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- convolution primitives
# x: (n, Cin, H, W); w: (Cout, Cin, k, k); cross-correlation with zero padding p, stride s.
def osz(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def _win(a, s, n):  # slice picking input rows a, a+s, ..., a+s*(n-1) of the padded array
    return slice(a, a + s * (n - 1) + 1, s)


def conv_fwd(x, w, s, p):
    n, ci, h, wd = x.shape
    co, _, k, _ = w.shape
    ho, wo = osz(h, k, s, p), osz(wd, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    y = np.zeros((n, co, ho, wo))
    for a in range(k):
        for b in range(k):
            y += np.einsum('oc,ncij->noij', w[:, :, a, b], xp[:, :, _win(a, s, ho), _win(b, s, wo)])
    return y


def conv_wgrad(x, g, k, s, p):  # dL/dw given input x and output gradient g
    ho, wo = g.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.zeros((g.shape[1], x.shape[1], k, k))
    for a in range(k):
        for b in range(k):
            dw[:, :, a, b] = np.einsum('noij,ncij->oc', g, xp[:, :, _win(a, s, ho), _win(b, s, wo)])
    return dw


def conv_xgrad(g, w, xshape, s, p):  # transposed convolution: dL/dx
    n, ci, h, wd = xshape
    k = w.shape[2]
    ho, wo = g.shape[2:]
    gxp = np.zeros((n, ci, h + 2 * p, wd + 2 * p))
    for a in range(k):
        for b in range(k):
            gxp[:, :, _win(a, s, ho), _win(b, s, wo)] += np.einsum('oc,noij->ncij', w[:, :, a, b], g)
    return gxp[:, :, p:p + h, p:p + wd]


def conv_brute(x, w, s, p):
    n, ci, h, wd = x.shape
    co, _, k, _ = w.shape
    y = np.zeros((n, co, osz(h, k, s, p), osz(wd, k, s, p)))
    for b_, o, i, j, c, a, b in itertools.product(*map(range, y.shape + (ci, k, k))):
        ii, jj = i * s + a - p, j * s + b - p
        if 0 <= ii < h and 0 <= jj < wd:
            y[b_, o, i, j] += w[o, c, a, b] * x[b_, c, ii, jj]
    return y


def check_conv():
    rng = np.random.default_rng(7)
    for (ci, co, h, k, s, p) in [(3, 4, 8, 3, 1, 1), (4, 5, 4, 3, 2, 1), (2, 3, 7, 5, 1, 2), (2, 2, 5, 3, 2, 0)]:
        x, w = rng.normal(size=(2, ci, h, h)), rng.normal(size=(co, ci, k, k))
        y = conv_fwd(x, w, s, p)
        assert np.allclose(y, conv_brute(x, w, s, p), rtol=0, atol=1e-12)
        g = rng.normal(size=y.shape)
        # adjoint identities: <conv(x,w), g> = <w, wgrad(x,g)> = <x, xgrad(g,w)>
        ip = np.sum(y * g)
        assert abs(ip - np.sum(w * conv_wgrad(x, g, k, s, p))) < 1e-9
        assert abs(ip - np.sum(x * conv_xgrad(g, w, x.shape, s, p))) < 1e-9


def avgpool(x):  # over the last two axes
    h, w = x.shape[-2:]
    return x.reshape(x.shape[:-2] + (h // 2, 2, w // 2, 2)).sum(axis=(-3, -1)) / 4.0


def unpool(g):  # each of the 4 pooled inputs receives g/4
    return np.repeat(np.repeat(g, 2, axis=-2), 2, axis=-1) / 4.0


# ---------------------------------------------------------------- neuron pieces (SPEC §1, §3)
def lif_step(V, I):
    U = V + I
    s = (U > VTH).astype(float)
    return U, s, LAM * (1.0 - s) * U


def neg_grad(s):  # s: (N, T, ...) binary; returns gamma, NG
    gamma, LF = np.zeros(s.shape[:1] + s.shape[2:]), np.zeros(s.shape[:1] + s.shape[2:])
    for t in range(s.shape[1]):
        LF = LAM * LF + s[:, t]
        gamma += s[:, t]
    ng = np.where(gamma > 0, 1.0 + np.log(LAM) * LF / np.maximum(gamma, 1.0), 0.0)
    return gamma, ng


def gate_recursion(s, gs):  # g_U[t] = s[t] gs[t] + (1 - s[t]) g_U[t+1], g_U[T] = 0, time axis 1
    gU, nxt = np.zeros_like(gs), np.zeros_like(gs[:, 0])
    for t in range(s.shape[1] - 1, -1, -1):
        nxt = s[:, t] * gs[:, t] + (1.0 - s[:, t]) * nxt
        gU[:, t] = nxt
    return gU


def check_spec7():
    V, Us, Vs = 0.0, [], []
    for _ in range(10):
        U, s, V = lif_step(np.array(V), np.array(0.35))
        Us.append(float(U)), Vs.append(float(V))
    assert np.allclose(Us, [0.35, 0.6965, 1.039535] * 3 + [0.35], atol=1e-12)
    assert np.allclose(Vs[:3], [0.3465, 0.689535, 0.0], atol=1e-12) and Vs[2] == 0.0
    s = np.zeros((1, 10)); s[0, [2, 5, 9]] = 1
    g, ng = neg_grad(s)
    assert g[0] == 3 and abs(ng[0] - 0.9903092606) < 1e-10
    assert neg_grad(np.zeros((1, 10)))[1][0] == 0.0
    M = 0.0
    for _ in range(100):
        M = LAM * (M + 0.5)
    assert abs(M / 100 - 0.3138139911) < 1e-10
    s = np.array([[0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0]], float)
    gU = gate_recursion(s, np.full_like(s, 0.7))
    assert np.all(gU[0, :10] == 0.7) and np.all(gU[0, 10:] == 0.0)


# ---------------------------------------------------------------- networks
CASES = {
    # layer tuples: ('conv', Cout, k, stride, pad, gain) | ('pool',) | ('dense', F, gain) | ('out', K, gain);
    # weights ~ N(0, sqrt(gain/fan_in)). lenetlike's large gains: with ~47k LIF neuron-steps, a 1e-3 tie
    # margin at 5-40% spike rates is only reachable when the per-step currents are large (big jumps).
    'small': dict(seed=1000, shape=(1, 8, 8), signed=True, T=12, N=3, dropout=True,
                  layers=[('conv', 4, 3, 1, 1, 8.0), ('pool',), ('conv', 5, 3, 2, 1, 15.0),
                          ('dense', 6, 15.0), ('out', 3, 1.0)]),
    'lenetlike': dict(seed=2000, shape=(1, 12, 12), signed=False, T=20, N=2, dropout=False,
                      layers=[('conv', 6, 5, 1, 2, 50.0), ('pool',), ('conv', 8, 3, 1, 1, 80.0), ('pool',),
                              ('dense', 16, 100.0), ('out', 4, 1.0)]),
}


def build(cfg, seed):
    """Draw weights, input spikes, masks and labels; return (in/out shapes, W, x, masks, labels)."""
    rng = np.random.default_rng(seed)
    shapes, W, shp = [], {}, cfg['shape']
    for l, L in enumerate(cfg['layers']):
        if L[0] == 'conv':
            _, co, k, s, p, gain = L
            out = (co, osz(shp[1], k, s, p), osz(shp[2], k, s, p))
            W[l] = rng.normal(0.0, np.sqrt(gain / (k * k * shp[0])), size=(co, shp[0], k, k))
        elif L[0] == 'pool':
            out = (shp[0], shp[1] // 2, shp[2] // 2)
        else:
            fan = int(np.prod(shp))
            out = (L[1],)
            W[l] = rng.normal(0.0, np.sqrt(L[2] / fan), size=(L[1], fan))
        shapes.append((shp, out))
        shp = out
    N, T = cfg['N'], cfg['T']
    x = (rng.random((N, T) + cfg['shape']) < 0.3).astype(float)
    if cfg['signed']:
        x *= np.where(rng.random(x.shape) < 0.5, -1.0, 1.0)
    masks = {}
    for l, L in enumerate(cfg['layers']):
        if L[0] in ('conv', 'dense'):
            shp = (N,) + shapes[l][1]
            masks[l] = (np.where(rng.random(shp) < P_DROP, 0.0, 1.0 / (1.0 - P_DROP))
                        if cfg['dropout'] else np.ones(shp))
    labels = rng.integers(0, cfg['layers'][-1][1], size=N)
    return shapes, W, x, masks, labels


def forward(layers, shapes, W, x, masks):
    N, T = x.shape[:2]
    rec = []
    for l, L in enumerate(layers):
        r = dict(xin=np.zeros((N, T) + shapes[l][0]))
        if L[0] != 'out':
            r['U'] = np.zeros((N, T) + shapes[l][1])
            r['s'] = np.zeros((N, T) + shapes[l][1])
        rec.append(r)
    V = [np.zeros((N,) + shapes[l][1]) for l in range(len(layers))]
    for t in range(T):
        y = x[:, t]
        for l, L in enumerate(layers):
            rec[l]['xin'][:, t] = y
            if L[0] == 'pool':
                U = V[l] + avgpool(y)
                s = (U > THP).astype(float)
                V[l] = (1.0 - s) * U
                y = s
            else:
                I = conv_fwd(y, W[l], L[3], L[4]) if L[0] == 'conv' else y.reshape(N, -1) @ W[l].T
                if L[0] == 'out':
                    V[l] = LAM * (V[l] + I)
                    continue
                U, s, V[l] = lif_step(V[l], I)
                y = s * masks[l]
            rec[l]['U'][:, t], rec[l]['s'][:, t] = U, s
    return rec, V[-1] / T


def backward(layers, W, rec, masks, ng, gout, mode):
    """dL/dW for every weighted layer, summed over the batch. mode: 'exact' or 'aggregate'."""
    N, T = rec[0]['xin'].shape[:2]
    ex = mode == 'exact'
    grads, g = {}, None  # g: gradient w.r.t. the layer's output y ((N,T,...) exact, (N,...) aggregate)
    for l in range(len(layers) - 1, -1, -1):
        L, xin = layers[l], rec[l]['xin']
        X = xin if ex else xin.sum(axis=1)  # per-step inputs, or input counts
        lead = X.shape[:2] if ex else X.shape[:1]
        if L[0] == 'out':
            d = gout / T  # (N, K), the same at every step
            Xf = X.reshape(lead + (-1,))
            grads[l] = np.einsum('nk,nti->ki', d, Xf) if ex else d.T @ Xf
            gx = d @ W[l]
            g = np.broadcast_to(gx[:, None], (N, T) + gx.shape[1:]) if ex else gx
            g = g.reshape(X.shape)
        elif L[0] == 'pool':
            sp = rec[l]['s']
            gUp = gate_recursion(sp, g) if ex else g * (sp.sum(axis=1) > 0)
            g = unpool(gUp)
        else:
            fac = (ng[l] * masks[l] / VTH)
            gU = gate_recursion(rec[l]['s'], fac[:, None] * g) if ex else fac * g
            if L[0] == 'dense':
                Xf = X.reshape(lead + (-1,))
                grads[l] = gU.reshape(-1, gU.shape[-1]).T @ Xf.reshape(-1, Xf.shape[-1])
                g = (gU @ W[l]).reshape(X.shape)
            else:
                k, s, p = L[2], L[3], L[4]
                Xb, gb = X.reshape((-1,) + X.shape[len(lead):]), gU.reshape((-1,) + gU.shape[len(lead):])
                grads[l] = conv_wgrad(Xb, gb, k, s, p)
                g = conv_xgrad(gb, W[l], Xb.shape, s, p).reshape(X.shape) if l > 0 else None
    return grads


def jvp(layers, W, dW, rec, masks, ng, gout, mode):
    """Forward-mode derivative dL along weight direction dW of the linearisation that each backward
    mode differentiates (spike gate s[t] with slope NG/Vth, no leak in the gradient; or the counts).
    Used only to check backward(): sum_l <grad_l, dW_l> must equal this."""
    ex = mode == 'exact'
    d = None  # tangent of the layer's output y (per step, or of the counts)
    for l, L in enumerate(layers):
        X = rec[l]['xin'] if ex else rec[l]['xin'].sum(axis=1)
        lead = X.shape[:2] if ex else X.shape[:1]
        d = np.zeros_like(X) if d is None else d
        if L[0] == 'pool':
            d = avgpool(d)
            d = tangent_gate(rec[l]['s'], d) if ex else d * (rec[l]['s'].sum(axis=1) > 0)
            continue
        if L[0] == 'conv':
            fl = lambda a: a.reshape((-1,) + a.shape[len(lead):])
            dI = conv_fwd(fl(d), W[l], L[3], L[4]) + conv_fwd(fl(X), dW[l], L[3], L[4])
            dI = dI.reshape(lead + dI.shape[1:])
        else:
            dI = d.reshape(lead + (-1,)) @ W[l].T + X.reshape(lead + (-1,)) @ dW[l].T
        if L[0] == 'out':
            do = (dI.sum(axis=1) if ex else dI) / rec[l]['xin'].shape[1]  # gI = g_out/T, no leak
            return np.sum(gout * do)
        fac = ng[l] * masks[l] / VTH
        d = fac[:, None] * tangent_gate(rec[l]['s'], dI) if ex else fac * dI


def tangent_gate(s, dI):  # dU[t] = dV[t-1] + dI[t]; out[t] = s[t] dU[t]; dV[t] = (1 - s[t]) dU[t]
    out, dV = np.zeros_like(dI), np.zeros_like(dI[:, 0])
    for t in range(s.shape[1]):
        dU = dV + dI[:, t]
        out[:, t], dV = s[:, t] * dU, (1.0 - s[:, t]) * dU
    return out


def margins(layers, rec):
    """min |U-Vth| over LIF neuron-steps; min |Up-0.75| over pool neuron-steps excluding exact ties
    whose input is unscaled binary spikes (Up is then a multiple of 1/4, exact in any precision)."""
    m_lif, m_pool, exact_ties = np.inf, np.inf, 0
    for l, L in enumerate(layers):
        if L[0] in ('conv', 'dense'):
            m_lif = min(m_lif, np.abs(rec[l]['U'] - VTH).min())
        elif L[0] == 'pool':
            d = np.abs(rec[l]['U'] - THP)
            xin = rec[l]['xin']
            if np.all((xin == 0) | (xin == 1)):
                exact_ties += int(np.sum(d == 0))
                d = d[d != 0]
            m_pool = min(m_pool, d.min() if d.size else np.inf)
    return m_lif, m_pool, exact_ties


def fmt_tensor(name, a):
    a = np.asarray(a, dtype=float)
    lines = ['tensor %s %d %s' % (name, a.ndim, ' '.join(str(d) for d in a.shape))]
    flat = a.ravel(order='C')
    for i in range(0, flat.size, 8):
        lines.append(' '.join('%.17g' % v for v in flat[i:i + 8]))
    return '\n'.join(lines) + '\n'


def run_case(name, cfg):
    layers = cfg['layers']
    for seed in range(cfg['seed'], cfg['seed'] + 1000):
        shapes, W, x, masks, labels = build(cfg, seed)
        rec, o = forward(layers, shapes, W, x, masks)
        m_lif, m_pool, ties = margins(layers, rec)
        if min(m_lif, m_pool) >= MIN_MARGIN:
            break
    else:
        raise SystemExit('no seed with margin >= %g' % MIN_MARGIN)
    N, T, K = cfg['N'], cfg['T'], layers[-1][1]
    onehot = np.eye(K)[labels]
    loss = np.sum((o - onehot) ** 2)
    gout = 2.0 * (o - onehot)
    counts, ng = {}, {}
    for l, L in enumerate(layers):
        if L[0] != 'out':
            counts[l], ngl = neg_grad(rec[l]['s'])
            if L[0] != 'pool':
                ng[l] = ngl
    gex = backward(layers, W, rec, masks, ng, gout, 'exact')
    gag = backward(layers, W, rec, masks, ng, gout, 'aggregate')
    last = len(layers) - 1
    assert np.allclose(gex[last], gag[last], rtol=1e-12, atol=1e-15)  # output layer: modes agree
    rng = np.random.default_rng(12345)  # check the reverse passes against forward mode
    for _ in range(3):
        dW = {l: rng.normal(size=W[l].shape) for l in W}
        for mode, gr in (('exact', gex), ('aggregate', gag)):
            lhs = sum(np.sum(gr[l] * dW[l]) for l in W)
            rhs = jvp(layers, W, dW, rec, masks, ng, gout, mode)
            assert abs(lhs - rhs) <= 1e-10 * (1 + abs(rhs)), (name, mode, lhs, rhs)

    rates = [(l, L[0], rec[l]['s'].mean(), rec[l]['s'][0].mean()) for l, L in enumerate(layers) if L[0] != 'out']
    print('%s: seed %d, margin LIF %.6g, pool %.6g (exact dyadic pool ties at 0.75: %d), loss %.10g'
          % (name, seed, m_lif, m_pool, ties, loss))
    for l, kind, r_all, r0 in rates:
        print('  layer %d %-5s spike rate %.3f (sample 0: %.3f)' % (l, kind, r_all, r0))

    hdr = ['# spikebp golden fixture "%s", generated by tests/golden/gen_golden.py (float64 reference,' % name,
           '# written independently from SPEC.md sections 1-3). Do not edit; regenerate with the script.',
           '# layers: ' + ' | '.join(str(L) for L in layers),
           '# seed %d; lambda %g Vth %g pool threshold %g dropout p %g' % (seed, LAM, VTH, THP,
                                                                          P_DROP if cfg['dropout'] else 0),
           '# margin: min|U-Vth| (LIF) = %.6g; min|Up-0.75| (pool, non-exact) = %.6g' % (m_lif, m_pool),
           '# exact ties Up == 0.75 with binary pool input (multiples of 1/4, exact in float32; no spike): %d'
           % ties]
    hdr += ['# spike rate layer %d (%s): %.4f (sample 0: %.4f)' % rt for rt in rates]
    body = [fmt_tensor('config', [T, N, len(layers), int(cfg['signed']), min(m_lif, m_pool)]),
            fmt_tensor('input', x), fmt_tensor('label', labels)]
    body += [fmt_tensor('mask%d' % l, masks[l]) for l in sorted(masks)]
    body += [fmt_tensor('weight%d' % l, W[l]) for l in sorted(W)]
    body += [fmt_tensor('out', o), fmt_tensor('loss', [loss])]
    body += [fmt_tensor('count%d' % l, counts[l]) for l in sorted(counts)]
    body += [fmt_tensor('ng%d' % l, ng[l]) for l in sorted(ng)]
    body += [fmt_tensor('grad_exact%d' % l, gex[l]) for l in sorted(gex)]
    body += [fmt_tensor('grad_aggregate%d' % l, gag[l]) for l in sorted(gag)]
    with open(os.path.join(HERE, name + '.txt'), 'w') as f:
        f.write('\n'.join(hdr) + '\n' + ''.join(body))


if __name__ == '__main__':
    check_conv()
    check_spec7()
    for case_name, case_cfg in CASES.items():
        run_case(case_name, case_cfg)
