#!/usr/bin/python3
"""torch_snn.py — an independent PyTorch implementation of spike-based backpropagation
(Lee et al. 2020), written from docs/method.md §1–§3 only, to compare spikebp's speed and memory with.

    torch_snn.py --net lenet --data mnist -T 100 --batch 64 --backward exact --mode train \
                 --warmup 1 --iters 3 --json
    torch_snn.py --check            # gradients against tests/golden/*.txt, both modes

Same options and the same JSON line as bench/sbp_bench.c. The method:

  §1  rate encoding sign(x)·[|x|·gain > r]; LIF hidden layers U = V + I, s = [U > 1],
      V = λ(1 − s)U; 2×2 average pooling into IF neurons (θ = 0.75, reset to 0); per-sample
      dropout masks held for the T steps; non-spiking leaky output M = λ(M + W y), o = M[T−1]/T.
  §2  L = Σ (o − onehot)², ∂L/∂o = 2(o − y).
  §3  NG = 1 + ln(λ)·LF/γ (0 when γ = 0).
      exact:     the reference code's per-step gradient, written out explicitly (no autograd):
                 g_s[t] = NG·mask·g_y[t]/Vth, g_U[t] = s[t]·g_s[t] + (1 − s[t])·g_U[t+1],
                 dW = Σ_t g_U[t] ⊗ x_in[t], g_x[t] = Wᵀ g_U[t]; pooling likewise with factor 1
                 and g/4 to each input; the output layer gives g_y[t] = W_outᵀ g_out/T.
      aggregate: δ = (Wᵀδ_above)·mask·NG/Vth from spike counts, dW = δ ⊗ X (input counts).
      SGD with weight decay: w ← w − lr(∂L/∂w + wd·w).

How it is made fast (the same idea spikebp uses, so that the comparison is with a strong
PyTorch baseline rather than with a per-step Python loop over the whole network): there is no
synaptic delay, so each layer computes the currents of a whole chunk of time steps with one
convolution over a (steps × batch) batch, and only the membrane recursion loops over the steps.
The exact backward runs the chunks in reverse with the g_U carry per layer, and one
convolution_backward call per layer and chunk gives both the weight and the input gradient.
Chunks of a few steps (auto_chunk) beat the whole window; activations are channels_last (faster
oneDNN convolutions); the per-step recursions use float arithmetic only (ATen's where,
masked_fill and bool arithmetic are slow on CPU). Spikes are kept as bool (1 byte per neuron and
step) for the exact backward, the input spikes as int8. Everything runs under
torch.inference_mode(): the gradients are explicit, autograd is not used.

Threads: torch.set_num_threads(--threads, default 2) with OPENBLAS_NUM_THREADS=1 (set here
before torch is imported unless the caller set it) was the fastest setting on the 2-core
machine.
"""
import argparse
import ast
import gzip
import json
import math
import os
import re
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

LEAK = 0.99  # λ (§1)
VTH = 1.0  # LIF threshold
VTH_POOL = 0.75  # pooling IF threshold
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # §1
CIFAR_STD = (0.557, 0.549, 0.5534)
VGG9 = "32x32x3-64C3-64C3-P2-128C3-128C3-P2-256C3-256C3-256C3-P2-1024FC-10"
LENET = "28x28x1-20C5-P2-50C5-P2-200FC-10"
HERE = os.path.dirname(os.path.abspath(__file__))
# the repository's CIFAR-10 slice unless --data-dir says otherwise (bench/run passes it)
CIFAR_DIR = os.path.join(os.path.dirname(HERE), "tests", "data", "cifar-10-slice")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ----------------------------------------------------------------------------- network

