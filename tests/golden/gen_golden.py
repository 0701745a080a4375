#!/usr/bin/python3
"""Independent float64 reference for spikebp's forward and backward passes (golden fixtures).

Written only from the method specification, docs/method.md: sections 1 (forward), 2 (loss),
3 (backward, exact and aggregate modes) and 7 (numbers to test against). It does not use any code from src/.
It builds three small networks with fixed seeds ("small": signed input, dropout; "lenetlike":
unsigned input, no dropout; "residual": signed input, dropout, two residual blocks, one with a 1x1
stride-2 conv shortcut and one with a stride-2 subsample shortcut), runs the T-step forward pass,
the summed-MSE loss, and both backward modes. It writes tests/golden/<case>.txt in the format
described in README.md. Self-checks (asserts): conv vs a brute-force loop, conv and subsample
adjoints, the SPEC §7 numbers, each residual layer's input current against brute-force loops, and
each backward pass against a forward-mode derivative of the same linearisation
(sum_l <dL/dW_l, dW_l> + <dL/dW_sc, dW_sc> = dL).

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
    for (ci, co, h, k, s, p) in [(3, 4, 8, 3, 1, 1), (4, 5, 4, 3, 2, 1), (2, 3, 7, 5, 1, 2), (2, 2, 5, 3, 2, 0),
                                 (4, 6, 8, 1, 2, 0)]:
        x, w = rng.normal(size=(2, ci, h, h)), rng.normal(size=(co, ci, k, k))
        y = conv_fwd(x, w, s, p)
        assert np.allclose(y, conv_brute(x, w, s, p), rtol=0, atol=1e-12)
        g = rng.normal(size=y.shape)
        # adjoint identities: <conv(x,w), g> = <w, wgrad(x,g)> = <x, xgrad(g,w)>
        ip = np.sum(y * g)
        assert abs(ip - np.sum(w * conv_wgrad(x, g, k, s, p))) < 1e-9
        assert abs(ip - np.sum(x * conv_xgrad(g, w, x.shape, s, p))) < 1e-9
    x = rng.normal(size=(2, 3, 8, 8))
    y = subsample(x)
    assert y.shape == (2, 3, 4, 4) and all(y[n, c, i, j] == x[n, c, 2 * i, 2 * j]
                                            for n, c, i, j in itertools.product(*map(range, y.shape)))
    g = rng.normal(size=y.shape)
    assert abs(np.sum(y * g) - np.sum(x * subsample_adj(g, x.shape))) < 1e-9


def subsample(x):  # parameter-free stride-2 shortcut: out[..., i, j] = in[..., 2i, 2j]
    return x[..., ::2, ::2]


def subsample_adj(g, xshape):  # its adjoint: scatter to the even positions, 0 elsewhere
    gx = np.zeros(xshape)
    gx[..., ::2, ::2] = g
    return gx


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
    # residual: block 1 = layers 1-2 (input y0, 1x1 stride-2 conv shortcut into layer 2), block 2 =
    # layers 3-4 (input y2, stride-2 subsample shortcut into layer 4). shortcuts: {layer receiving the
    # current: ('conv1x1', source layer, stride, gain) | ('subsample', source layer)}; the source's
    # output y = s * mask at the same step is added to the receiving layer's input current I[t].
    # Layer 4's small gain keeps the subsample's current (4/3 per spike) a sizeable part of its input.
    # rates: a seed is also rejected unless every LIF layer's spike rate in every sample lies in this
    # range and every sample's output is nonzero (so all samples carry gradient).
    'residual': dict(seed=3000, shape=(2, 8, 8), signed=True, T=10, N=2, dropout=True,
                     layers=[('conv', 4, 3, 1, 1, 40.0), ('conv', 4, 3, 1, 1, 40.0), ('conv', 6, 3, 2, 1, 30.0),
                             ('conv', 6, 3, 1, 1, 30.0), ('conv', 6, 3, 2, 1, 6.0), ('dense', 5, 15.0),
                             ('out', 3, 1.0)],
                     shortcuts={2: ('conv1x1', 0, 2, 20.0), 4: ('subsample', 2)}, rates=(0.05, 0.40)),
}


def build(cfg, seed):
    """Draw weights, input spikes, masks and labels; return (in/out shapes, W, Wsc, x, masks, labels).
    Wsc: {receiving layer: 1x1 shortcut weights (Cout, Cin, 1, 1)}, drawn after all layer weights."""
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
    Wsc = {}
    for l, S in sorted(cfg.get('shortcuts', {}).items()):
        src = shapes[S[1]][1]
        if S[0] == 'conv1x1':
            cout, st = shapes[l][1][0], S[2]
            assert shapes[l][1] == (cout, osz(src[1], 1, st, 0), osz(src[2], 1, st, 0))
            Wsc[l] = rng.normal(0.0, np.sqrt(S[3] / src[0]), size=(cout, src[0], 1, 1))
        else:
            assert S[0] == 'subsample' and shapes[l][1] == (src[0], (src[1] + 1) // 2, (src[2] + 1) // 2)
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
    return shapes, W, Wsc, x, masks, labels


def shortcut_fwd(S, y, w):  # the shortcut's current from the block input y (n, C, H, W)
    return conv_fwd(y, w, S[2], 0) if S[0] == 'conv1x1' else subsample(y)


def forward(layers, shapes, W, x, masks, sc={}, Wsc={}):
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
        y, ys = x[:, t], {}  # ys: this step's output y = s * mask of each LIF layer
        for l, L in enumerate(layers):
            rec[l]['xin'][:, t] = y
            if L[0] == 'pool':
                U = V[l] + avgpool(y)
                s = (U > THP).astype(float)
                V[l] = (1.0 - s) * U
                y = s
            else:
                I = conv_fwd(y, W[l], L[3], L[4]) if L[0] == 'conv' else y.reshape(N, -1) @ W[l].T
                if l in sc:
                    I = I + shortcut_fwd(sc[l], ys[sc[l][1]], Wsc.get(l))
                if L[0] == 'out':
                    V[l] = LAM * (V[l] + I)
                    continue
                U, s, V[l] = lif_step(V[l], I)
                y = ys[l] = s * masks[l]
            rec[l]['U'][:, t], rec[l]['s'][:, t] = U, s
    return rec, V[-1] / T


def backward(layers, W, rec, masks, ng, gout, mode, sc={}, Wsc={}):
    """dL/dW for every weighted layer and dL/dW_sc for every 1x1 shortcut, summed over the batch.
    mode: 'exact' or 'aggregate'. Returns (grads, shortcut grads)."""
    N, T = rec[0]['xin'].shape[:2]
    ex = mode == 'exact'
    grads, gsc, g = {}, {}, None  # g: gradient w.r.t. the layer's output y ((N,T,...) exact, (N,...) aggr.)
    pend = {}  # gradient w.r.t. a block input's output y that arrived through a shortcut
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
            if l in pend:  # block input: main path + shortcut, summed before the neuron backward
                g = g + pend.pop(l)
            fac = (ng[l] * masks[l] / VTH)
            gU = gate_recursion(rec[l]['s'], fac[:, None] * g) if ex else fac * g
            if l in sc:
                S = sc[l]
                Xs = rec[S[1] + 1]['xin'] if ex else rec[S[1] + 1]['xin'].sum(axis=1)  # block input y
                if S[0] == 'conv1x1':
                    Xsb = Xs.reshape((-1,) + Xs.shape[len(lead):])
                    gb = gU.reshape((-1,) + gU.shape[len(lead):])
                    gsc[l] = conv_wgrad(Xsb, gb, 1, S[2], 0)
                    pend[S[1]] = conv_xgrad(gb, Wsc[l], Xsb.shape, S[2], 0).reshape(Xs.shape)
                else:
                    pend[S[1]] = subsample_adj(gU, Xs.shape)
            if L[0] == 'dense':
                Xf = X.reshape(lead + (-1,))
                grads[l] = gU.reshape(-1, gU.shape[-1]).T @ Xf.reshape(-1, Xf.shape[-1])
                g = (gU @ W[l]).reshape(X.shape)
            else:
                k, s, p = L[2], L[3], L[4]
                Xb, gb = X.reshape((-1,) + X.shape[len(lead):]), gU.reshape((-1,) + gU.shape[len(lead):])
                grads[l] = conv_wgrad(Xb, gb, k, s, p)
                g = conv_xgrad(gb, W[l], Xb.shape, s, p).reshape(X.shape) if l > 0 else None
    assert not pend
    return grads, gsc


def jvp(layers, W, dW, rec, masks, ng, gout, mode, sc={}, Wsc={}, dWsc={}):
    """Forward-mode derivative dL along weight direction (dW, dWsc) of the linearisation that each
    backward mode differentiates (spike gate s[t] with slope NG/Vth, no leak in the gradient; or the
    counts). Used only to check backward(): sum_l <grad_l, dW_l> + sum <gsc, dWsc> must equal this."""
    ex = mode == 'exact'
    d, tang = None, {}  # d: tangent of the layer's output y (per step, or of the counts); tang: all of them
    for l, L in enumerate(layers):
        X = rec[l]['xin'] if ex else rec[l]['xin'].sum(axis=1)
        lead = X.shape[:2] if ex else X.shape[:1]
        d = np.zeros_like(X) if d is None else d
        if L[0] == 'pool':
            d = avgpool(d)
            d = tang[l] = tangent_gate(rec[l]['s'], d) if ex else d * (rec[l]['s'].sum(axis=1) > 0)
            continue
        if L[0] == 'conv':
            fl = lambda a: a.reshape((-1,) + a.shape[len(lead):])
            dI = conv_fwd(fl(d), W[l], L[3], L[4]) + conv_fwd(fl(X), dW[l], L[3], L[4])
            dI = dI.reshape(lead + dI.shape[1:])
        else:
            dI = d.reshape(lead + (-1,)) @ W[l].T + X.reshape(lead + (-1,)) @ dW[l].T
        if l in sc:  # shortcut current from the block input's output (tangent and, for 1x1, weights)
            S = sc[l]
            ds = tang[S[1]]
            if S[0] == 'conv1x1':
                Xs = rec[S[1] + 1]['xin'] if ex else rec[S[1] + 1]['xin'].sum(axis=1)
                fl = lambda a: a.reshape((-1,) + a.shape[len(lead):])
                dsc = conv_fwd(fl(ds), Wsc[l], S[2], 0) + conv_fwd(fl(Xs), dWsc[l], S[2], 0)
                dI = dI + dsc.reshape(lead + dsc.shape[1:])
            else:
                dI = dI + subsample(ds)
        if L[0] == 'out':
            do = (dI.sum(axis=1) if ex else dI) / rec[l]['xin'].shape[1]  # gI = g_out/T, no leak
            return np.sum(gout * do)
        fac = ng[l] * masks[l] / VTH
        d = tang[l] = fac[:, None] * tangent_gate(rec[l]['s'], dI) if ex else fac * dI


def tangent_gate(s, dI):  # dU[t] = dV[t-1] + dI[t]; out[t] = s[t] dU[t]; dV[t] = (1 - s[t]) dU[t]
    out, dV = np.zeros_like(dI), np.zeros_like(dI[:, 0])
    for t in range(s.shape[1]):
        dU = dV + dI[:, t]
        out[:, t], dV = s[:, t] * dU, (1.0 - s[:, t]) * dU
    return out


def check_shortcut_currents(layers, sc, W, Wsc, rec):
    """For each layer with a shortcut, recover I[t] = U[t] - V[t-1] from the recorded membranes and
    compare it with brute-force loops: conv of the layer input + shortcut of the block input y."""
    for l, S in sc.items():
        L, U, s = layers[l], rec[l]['U'], rec[l]['s']
        Vprev = np.concatenate([np.zeros_like(U[:, :1]), LAM * (1.0 - s[:, :-1]) * U[:, :-1]], axis=1)
        I = U - Vprev
        xin, yb = rec[l]['xin'], rec[S[1] + 1]['xin']  # layer input; block input y = s * mask
        for t in range(xin.shape[1]):
            ref = conv_brute(xin[:, t], W[l], L[3], L[4])
            for n, o, i, j in itertools.product(*map(range, ref.shape)):
                if S[0] == 'conv1x1':
                    ref[n, o, i, j] += sum(Wsc[l][o, c, 0, 0] * yb[n, t, c, S[2] * i, S[2] * j]
                                           for c in range(yb.shape[2]))
                else:
                    ref[n, o, i, j] += yb[n, t, o, 2 * i, 2 * j]
            assert np.allclose(I[:, t], ref, rtol=0, atol=1e-9), (l, t)


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
    layers, sc = cfg['layers'], cfg.get('shortcuts', {})
    for seed in range(cfg['seed'], cfg['seed'] + 1000):
        shapes, W, Wsc, x, masks, labels = build(cfg, seed)
        rec, o = forward(layers, shapes, W, x, masks, sc, Wsc)
        m_lif, m_pool, ties = margins(layers, rec)
        if 'rates' in cfg:
            r = [rec[l]['s'][n].mean() for l, L in enumerate(layers) if L[0] in ('conv', 'dense')
                 for n in range(cfg['N'])]
            if not (cfg['rates'][0] <= min(r) <= max(r) <= cfg['rates'][1] and np.all(np.any(o != 0, axis=1))):
                continue
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
    check_shortcut_currents(layers, sc, W, Wsc, rec)
    gex, gex_sc = backward(layers, W, rec, masks, ng, gout, 'exact', sc, Wsc)
    gag, gag_sc = backward(layers, W, rec, masks, ng, gout, 'aggregate', sc, Wsc)
    assert sorted(gex_sc) == sorted(gag_sc) == sorted(Wsc)
    last = len(layers) - 1
    assert np.allclose(gex[last], gag[last], rtol=1e-12, atol=1e-15)  # output layer: modes agree
    rng = np.random.default_rng(12345)  # check the reverse passes against forward mode
    for _ in range(3):
        dW = {l: rng.normal(size=W[l].shape) for l in W}
        dWsc = {l: rng.normal(size=Wsc[l].shape) for l in sorted(Wsc)}
        for mode, gr, grs in (('exact', gex, gex_sc), ('aggregate', gag, gag_sc)):
            lhs = sum(np.sum(gr[l] * dW[l]) for l in W) + sum(np.sum(grs[l] * dWsc[l]) for l in Wsc)
            rhs = jvp(layers, W, dW, rec, masks, ng, gout, mode, sc, Wsc, dWsc)
            assert abs(lhs - rhs) <= 1e-10 * (1 + abs(rhs)), (name, mode, lhs, rhs)

    rates = [(l, L[0], rec[l]['s'].mean(), rec[l]['s'][0].mean()) for l, L in enumerate(layers) if L[0] != 'out']
    print('%s: seed %d, margin LIF %.6g, pool %.6g (exact dyadic pool ties at 0.75: %d), loss %.10g'
          % (name, seed, m_lif, m_pool, ties, loss))
    for l, kind, r_all, r0 in rates:
        print('  layer %d %-5s spike rate %.3f (sample 0: %.3f)' % (l, kind, r_all, r0))

    hdr = ['# spikebp golden fixture "%s", generated by tests/golden/gen_golden.py (float64 reference,' % name,
           '# written independently from docs/method.md sections 1-3). Do not edit; regenerate with the script.',
           '# layers: ' + ' | '.join(str(L) for L in layers),
           '# seed %d; lambda %g Vth %g pool threshold %g dropout p %g' % (seed, LAM, VTH, THP,
                                                                          P_DROP if cfg['dropout'] else 0),
           '# margin: min|U-Vth| (LIF) = %.6g; min|Up-0.75| (pool, non-exact) = %.6g' % (m_lif, m_pool),
           '# exact ties Up == 0.75 with binary pool input (multiples of 1/4, exact in float32; no spike): %d'
           % ties]
    if sc:
        hdr.insert(3, '# shortcuts {receiving layer: (kind, source layer[, stride, gain])}: %s' % sc)
    hdr += ['# spike rate layer %d (%s): %.4f (sample 0: %.4f)' % rt for rt in rates]
    body = [fmt_tensor('config', [T, N, len(layers), int(cfg['signed']), min(m_lif, m_pool)]),
            fmt_tensor('input', x), fmt_tensor('label', labels)]
    body += [fmt_tensor('mask%d' % l, masks[l]) for l in sorted(masks)]
    body += [fmt_tensor('weight%d' % l, W[l]) for l in sorted(W)]
    body += [fmt_tensor('shortcut%d' % l, Wsc[l]) for l in sorted(Wsc)]
    body += [fmt_tensor('out', o), fmt_tensor('loss', [loss])]
    body += [fmt_tensor('count%d' % l, counts[l]) for l in sorted(counts)]
    body += [fmt_tensor('ng%d' % l, ng[l]) for l in sorted(ng)]
    body += [fmt_tensor('grad_exact%d' % l, gex[l]) for l in sorted(gex)]
    body += [fmt_tensor('grad_exact_shortcut%d' % l, gex_sc[l]) for l in sorted(gex_sc)]
    body += [fmt_tensor('grad_aggregate%d' % l, gag[l]) for l in sorted(gag)]
    body += [fmt_tensor('grad_aggregate_shortcut%d' % l, gag_sc[l]) for l in sorted(gag_sc)]
    with open(os.path.join(HERE, name + '.txt'), 'w') as f:
        f.write('\n'.join(hdr) + '\n' + ''.join(body))


if __name__ == '__main__':
    check_conv()
    check_spec7()
    for case_name, case_cfg in CASES.items():
        run_case(case_name, case_cfg)
