#!/usr/bin/env python3
"""mpi_model.py — the scaling model of docs/mpi.md: predicted parallel efficiency of
data-parallel training (one blocking ring allreduce of the gradient arena per batch, no overlap,
as spikebp does it) for each built-in network at 8, 64 and 256 ranks on 10 and 100 Gb/s networks.

  efficiency E = t_c / (t_c + t_ar)
  t_c  = b / r                       compute of one rank's b images (b = global batch / R)
  t_ar = 2 (R-1)/R * S / BW + 2 (R-1) * alpha      ring allreduce of S = 4 bytes x parameters

r: images/s of one rank. Measured on this machine (bench/results-2026-11-28.md, build/sbp_bench,
2 threads, exact backward, T = 100): LeNet 248.71, VGG9 5.59; VGG7, ResNet11 and ResNet9 are
estimated from VGG9 by their dense MACs per step (sbp_bench's count), spike densities assumed
equal. alpha: per-message latency, 25 us for TCP over 10 Gb/s Ethernet, 2 us for RDMA
(InfiniBand/RoCE) at 100 Gb/s. Bandwidth: the line rate, all of it for the allreduce.
Usage: mpi_model.py (prints the Markdown tables of docs/mpi.md)."""

NETS = [  # name, parameters, dense MACs per step, recipe batch, measured img/s (None: estimate)
    ("lenet", 517_500, 5_784_000, 64, 248.71),
    ("vgg9", 5_938_880, 194_717_696, 16, 5.59),
    ("vgg7", 4_759_232, 119_220_224, 16, None),
    ("resnet11", 17_936_064, 607_856_640, 16, None),
    ("resnet9", 6_532_800, 227_223_552, 16, None),
]
VGG9_RATE, VGG9_MACS = 5.59, 194_717_696
LINKS = [("10 Gb/s TCP", 10e9 / 8, 25e-6), ("100 Gb/s RDMA", 100e9 / 8, 2e-6)]
RANKS = [8, 64, 256]


def rate(net):
    name, _, macs, _, r = net
    return r if r is not None else VGG9_RATE * VGG9_MACS / macs


def allreduce(S, R, bw, alpha):
    return 2 * (R - 1) / R * S / bw + 2 * (R - 1) * alpha


def efficiency(net, R, b, bw, alpha, speedup=1.0):
    tc = b / (rate(net) * speedup)
    return tc / (tc + allreduce(4 * net[1], R, bw, alpha))


def main():
    print("| network | parameters | allreduce MB / batch | img/s per rank | recipe batch | "
          + " | ".join(f"E at {R} ({l})" for l, _, _ in LINKS for R in RANKS) + " |")
    print("|---|--:|--:|--:|--:|" + "--:|" * (len(LINKS) * len(RANKS)))
    for net in NETS:
        cells = []
        for _, bw, alpha in LINKS:
            for R in RANKS:
                if net[3] % R == 0:
                    cells.append(f"{efficiency(net, R, net[3] // R, bw, alpha):.2f}")
                else:
                    cells.append("—")
        est = "" if net[4] is not None else " (est.)"
        print(f"| {net[0]} | {net[1]:,} | {4 * net[1] / 1e6:.1f} | {rate(net):.2f}{est} | {net[3]} | "
              + " | ".join(cells) + " |")
    for k, who in ((1, "this 2-core machine"), (16, "a 32-core socket, taken as 16x faster")):
        print()
        print(f"Fixed 16 images per rank (global batch 16·R: 128, 1,024, 4,096 — a different "
              f"recipe), a rank = {who}:")
        print()
        print("| network | " + " | ".join(f"E at {R} ({l})" for l, _, _ in LINKS for R in RANKS)
              + " |")
        print("|---|" + "--:|" * (len(LINKS) * len(RANKS)))
        for net in NETS:
            cells = [f"{efficiency(net, R, 16, bw, alpha, k):.2f}"
                     for _, bw, alpha in LINKS for R in RANKS]
            print(f"| {net[0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