class Layer:
    """One layer: kind 'conv' | 'pool' | 'dense' | 'out', its shapes and its weight."""

    def __init__(self, kind, in_shape, out=0, k=0, stride=1, pad=0, dropout=0.0):
        self.kind, self.in_shape = kind, tuple(in_shape)
        self.k, self.stride, self.pad, self.dropout = k, stride, pad, dropout
        c, h, w = in_shape
        if kind == "conv":
            ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            self.out_shape = (out, ho, wo)
            self.w_shape = (out, c, k, k)
            self.fan_in = c * k * k
        elif kind == "pool":
            self.out_shape = (c, h // 2, w // 2)
            self.w_shape, self.fan_in = None, 0
        else:  # dense, out: flatten (c, h, w)
            self.out_shape = (out, 1, 1)
            self.w_shape = (out, c * h * w)
            self.fan_in = c * h * w
        self.n_out = int(np.prod(self.out_shape))
        self.weight = None

    def set_weight(self, w):
        """Convolution weights in the activations' memory format (oneDNN's fast path)."""
        self.weight = w.contiguous(memory_format=MEMFMT) if w.dim() == 4 else w.contiguous()

    @property
    def spiking(self):
        return self.kind in ("conv", "pool", "dense")


def parse_notation(text):
    """The paper's notation (§5): 28x28x1-20C5-P2-50C5-P2-200FC-10; nCk/s gives stride s."""
    toks = text.split("-")
    h, w, c = (int(v) for v in toks[0].split("x"))
    shape, layers = (c, h, w), []
    for i, t in enumerate(toks[1:]):
        last = i == len(toks) - 2
        conv = re.fullmatch(r"(\d+)C(\d+)(?:/(\d+))?", t)
        if conv:
            n, k, s = int(conv[1]), int(conv[2]), int(conv[3] or 1)
            L = Layer("conv", shape, n, k, s, (k - 1) // 2)
        elif t == "P2":
            L = Layer("pool", shape)
        elif re.fullmatch(r"\d+FC", t):
            L = Layer("dense", shape, int(t[:-2]))
        elif last and t.isdigit():
            L = Layer("out", shape, int(t))
        else:
            raise SystemExit(f"torch_snn: bad notation token '{t}' in {text}")
        layers.append(L)
        shape = L.out_shape
    if layers[-1].kind != "out":
        raise SystemExit("torch_snn: the notation must end with the output layer size")
    return (c, h, w), layers


def make_net(name, seed):
    if name == "lenet":
        text, drop, gain = LENET, 0.0, 2.0
    elif name == "vgg9":
        text, drop, gain = VGG9, 0.2, 2.0
    else:
        text, drop, gain = name, 0.0, 2.0
    in_shape, layers = parse_notation(text)
    g = torch.Generator().manual_seed(seed)
    for L in layers:
        if L.kind in ("conv", "dense"):
            L.dropout = drop
        if L.w_shape:  # §4: N(0, √(gain/fan_in))
            L.set_weight(torch.randn(L.w_shape, generator=g) * math.sqrt(gain / L.fan_in))
    return text, in_shape, layers


def dense_macs(layers):
    return sum(L.n_out * L.fan_in for L in layers if L.w_shape)


# ----------------------------------------------------------------------------- engine

# Activations are 4-D (rows, C, H, W) tensors in one memory format for the whole run;
# (steps, N, C, H, W) tensors are views of (steps·N, C, H, W) ones, so that a chunk of steps
# goes through one convolution. channels_last made oneDNN's convolutions 1.5–2× faster here.
FORMAT = {"nhwc": torch.channels_last, "nchw": torch.contiguous_format}
MEMFMT = torch.channels_last


def act(lead, shape, dtype=torch.float32, zero=False):
    """A tensor lead + shape, e.g. (n, N) + (C, H, W), laid out as (prod(lead), C, H, W)."""
    rows = int(np.prod(lead))
    t = torch.empty((rows,) + tuple(shape), dtype=dtype, memory_format=MEMFMT)
    if zero:
        t.zero_()
    return t.view(tuple(lead) + tuple(shape))


def as_act(x, lead, shape):
    """x (lead + shape) copied into the activation layout (no copy if it already is)."""
    rows = int(np.prod(lead))
    return x.reshape((rows,) + tuple(shape)).contiguous(memory_format=MEMFMT).view(
        tuple(lead) + tuple(shape))


class Batch:
    """Input of one mini-batch: either raw images (rate-encoded per step, §1) or given spikes."""

    def __init__(self, N, T, values=None, gain=1.0, spikes=None, generator=None):
        self.N, self.T, self.spikes, self.gen = N, T, spikes, generator
        if values is not None:  # x (N, C, H, W) after normalisation
            self.prob = values.abs() * gain
            self.sign = torch.sign(values)

    def chunk(self, t0, t1):
        """Input spikes of steps t0 … t1−1: (t1−t0, N, C, H, W) float."""
        if self.spikes is not None:
            x = self.spikes[t0:t1]
        else:
            r = torch.rand((t1 - t0,) + tuple(self.prob.shape), generator=self.gen)
            x = (self.prob > r).float().mul_(self.sign)
        return as_act(x, x.shape[:2], x.shape[2:])


def conv_fwd(L, x):
    return F.conv2d(x, L.weight, stride=L.stride, padding=L.pad)


def conv_bwd(L, g, x, need_input):
    """One call gives the input gradient (transposed convolution) and the weight gradient."""
    gx, gw, _ = torch.ops.aten.convolution_backward(
        g, x, L.weight, None, [L.stride] * 2, [L.pad] * 2, [1, 1], False, [0, 0], 1,
        [need_input, True, False])
    return gx, gw


def pool_bwd(L, g):
    """g (lead, C, h, w) → (lead, C, H, W): each of the 4 pooled inputs receives g/4; the
    rows/columns that the floor of H/2, W/2 leaves out get 0."""
    c, h, w = L.in_shape
    lead, (ho, wo) = tuple(g.shape[:-3]), tuple(g.shape[-2:])
    out = act(lead, L.in_shape, zero=(h != 2 * ho or w != 2 * wo))
    blocks = out[..., :2 * ho, :2 * wo].unflatten(-1, (wo, 2)).unflatten(-3, (ho, 2))
    blocks.copy_((g * 0.25).unsqueeze(-1).unsqueeze(-3).expand(blocks.shape))
    return out


class Engine:
    """Forward over T steps in chunks of `chunk` steps, then either backward mode (§3)."""

    def __init__(self, layers, T, chunk, mode, train):
        self.layers, self.T, self.tc, self.mode, self.train = layers, T, chunk, mode, train

    def forward(self, batch, masks):
        """Returns o (N, classes). Keeps counts γ, LF and, for exact training, the spikes."""
        N, T, tc, Ls = batch.N, self.T, self.tc, self.layers
        keep = self.train and self.mode == "exact"
        V = [act((N,), L.out_shape, zero=True) for L in Ls]  # membranes (N, C, H, W)
        self.count = [act((N,), L.out_shape, zero=True) if L.spiking else None for L in Ls]
        self.lf = [act((N,), L.out_shape, zero=True) if L.kind in ("conv", "dense") else None
                   for L in Ls]
        self.x0_count = act((N,), Ls[0].in_shape, zero=True)
        self.spk = [act((T, N), L.out_shape, torch.bool) if keep and L.spiking else None
                    for L in Ls]  # exact mode: every step's spikes, 1 byte each
        self.x0 = act((T, N), Ls[0].in_shape, torch.int8) if keep else None
        self.masks = [as_act(m, (N,), L.out_shape) if m is not None else None
                      for m, L in zip(masks, Ls)]
        for t0 in range(0, T, tc):
            t1 = min(T, t0 + tc)
            n = t1 - t0
            x = batch.chunk(t0, t1)  # (n, N, C, H, W)
            if keep:
                self.x0[t0:t1].copy_(x)
            if self.train:
                for t in range(n):
                    self.x0_count.add_(x[t])
            for li, L in enumerate(Ls):
                flat = x.view((n * N,) + L.in_shape)
                if L.kind == "conv":
                    cur = conv_fwd(L, flat)
                elif L.kind == "pool":
                    cur = F.avg_pool2d(flat, 2)
                else:
                    cur = flat.reshape(n * N, -1) @ L.weight.t()
                cur = as_act(cur, (n, N), L.out_shape)  # a view when it is laid out already
                v = V[li]
                if L.kind == "out":  # M[t] = λ(M[t−1] + I[t])
                    for t in range(n):
                        v.add_(cur[t]).mul_(LEAK)
                    break
                thr = VTH_POOL if L.kind == "pool" else VTH
                lf = self.lf[li] if self.train else None
                count = self.count[li] if self.train else None
                for t in range(n):  # float ops only: bool masks are slow in ATen's CPU kernels
                    v.add_(cur[t])  # U = V + I
                    torch.gt(v, thr, out=cur[t])  # s = [U > θ], over the spent current
                    v.addcmul_(v, cur[t], value=-1.0)  # (1 − s)·U: exactly 0 or U
                    if L.kind != "pool":
                        v.mul_(LEAK)  # V = λ(1 − s)U
                    if count is not None:  # (a sum over steps is slow on channels_last views)
                        count.add_(cur[t])  # γ
                        if lf is not None:
                            lf.mul_(LEAK).add_(cur[t])  # LF ← λ·LF + s
                y = cur  # (n, N, C, H, W) spikes 0/1
                if keep:
                    self.spk[li][t0:t1].copy_(y)  # float → bool is a fast copy
                if self.masks[li] is not None:
                    y.mul_(self.masks[li])
                x = y
        return V[-1].reshape(N, -1) / T

    def ng(self, li):
        """§3 NG = 1 + ln(λ)·LF/γ, 0 for silent neurons."""
        c, lf = self.count[li], self.lf[li]
        return torch.where(c > 0, 1.0 + math.log(LEAK) * lf / c.clamp(min=1.0),
                           torch.zeros_like(c))

    def input_count(self, li):
        """X_l = Σ_t x_in[t] of layer li (after the mask of the layer below)."""
        if li == 0:
            return self.x0_count
        X = self.count[li - 1]
        m = self.masks[li - 1]
        return X * m if m is not None else X

    def backward(self, g_out):
        """Returns the list of dL/dW per layer (None for pooling). g_out (N, classes)."""
        Ls, N = self.layers, g_out.shape[0]
        grads = [torch.zeros(L.w_shape) if L.w_shape else None for L in Ls]
        gI = g_out / self.T  # output layer: the same current gradient at every step (§3)
        out = Ls[-1]
        grads[-1] += gI.t() @ self.input_count(len(Ls) - 1).reshape(N, -1)
        g_y = as_act(gI @ out.weight, (N,), out.in_shape)  # ∂L/∂y[t], the same for every t
        factor = [None] * len(Ls)
        for li, L in enumerate(Ls[:-1]):
            if L.kind != "pool":
                f = self.ng(li) / VTH
                factor[li] = f * self.masks[li] if self.masks[li] is not None else f
        if self.mode == "aggregate":
            self._backward_aggregate(g_y, factor, grads)
        else:
            self._backward_exact(g_y, factor, grads)
        return grads

    def _backward_aggregate(self, g, factor, grads):
        Ls = self.layers
        for li in range(len(Ls) - 2, -1, -1):
            L = Ls[li]
            if L.kind == "pool":  # δ·[γp > 0]/4 to each input
                g = pool_bwd(L, g * (self.count[li] > 0))
                continue
            d = g * factor[li]
            X = self.input_count(li)
            if L.kind == "conv":
                gx, gw = conv_bwd(L, d, X, li > 0)
            else:
                d2 = d.reshape(d.shape[0], -1)
                gw = d2.t() @ X.reshape(X.shape[0], -1)
                gx = (d2 @ L.weight).reshape(X.shape) if li > 0 else None
            grads[li] += gw
            g = gx

    def _spikes(self, li, t0, t1):
        """Stored spikes of layer li, steps t0 … t1−1, as float (via uint8: a fast copy)."""
        b = self.spk[li][t0:t1]
        return act(b.shape[:2], b.shape[2:]).copy_(b.view(torch.uint8))

    def _x_in(self, li, t0, t1):
        if li == 0:
            x0 = self.x0[t0:t1]
            return act(x0.shape[:2], x0.shape[2:]).copy_(x0)
        x = self._spikes(li - 1, t0, t1)
        m = self.masks[li - 1]
        return x.mul_(m) if m is not None else x

    def _backward_exact(self, g_top, factor, grads):
        Ls, T, tc = self.layers, self.T, self.tc
        N = g_top.shape[0]
        carry = [act((N,), L.out_shape, zero=True) if L.spiking else None for L in Ls]
        for t0 in reversed(range(0, T, tc)):
            t1 = min(T, t0 + tc)
            n = t1 - t0
            g = g_top.unsqueeze(0).expand((n,) + tuple(g_top.shape))  # (n, N, C, H, W)
            for li in range(len(Ls) - 2, -1, -1):
                L = Ls[li]
                gU = self._spikes(li, t0, t1)  # s
                notS = torch.neg(gU).add_(1.0)  # 1 − s
                gU.mul_(g)  # s·g_s
                if factor[li] is not None:
                    gU.mul_(factor[li])
                c = carry[li]
                for t in range(n - 1, -1, -1):  # g_U[t] = s·g_s + (1 − s)·g_U[t+1]
                    gU[t].addcmul_(c, notS[t])
                    c = gU[t]
                carry[li] = c.clone()
                if L.kind == "pool":
                    g = pool_bwd(L, gU)
                    continue
                x = self._x_in(li, t0, t1)
                if L.kind == "conv":
                    gx, gw = conv_bwd(L, gU.view((n * N,) + L.out_shape),
                                      x.view((n * N,) + L.in_shape), li > 0)
                    if gx is not None:
                        gx = as_act(gx, (n, N), L.in_shape)
                else:
                    g2 = gU.reshape(n * N, -1)
                    gw = g2.t() @ x.reshape(n * N, -1)
                    gx = as_act(g2 @ L.weight, (n, N), L.in_shape) if li > 0 else None
                grads[li] += gw
                g = gx


def draw_masks(layers, N, gen):
    """§1 dropout: one mask per sample and neuron, scaled by 1/(1−p), held for all T steps."""
    masks = []
    for L in layers:
        if L.kind in ("conv", "dense") and L.dropout > 0:
            keep = 1.0 - L.dropout
            m = (torch.rand((N,) + L.out_shape, generator=gen) < keep).float().div_(keep)
            masks.append(m)
        else:
            masks.append(None)
    return masks


def loss_and_grad(o, labels):
    """§2: L = Σ (o − onehot)², ∂L/∂o = 2(o − y)."""
    y = F.one_hot(labels.long(), o.shape[1]).float()
    d = o - y
    return float((d * d).sum()), 2.0 * d


def sgd(layers, grads, lr, wd):
    for L, g in zip(layers, grads):
        if g is not None:
            L.weight.sub_(lr * (g + wd * L.weight))


def auto_chunk(layers, N, T, budget_mib=16):
    """Steps per chunk so that the largest layer's float currents stay within the budget.
    Measured on LeNet (batch 64) and VGG9 (batch 16): chunks of 1–4 steps were 1.3–2× faster
    and leaner than the whole window (caches); a convolution over N images is batch enough."""
    biggest = max(L.n_out for L in layers) * N * 4
    tmax = max(1, int(budget_mib * 2**20 // biggest))
    chunks = -(-T // tmax)
    return -(-T // chunks)


# ----------------------------------------------------------------------------- data

def mnist_dir(given):
    if given:
        return given
    if os.environ.get("SBP_DATA_DIR"):
        return os.path.join(os.environ["SBP_DATA_DIR"], "mnist")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "spikebp", "mnist")


def load_mnist(n, given):
    """The first n training images from the raw IDX files (gzipped ones are read whole)."""
    d = mnist_dir(given)
    img = os.path.join(d, "train-images-idx3-ubyte")
    lab = os.path.join(d, "train-labels-idx1-ubyte")
    if os.path.exists(img) and os.path.exists(lab):
        with open(img, "rb") as f:
            hdr = np.frombuffer(f.read(16), ">u4")
            rows, cols = int(hdr[2]), int(hdr[3])
            n = min(n, int(hdr[1]))
            pix = np.frombuffer(f.read(n * rows * cols), np.uint8).reshape(n, 1, rows, cols)
        with open(lab, "rb") as f:
            f.read(8)
            labels = np.frombuffer(f.read(n), np.uint8)
    else:
        with gzip.open(img + ".gz") as f:
            raw = f.read()
        hdr = np.frombuffer(raw[:16], ">u4")
        rows, cols = int(hdr[2]), int(hdr[3])
        n = min(n, int(hdr[1]))
        pix = np.frombuffer(raw, np.uint8, n * rows * cols, 16).reshape(n, 1, rows, cols)
        with gzip.open(lab + ".gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, n, 8)
    return torch.from_numpy(pix.copy()), torch.from_numpy(labels.copy())


def load_cifar10(n, given):
    """The whole CIFAR-10 binary file (records: label byte, 3×32×32 planes), as spikebp's
    loader reads it; the first n images are used."""
    path = os.path.join(given or CIFAR_DIR, "data_batch_1.bin")
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise SystemExit(f"torch_snn: {path}: not a CIFAR-10 binary file")
    rec = raw.reshape(-1, 3073)[:n]
    return (torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).copy()),
            torch.from_numpy(rec[:, 0].copy()))


def synthetic(n, shape, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n,) + shape, generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8))


def encode_values(pix, cifar):
    """x (N, C, H, W) that is rate-encoded, and the gain (§1)."""
    x = pix.float() / 255.0
    if cifar:
        m = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
        s = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
        return (x - m) / s, 1.0
    return x, 0.5


def augment(pix, gen):
    """§1 CIFAR-10 training: random crop 32 of the 4-pixel zero-padded image, random flip."""
    N, C, H, W = pix.shape
    padded = F.pad(pix, (4, 4, 4, 4))
    off = torch.randint(0, 9, (N, 2), generator=gen)
    flip = torch.rand(N, generator=gen) < 0.5
    out = torch.empty_like(pix)
    for i in range(N):
        dy, dx = int(off[i, 0]), int(off[i, 1])
        img = padded[i, :, dy:dy + H, dx:dx + W]
        out[i] = img.flip(-1) if flip[i] else img
    return out


# ----------------------------------------------------------------------------- benchmark

def bench(a):
    torch.set_num_threads(a.threads)
    base = peak_rss_mib()
    text, in_shape, layers = make_net(a.net, a.seed)
    cifar = in_shape[0] == 3
    train = a.mode == "train"
    n = a.batch * (a.warmup + a.iters if train else 1)
    if a.data == "mnist":
        pix, labels = load_mnist(n, a.data_dir)
    elif a.data == "cifar10":
        pix, labels = load_cifar10(n, a.data_dir)
    elif a.data in ("synthetic-cifar", "synthetic-mnist"):
        pix, labels = synthetic(n, in_shape, a.seed)
    else:
        raise SystemExit(f"torch_snn: unknown data set '{a.data}'")
    if tuple(pix.shape[1:]) != in_shape:
        raise SystemExit(f"torch_snn: data {tuple(pix.shape[1:])} do not fit the net {in_shape}")
    n = pix.shape[0]
    tc = a.chunk or auto_chunk(layers, a.batch, a.T)
    eng = Engine(layers, a.T, tc, a.backward, train)
    gen = torch.Generator().manual_seed(a.seed + 1)
    lr = 0.0033 if cifar else 0.0085  # §4
    ips, loss_sum, timed = [], 0.0, 0.0
    order = torch.randperm(n, generator=gen)
    for it in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        if train:
            first = (it * a.batch) % n
            idx = order[first:first + a.batch]
            p = pix[idx]
            if cifar:
                p = augment(p, gen)
            masks = draw_masks(layers, len(idx), gen)
        else:
            idx = torch.arange(min(a.batch, n))
            p, masks = pix[idx], [None] * len(layers)
        x, gain = encode_values(p, cifar)
        batch = Batch(len(idx), a.T, values=x, gain=gain, generator=gen)
        o = eng.forward(batch, masks)
        loss, g = loss_and_grad(o, labels[idx])
        if train:
            sgd(layers, eng.backward(g), lr, 5e-4)
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            ips.append(len(idx) / dt)
            timed += dt
            loss_sum += loss / len(idx)
    peak = peak_rss_mib()
    med = float(np.median(ips))
    macs = dense_macs(layers)
    # dense-equivalent flops per step: forward, plus the two backward products at every step
    # (exact) or once per window (aggregate, §3); the same convention as sbp_bench
    factor = (3.0 if a.backward == "exact" else 1.0 + 2.0 / a.T) if train else 1.0
    res = {
        "tool": "pytorch", "torch": torch.__version__, "net": a.net, "notation": text,
        "data": a.data, "T": a.T, "batch": a.batch,
        "backward": a.backward if train else "none", "mode": a.mode, "warmup": a.warmup,
        "iters": a.iters, "threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "chunk": tc,
        "layout": a.layout,
        "params": sum(int(np.prod(L.w_shape)) for L in layers if L.w_shape),
        "images_per_s": round(med, 4), "images_per_s_min": round(min(ips), 4),
        "images_per_s_max": round(max(ips), 4), "timed_s": round(timed, 3),
        "peak_rss_mib": round(peak, 1), "base_rss_mib": round(base, 1),
        "dense_macs_per_step": macs, "flop_factor": round(factor, 4),
        "gflops": round(med * macs * a.T * 2 * factor * 1e-9, 3),
        "mean_loss": round(loss_sum / a.iters, 6),
    }
    if a.json:
        print(json.dumps(res, separators=(",", ":")))
    else:
        print(f"pytorch {a.net} {a.data} T={a.T} batch={a.batch} {a.mode} "
              f"{res['backward']}: {med:.2f} images/s (median of {a.iters}), "
              f"peak RSS {peak:.1f} MiB, {res['gflops']:.2f} dense-equivalent GFLOP/s, "
              f"{res['threads']} threads, chunk {tc}")


# ----------------------------------------------------------------------------- self-check

def read_golden(path):
    """tests/golden format: '#' comments, 'tensor NAME NDIM D0 …' then row-major values."""
    tensors, layer_line, words = {}, None, []
    with open(path) as f:
        for line in f:
            if line.startswith("# layers:"):
                layer_line = line[len("# layers:"):]
            elif not line.startswith("#"):
                words.extend(line.split())
    i = 0
    while i < len(words):
        assert words[i] == "tensor", words[i]
        name, nd = words[i + 1], int(words[i + 2])
        dims = [int(v) for v in words[i + 3:i + 3 + nd]]
        count = int(np.prod(dims)) if dims else 1
        start = i + 3 + nd
        tensors[name] = np.array([float(v) for v in words[start:start + count]]).reshape(dims)
        i = start + count
    specs = [ast.literal_eval(s.strip()) for s in layer_line.split("|")]
    return specs, tensors


def golden_net(specs, tensors):
    T, N = int(tensors["config"][0]), int(tensors["config"][1])
    shape = tuple(tensors["input"].shape[2:])
    layers = []
    for li, s in enumerate(specs):
        if s[0] == "conv":
            L = Layer("conv", shape, s[1], s[2], s[3], s[4])
        elif s[0] == "pool":
            L = Layer("pool", shape)
        else:
            L = Layer("dense" if s[0] == "dense" else "out", shape, s[1])
        if L.w_shape:
            L.set_weight(torch.tensor(tensors[f"weight{li}"], dtype=torch.float32))
        layers.append(L)
        shape = L.out_shape
    masks = [torch.tensor(tensors[f"mask{li}"], dtype=torch.float32).reshape(
        (N,) + L.out_shape) if f"mask{li}" in tensors else None for li, L in enumerate(layers)]
    spikes = torch.tensor(tensors["input"], dtype=torch.float32).transpose(0, 1).contiguous()
    return T, N, layers, masks, spikes


def rel_err(a, b):
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.size != b.size:
        return float("inf")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def check(tol=1e-4):
    """Runs the golden networks on their fixed spikes, masks and weights; compares the output,
    loss, spike counts, NG and every weight gradient in both backward modes. Exit 1 on failure."""
    global MEMFMT
    ok = True
    for (name, layout) in [(n, l) for n in ("small", "lenetlike") for l in FORMAT]:
        MEMFMT = FORMAT[layout]
        path = os.path.join(HERE, "..", "tests", "golden", f"{name}.txt")
        specs, ts = read_golden(path)
        T, N, layers, masks, spikes = golden_net(specs, ts)
        labels = torch.tensor(ts["label"]).long()
        for mode in ("exact", "aggregate"):
            for chunk in (T, 5):  # whole window and several chunks (carries across chunks)
                eng = Engine(layers, T, chunk, mode, True)
                o = eng.forward(Batch(N, T, spikes=spikes), masks)
                loss, g = loss_and_grad(o, labels)
                grads = eng.backward(g)
                errs = {"out": rel_err(o, ts["out"]), "loss": rel_err([loss], ts["loss"])}
                for li, L in enumerate(layers):
                    if f"count{li}" in ts:
                        errs[f"count{li}"] = rel_err(eng.count[li], ts[f"count{li}"])
                    if f"ng{li}" in ts:
                        errs[f"ng{li}"] = rel_err(eng.ng(li), ts[f"ng{li}"])
                    if grads[li] is not None:
                        errs[f"grad{li}"] = rel_err(grads[li], ts[f"grad_{mode}{li}"])
                worst = max(errs, key=errs.get)
                good = errs[worst] <= tol
                ok &= good
                print(f"check {name:9s} {layout} {mode:9s} chunk {chunk:2d}: {len(errs)} tensors, "
                      f"max relative error {errs[worst]:.2e} ({worst}) "
                      f"{'ok' if good else 'FAIL'}")
    print("torch_snn check: " + ("all gradients match the golden fixtures" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--net", default="lenet", help="lenet, vgg9 or the paper's notation")
    p.add_argument("--data", default="mnist",
                   help="mnist, synthetic-mnist, cifar10 (real images), synthetic-cifar")
    p.add_argument("--data-dir", default=None)
    p.add_argument("-T", "--timesteps", dest="T", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--backward", choices=("exact", "aggregate"), default="exact")
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chunk", type=int, default=0, help="time steps per chunk, 0 = auto")
    p.add_argument("--layout", choices=tuple(FORMAT), default="nhwc",
                   help="activation memory format (nhwc = channels_last, faster with oneDNN)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true",
                   help="compare gradients with tests/golden/{small,lenetlike}.txt and exit")
    a = p.parse_args()
    global MEMFMT
    MEMFMT = FORMAT[a.layout]
    with torch.inference_mode():
        if a.check:
            torch.set_num_threads(a.threads)
            return check()
        if a.T < 1 or a.batch < 1 or a.iters < 1 or a.warmup < 0:
            p.error("-T, --batch and --iters must be positive, --warmup not negative")
        bench(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
