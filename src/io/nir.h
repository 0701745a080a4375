/*
 * nir.h — the NIR (Neuromorphic Intermediate Representation) mapping of spikebp's neurons,
 * shared by the writer (nir_write.c), the reader (nir_read.c) and the tests that check it.
 * The public entry points (sbp_net_export_nir, sbp_net_import_nir, sbp_nir_supported) are in
 * spikebp.h; the file layout and the mapping's limits are documented in docs/nir.md.
 *
 * spikebp steps in discrete time (one step = dt); NIR's neurons are continuous-time ODEs,
 *     LIF / LI:  tau·dv/dt = (v_leak − v) + r·I        IF:  dv/dt = r·I,
 * which a simulator integrates with forward Euler at step dt. spikebp's constants map to NIR's
 * as the Euler step that reproduces them exactly:
 *     LIF (U[t] = λ·V[t−1] + I[t]):      tau = dt/(1−λ), r = tau/dt, v_leak = 0, v_reset = 0
 *     IF  (Up[t] = Vp[t−1] + I[t]):      r = 1/dt, v_reset = 0
 *     LI  (M[t] = λ·(M[t−1] + I[t])):    tau = dt/(1−λ), r = λ·tau/dt, v_leak = 0
 * and the reader inverts them (λ = 1 − dt/tau). Without leak (λ = 1, tau infinite) the hidden
 * neurons are NIR's IF and the output NIR's I (dv/dt = r·I), both with r = 1/dt.
 */
#ifndef SBP_IO_NIR_H
#define SBP_IO_NIR_H

/* The step written into the graph's metadata (spikebp_dt) and assumed when a file has none:
 * 0.1 ms, the step snnTorch's NIR import and export assume, so its Leaky neurons read back
 * with the same β = λ. */
#define SBP_NIR_DT 1e-4

/* The NIR release whose reference reader and writer (nir/serialization.py and the classes under nir/ir) the
 * layout follows; written as the file's /version. */
#define SBP_NIR_VERSION "1.0.7"

#endif
