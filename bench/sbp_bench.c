/*
 * sbp_bench.c — speed and memory of one training or inference configuration of spikebp.
 *
 *   sbp_bench --net lenet --data mnist -T 100 --batch 64 --backward exact --mode train \
 *             --warmup 2 --iters 10 --json
 *   sbp_bench --sgemm-peak --json
 *
 * Runs W warm-up batches, then K timed batches, through the public entry points only:
 * sbp_trainer_step (forward over T steps, loss, backward, SGD update) or sbp_eval on B images.
 * Prints images/s (median over the K batches of B / batch time), the peak resident memory of
 * this process (getrusage ru_maxrss, so run one configuration per process), and
 * dense-equivalent GFLOP/s:
 *
 *     GFLOP/s = images/s × (dense MACs per image per step) × T × 2 × factor
 *
 * where the dense MACs are Σ over weighted layers of n_out × fan_in (SPEC §8's count: LeNet
 * 5,784,000, VGG9 194,717,696) and factor = 1 for inference, 3 for exact training (forward
 * plus the two backward products, weight and input gradient, at every step) and 1 + 2/T for
 * aggregate training, whose two backward products run once per window, not per step (§3).
 * spikebp's sparse kernels do far fewer real operations; the figure says how fast the
 * dense-equivalent work is done, to set against the sgemm peak that --sgemm-peak measures
 * (cblas_sgemm on square float matrices, all OpenBLAS threads, best of 10 runs).
 *
 * Backend: --backend cpu (default), reference or cuda (the same trainer and evaluation, the
 * backend's table underneath). With cuda the JSON line also gives gpu_mib: device memory in use
 * after the timed batches above what the bare CUDA context held before the network was built
 * (cudaMemGetInfo through the cuda plugin; the engines' buffers are allocated once, so this is their peak plus cuBLAS's
 * workspace), and peak RSS stays the host's.
 *
 * Data: the first B·min(W+K, 8) MNIST training images read straight from the raw IDX file (so
 * the data set adds only what is used to the peak memory; training cycles through them), the
 * real CIFAR-10 subset through sbp_dataset_load_cifar10 (with the §1 crop/flip augmentation
 * when training), or synthetic 32×32×3 images of uniform random pixels with the CIFAR-10
 * encoding of §1. This file is a bench tool: it is not part of the library and is not tested
 * by ctest.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#ifdef SBP_HAVE_CUDA
#include "backend/cuda_loader.h" /* gpu_mib only: the plugin's device memory query */
#endif

#include "core/blas.h"
#include "data/dataset.h"
#include "net/net.h"
#include "spikebp.h"

#define VGG9_NOTATION "32x32x3-64C3-64C3-P2-128C3-128C3-P2-256C3-256C3-256C3-P2-1024FC-10"
/* The repository's CIFAR-10 slice, relative to the repository root (where bench/run runs us;
 * bench/run also passes --data-dir explicitly). */
#define CIFAR_DEFAULT_DIR "tests/data/cifar-10-slice"

static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f}; /* §1 */
static const float cifar_std[3] = {0.557f, 0.549f, 0.5534f};

typedef struct bench_opts {
    const char *net;
    const char *data;
    const char *data_dir; /* MNIST folder or CIFAR-10 folder; NULL: the defaults */
    const char *init;     /* a model file whose weights to start from; NULL: the initialisation */
    int T, batch, warmup, iters, threads, train, json;
    int reuse; /* --mode evaluator: one sbp_evaluator for every batch instead of sbp_eval */
    sbp_backward backward;
    sbp_backend_id backend;
    unsigned long long seed;
} bench_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int fail(const char *what, const sbp_error *err)
{
    fprintf(stderr, "sbp_bench: %s: %s\n", what, err->msg[0] ? err->msg : "failed");
    return 1;
}

/* ------------------------------------------------------------------------------ data */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Synthetic images of uniform random pixels and labels; CIFAR-10 encoding when c == 3. */
static sbp_status load_synthetic(sbp_dataset **out, size_t n, int c, int h, int w,
                                 uint64_t seed, sbp_error *err)
{
    sbp_status st = sbp_dataset_alloc(out, n, c, h, w, 10, err);
    if (st != SBP_OK)
        return st;
    sbp_dataset *ds = *out;
    uint64_t s = seed;
    const size_t bytes = n * (size_t)c * h * w;
    for (size_t i = 0; i < bytes; i++)
        ds->pixels[i] = (uint8_t)(splitmix64(&s) >> 56);
    for (size_t i = 0; i < n; i++)
        ds->labels[i] = (uint8_t)(splitmix64(&s) % 10u);
    if (c == 3)
        return sbp_dataset_set_encoding(ds, cifar_mean, cifar_std, 1.0f, err);
    const float mean0 = 0.0f, std1 = 1.0f;
    return sbp_dataset_set_encoding(ds, &mean0, &std1, 0.5f, err); /* MNIST's (§1) */
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The first n images of a raw (not gzipped) IDX pair; 0 if the files are not raw IDX. */
static int read_idx_prefix(sbp_dataset **out, const char *img_path, const char *lab_path,
                           size_t n, sbp_error *err)
{
    FILE *fi = fopen(img_path, "rb"), *fl = fopen(lab_path, "rb");
    unsigned char hi[16], hl[8];
    int ok = 0;
    if (!fi || !fl || fread(hi, 1, 16, fi) != 16 || fread(hl, 1, 8, fl) != 8 ||
        be32(hi) != 0x803 || be32(hl) != 0x801)
        goto done;
    size_t count = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12);
    if (be32(hl + 4) < count)
        count = be32(hl + 4);
    if (n > count)
        n = count;
    if (n == 0 || rows == 0 || rows > 4096 || cols == 0 || cols > 4096)
        goto done;
    if (sbp_dataset_alloc(out, n, 1, (int)rows, (int)cols, 10, err) != SBP_OK)
        goto done;
    if (fread((*out)->pixels, rows * cols, n, fi) != n || fread((*out)->labels, 1, n, fl) != n) {
        sbp_dataset_free(*out);
        *out = NULL;
        goto done;
    }
    const float mean0 = 0.0f, std1 = 1.0f;
    ok = sbp_dataset_set_encoding(*out, &mean0, &std1, 0.5f, err) == SBP_OK; /* §1 MNIST */
done:
    if (fi)
        fclose(fi);
    if (fl)
        fclose(fl);
    return ok;
}

static void mnist_dir(char *buf, size_t size, const char *given)
{
    const char *d = getenv("SBP_DATA_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (given)
        snprintf(buf, size, "%s", given);
    else if (d && *d)
        snprintf(buf, size, "%s/mnist", d);
    else if (xdg && *xdg)
        snprintf(buf, size, "%s/spikebp/mnist", xdg);
    else
        snprintf(buf, size, "%s/.cache/spikebp/mnist", home ? home : ".");
}

static sbp_status load_mnist(sbp_dataset **out, sbp_dataset **owner, size_t n,
                             const char *given, sbp_error *err)
{
    char dir[1024], img[1200], lab[1200];
    mnist_dir(dir, sizeof dir, given);
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte", dir);
    if (read_idx_prefix(out, img, lab, n, err))
        return SBP_OK;
    /* Gzipped files: the library's loader reads the whole set (counted in the peak). */
    char imgz[1300], labz[1300];
    snprintf(imgz, sizeof imgz, "%s.gz", img);
    snprintf(labz, sizeof labz, "%s.gz", lab);
    struct stat sb;
    sbp_status st = sbp_dataset_load_idx(owner, stat(img, &sb) == 0 ? img : imgz,
                                         stat(lab, &sb) == 0 ? lab : labz, err);
    if (st != SBP_OK)
        return st;
    size_t have = sbp_dataset_count(*owner);
    return sbp_dataset_slice(out, *owner, 0, n < have ? n : have, err);
}

/* The CIFAR-10 training file (official binary layout) through the library's loader, which
 * reads the whole file (0.6 MiB for the 200-image slice in tests/data; counted in the peak); the first n
 * images are used. */
static sbp_status load_cifar10(sbp_dataset **out, sbp_dataset **owner, size_t n,
                               const char *given, sbp_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/data_batch_1.bin", given ? given : CIFAR_DEFAULT_DIR);
    sbp_status st = sbp_dataset_load_cifar10(owner, path, err);
    if (st != SBP_OK)
        return st;
    size_t have = sbp_dataset_count(*owner);
    return sbp_dataset_slice(out, *owner, 0, n < have ? n : have, err);
}

/* Device memory in use (MiB) when the backend is cuda, else 0. */
static double gpu_used_mib(sbp_backend_id backend)
{
#ifdef SBP_HAVE_CUDA
    size_t used_b = 0, total_b = 0;
    const sbp_cuda_plugin *plugin = backend == SBP_BACKEND_CUDA ? sbp_cuda_plugin_get(NULL) : NULL;
    if (plugin && plugin->memory(&used_b, &total_b))
        return (double)used_b / (1024.0 * 1024.0);
#endif
    return 0.0;
}

/* ------------------------------------------------------------------------------ network */

static sbp_status net_spec(const char *name, sbp_net_spec *spec, sbp_error *err)
{
    if (!strcmp(name, "vgg9")) { /* §4/§5 CIFAR-10 VGG9: dropout 0.2, init gain 2 */
        sbp_status st = sbp_net_spec_parse(spec, VGG9_NOTATION, err);
        if (st != SBP_OK)
            return st;
        spec->init_gain = 2.0f;
        for (int l = 0; l < spec->n_layers; l++)
            if (spec->layers[l].kind == SBP_LAYER_CONV || spec->layers[l].kind == SBP_LAYER_DENSE)
                spec->layers[l].dropout = 0.2f;
        return SBP_OK;
    }
    if (strchr(name, '-'))
        return sbp_net_spec_parse(spec, name, err);
    return sbp_net_spec_builtin(spec, name, err);
}

/* Σ over weighted layers (and 1×1 shortcuts) of n_out × fan_in: one dense step, in MACs. */
static double dense_macs(const sbp_net *net)
{
    double macs = 0.0;
    for (int i = 0; i < net->n_layers; i++) {
        const sbp_layer *L = &net->layers[i];
        if (L->w_count > 0)
            macs += (double)L->n_out * (double)L->fan_in;
        if (L->sc && L->sc->w_count > 0)
            macs += (double)L->sc->n_out * (double)L->sc->fan_in;
    }
    return macs;
}

/* ------------------------------------------------------------------------------ sgemm */

static int sgemm_peak(int n, int json)
{
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    if (!a || !b || !c) {
        fprintf(stderr, "sbp_bench: sgemm: out of memory for %d×%d matrices\n", n, n);
        return 1;
    }
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(splitmix64(&s) >> 40) / 16777216.0f - 0.5f;
        b[i] = (float)(splitmix64(&s) >> 40) / 16777216.0f - 0.5f;
        c[i] = 0.0f;
    }
    double best = 1e30;
    for (int r = 0; r < 11; r++) { /* the first run warms the threads and caches up */
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        double t = now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    const double gflops = 2.0 * n * (double)n * n / best * 1e-9;
    const int threads = openblas_get_num_threads();
    char cpu[160];
    sbp_describe_cpu(cpu, sizeof cpu);
    if (json)
        printf("{\"tool\":\"sgemm\",\"n\":%d,\"threads\":%d,\"seconds\":%.6f,\"gflops\":%.2f,"
               "\"cpu_features\":\"%s\",\"blas_kernels\":\"%s\"}\n",
               n, threads, best, gflops, cpu, sbp_blas_kernels());
    else
        printf("sgemm %d×%d×%d, %d OpenBLAS threads (%s kernels): %.2f GFLOP/s (best of 10, "
               "%.4f s)\nCPU: %s\n",
               n, n, n, threads, sbp_blas_kernels(), gflops, best, cpu);
    free(a);
    free(b);
    free(c);
    return 0;
}

/* ------------------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sbp_bench [options]        one configuration, one JSON line\n"
            "       sbp_bench --sgemm-peak [--size N] [--json]\n"
            "\n"
            "configuration:\n"
            "  --net NAME|NOTATION   lenet, vgg9 (CIFAR-10, dropout 0.2) or the paper's notation "
            "[lenet]\n"
            "  --data NAME           mnist, synthetic-mnist, cifar10 (real images), "
            "synthetic-cifar [mnist]\n"
            "  --data-dir DIR        folder of the MNIST IDX or CIFAR-10 binary files\n"
            "                        [cifar10: " CIFAR_DEFAULT_DIR "]\n"
            "  -T, --timesteps N     time steps per sample [100]\n"
            "  --batch B             images per batch [64]\n"
            "  --backward MODE       exact or aggregate (training only) [exact]\n"
            "  --mode MODE           train (sbp_trainer_step), infer (sbp_eval: its engines\n"
            "                        built per batch) or evaluator (one sbp_evaluator made\n"
            "                        before the batches, sbp_evaluator_eval per batch) [train]\n"
            "  --backend NAME        cpu, reference or cuda [cpu]\n"
            "  --init MODEL          start from the weights of this model file (as `spikebp\n"
            "                        train --save` writes it; the same network): a trained\n"
            "                        network spikes more than one at its initialisation, so\n"
            "                        kernels compare differently [--seed's weights]\n"
            "timing:\n"
            "  --warmup W            untimed batches first [2]\n"
            "  --iters K             timed batches; images/s is their median [10]\n"
            "  --threads N           OpenMP threads, 0 = default [0]\n"
            "  --seed S              weights, data order, encoding [1]\n"
            "output:\n"
            "  --json                one JSON line on stdout (else a line for people)\n");
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "sbp_bench: %s: '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int main(int argc, char **argv)
{
    bench_opts o = {.net = "lenet", .data = "mnist", .T = 100, .batch = 64, .warmup = 2,
                    .iters = 10, .train = 1, .backward = SBP_BACKWARD_EXACT, .seed = 1,
                    .backend = SBP_BACKEND_CPU};
    int sgemm = 0, sgemm_n = 2048;
    static const struct option longs[] = {
        {"net", required_argument, 0, 'n'},      {"data", required_argument, 0, 'd'},
        {"data-dir", required_argument, 0, 'D'}, {"timesteps", required_argument, 0, 'T'},
        {"batch", required_argument, 0, 'b'},    {"backward", required_argument, 0, 'B'},
        {"mode", required_argument, 0, 'm'},     {"warmup", required_argument, 0, 'w'},
        {"iters", required_argument, 0, 'k'},    {"threads", required_argument, 0, 't'},
        {"seed", required_argument, 0, 's'},     {"json", no_argument, 0, 'j'},
        {"sgemm-peak", no_argument, 0, 'P'},     {"size", required_argument, 0, 'S'},
        {"backend", required_argument, 0, 'E'},  {"init", required_argument, 0, 'I'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c, seed = 1;
    sbp_blas_pick_kernels(argv); /* OPENBLAS_CORETYPE where OpenBLAS does not know the CPU */
    while ((c = getopt_long(argc, argv, "T:h", longs, NULL)) != -1) {
        switch (c) {
        case 'n': o.net = optarg; break;
        case 'd': o.data = optarg; break;
        case 'D': o.data_dir = optarg; break;
        case 'I': o.init = optarg; break;
        case 'T':
            if (!parse_int("--timesteps", optarg, 1, 100000, &o.T))
                return 2;
            break;
        case 'b':
            if (!parse_int("--batch", optarg, 1, 1 << 20, &o.batch))
                return 2;
            break;
        case 'w':
            if (!parse_int("--warmup", optarg, 0, 1 << 20, &o.warmup))
                return 2;
            break;
        case 'k':
            if (!parse_int("--iters", optarg, 1, 1 << 20, &o.iters))
                return 2;
            break;
        case 't':
            if (!parse_int("--threads", optarg, 0, 4096, &o.threads))
                return 2;
            break;
        case 's':
            if (!parse_int("--seed", optarg, 0, 1 << 30, &seed))
                return 2;
            o.seed = (unsigned long long)seed;
            break;
        case 'S':
            if (!parse_int("--size", optarg, 16, 16384, &sgemm_n))
                return 2;
            break;
        case 'B':
            if (!strcmp(optarg, "exact"))
                o.backward = SBP_BACKWARD_EXACT;
            else if (!strcmp(optarg, "aggregate"))
                o.backward = SBP_BACKWARD_AGGREGATE;
            else {
                fprintf(stderr, "sbp_bench: --backward: '%s' is not exact or aggregate\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (!strcmp(optarg, "train") || !strcmp(optarg, "infer") ||
                !strcmp(optarg, "evaluator")) {
                o.train = !strcmp(optarg, "train");
                o.reuse = !strcmp(optarg, "evaluator");
            } else {
                fprintf(stderr, "sbp_bench: --mode: '%s' is not train, infer or evaluator\n",
                        optarg);
                return 2;
            }
            break;
        case 'E': {
            sbp_error e = {0};
            if (sbp_backend_parse(&o.backend, optarg, &e) != SBP_OK) {
                fprintf(stderr, "sbp_bench: --backend: %s\n", e.msg);
                return 2;
            }
            break;
        }
        case 'j': o.json = 1; break;
        case 'P': sgemm = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sbp_bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (sgemm)
        return sgemm_peak(sgemm_n, o.json);

    sbp_error err = {0};
    if (sbp_backend_check(o.backend, &err) != SBP_OK) /* also starts the CUDA context */
        return fail("backend", &err);
    const double gpu_base_mib = gpu_used_mib(o.backend);
    const double base_mib = peak_rss_mib();
    sbp_net_spec spec;
    if (net_spec(o.net, &spec, &err) != SBP_OK)
        return fail("network", &err);

    /* Training cycles through B·min(W+K, 8) images (each pass another epoch, so other
     * spikes), inference evaluates the same B every time: the images held do not grow with
     * the number of batches timed, and peak memory stays comparable between runs of different
     * lengths (30 batches of all-new MNIST images were 1.2 MiB more than 7). */
    const int passes = o.warmup + o.iters < 8 ? o.warmup + o.iters : 8;
    const size_t n = (size_t)o.batch * (size_t)(o.train ? passes : 1);
    sbp_dataset *ds = NULL, *owner = NULL;
    sbp_status st;
    if (!strcmp(o.data, "mnist"))
        st = load_mnist(&ds, &owner, n, o.data_dir, &err);
    else if (!strcmp(o.data, "cifar10"))
        st = load_cifar10(&ds, &owner, n, o.data_dir, &err);
    else if (!strcmp(o.data, "synthetic-cifar"))
        st = load_synthetic(&ds, n, 3, 32, 32, o.seed, &err);
    else if (!strcmp(o.data, "synthetic-mnist"))
        st = load_synthetic(&ds, n, 1, 28, 28, o.seed, &err);
    else {
        fprintf(stderr, "sbp_bench: --data: unknown data set '%s'\n", o.data);
        return 2;
    }
    if (st != SBP_OK)
        return fail(o.data, &err);
    int dc, dh, dw;
    sbp_dataset_shape(owner ? owner : ds, &dc, &dh, &dw);
    if (o.train && dc == 3 && sbp_dataset_set_augment(ds, 4, 1, &err) != SBP_OK)
        return fail("augmentation", &err); /* §1 CIFAR-10 training, as the reference trains */
    const double data_mib =
        (double)sbp_dataset_count(owner ? owner : ds) * dc * dh * dw / (1024.0 * 1024.0);

    sbp_net *net = NULL;
    if (sbp_net_create(&net, &spec, o.seed, &err) != SBP_OK)
        return fail("network", &err);
    if (o.init) {
        /* a model file (zlib only), not an .npz: libzip would bring OpenSSL's libcrypto into
         * the process, 1.5 MiB more of peak memory in every row */
        sbp_net *from = NULL;
        if (sbp_net_load(&from, o.init, &err) != SBP_OK)
            return fail("--init", &err);
        char a[512] = "", b[512] = "";
        sbp_net_spec_format(&spec, a, sizeof a, NULL);
        sbp_net_spec_format(&from->spec, b, sizeof b, NULL);
        const int same = !strcmp(a, b) && from->n_params == net->n_params;
        if (same)
            memcpy(net->params, from->params, net->n_params * sizeof(float));
        sbp_net_free(from);
        if (!same) {
            fprintf(stderr, "sbp_bench: --init: %s holds %s, --net gives %s\n", o.init, b, a);
            return 1;
        }
    }
    const double macs = dense_macs(net);
    const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();

    const int total = o.warmup + o.iters;
    double *ips = malloc((size_t)o.iters * sizeof *ips);
    if (!ips)
        return 1;
    double loss_sum = 0.0, timed_s = 0.0;
    sbp_trainer *tr = NULL;
    if (o.train) {
        sbp_train_opts to;
        sbp_train_opts_default(&to);
        to.timesteps = o.T;
        to.batch = o.batch;
        to.epochs = 1000000; /* never "done": the timed batches wrap around the data */
        to.backward = o.backward;
        to.threads = o.threads;
        to.seed = o.seed;
        to.backend = o.backend;
        if (!strcmp(o.data, "cifar10") || !strcmp(o.data, "synthetic-cifar"))
            to.lr = 0.0033f; /* §4 CIFAR-10 */
        if (sbp_trainer_create(&tr, net, ds, &to, &err) != SBP_OK)
            return fail("trainer", &err);
    }
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = o.T;
    eo.batch = o.batch;
    eo.threads = o.threads;
    eo.seed = o.seed;
    eo.backend = o.backend;
    sbp_evaluator *ev = NULL;
    if (o.reuse && sbp_evaluator_create(&ev, net, &eo, &err) != SBP_OK)
        return fail("evaluator", &err);
    for (int it = 0; it < total; it++) {
        double t0 = now_s(), loss;
        int samples;
        if (o.train) {
            sbp_batch_result r;
            if (sbp_trainer_step(tr, &r, &err) != SBP_OK)
                return fail("training step", &err);
            loss = r.loss;
            samples = r.samples;
        } else {
            sbp_eval_result r;
            if ((ev ? sbp_evaluator_eval(ev, ds, &r, &err) : sbp_eval(net, ds, &eo, &r, &err)) !=
                SBP_OK)
                return fail("evaluation", &err);
            loss = r.loss;
            samples = (int)r.images;
        }
        double dt = now_s() - t0;
        if (it >= o.warmup) {
            ips[it - o.warmup] = samples / dt;
            timed_s += dt;
            loss_sum += loss / samples;
        }
    }
    const double peak = peak_rss_mib();
    const double gpu_mib = gpu_used_mib(o.backend) - gpu_base_mib;
    const double med = median(ips, o.iters);
    /* exact: the two backward products at every step; aggregate: once per window (§3) */
    const double flop_factor = !o.train                               ? 1.0
                               : o.backward == SBP_BACKWARD_AGGREGATE ? 1.0 + 2.0 / o.T
                                                                      : 3.0;
    const double gflops = med * macs * o.T * 2.0 * flop_factor * 1e-9;
    const char *mode = o.train ? "train" : o.reuse ? "evaluator" : "infer";
    char notation[512] = "?";
    sbp_net_spec_format(&spec, notation, sizeof notation, NULL);

    if (o.json) {
        printf("{\"tool\":\"spikebp\",\"net\":\"%s\",\"notation\":\"%s\",\"data\":\"%s\","
               "\"T\":%d,\"batch\":%d,\"backward\":\"%s\",\"mode\":\"%s\",\"warmup\":%d,"
               "\"iters\":%d,\"threads\":%d,\"params\":%zu,\"images_per_s\":%.4f,"
               "\"images_per_s_min\":%.4f,\"images_per_s_max\":%.4f,\"timed_s\":%.3f,"
               "\"peak_rss_mib\":%.1f,\"base_rss_mib\":%.1f,\"data_mib\":%.2f,"
               "\"dense_macs_per_step\":%.0f,\"flop_factor\":%.4g,\"gflops\":%.3f,"
               "\"mean_loss\":%.6f,\"backend\":\"%s\",\"gpu_mib\":%.1f,\"init\":%s}\n",
               o.net, notation, o.data, o.T, o.batch,
               o.train ? sbp_backward_name(o.backward) : "none", mode,
               o.warmup, o.iters, threads, sbp_net_param_count(net), med, ips[0],
               ips[o.iters - 1], timed_s, peak, base_mib, data_mib, macs, flop_factor, gflops,
               loss_sum / o.iters, sbp_backend_name(o.backend), gpu_mib,
               o.init ? "true" : "false");
    } else {
        printf("spikebp %s %s T=%d batch=%d %s%s%s: %.2f images/s (median of %d, %.2f–%.2f), "
               "peak RSS %.1f MiB, %.2f dense-equivalent GFLOP/s, %d threads, backend %s",
               o.net, o.data, o.T, o.batch, mode, o.train ? " " : "",
               o.train ? sbp_backward_name(o.backward) : "", med, o.iters, ips[0],
               ips[o.iters - 1], peak, gflops, threads, sbp_backend_name(o.backend));
        if (o.backend == SBP_BACKEND_CUDA)
            printf(", %.1f MiB of GPU memory", gpu_mib);
        if (o.init)
            printf(", weights from %s", o.init);
        printf("\n");
    }
    free(ips);
    sbp_trainer_free(tr);
    sbp_evaluator_free(ev);
    sbp_net_free(net);
    sbp_dataset_free(ds);
    sbp_dataset_free(owner);
    return 0;
}
