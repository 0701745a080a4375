/*
 * sbp_mpi_bench.c — data-parallel training over MPI (docs/mpi.md): time per global batch, and
 * the time of the one gradient allreduce each batch costs, for one rank count.
 *
 *   mpirun -np R build/sbp_mpi_bench --net lenet -T 100 --batch 64 --threads 1 --iters 5
 *
 * Runs W warm-up and K timed sbp_trainer_step calls with the job's communicator (the batch is
 * the global batch, split over the ranks), then K allreduces of the gradient arena alone
 * (n_params floats, the same call the trainer makes) on the same transport. Rank 0 prints one
 * JSON line: seconds per batch (median), images/s, the allreduce's seconds (median) and its
 * share of a batch — the most that overlapping it with the backward (or bucketing it) could
 * save. bench/mpi runs it for R = 1, 2 over shared memory and TCP and computes the parallel
 * efficiency. Data: LeNet on the first images of MNIST ($SBP_DATA_DIR or ~/.cache/spikebp),
 * VGG9 on synthetic 32×32×3 images (uniform pixels, CIFAR-10 encoding). Started without mpirun
 * it runs as one process. A bench tool: not part of the library, not run by ctest.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/dataset.h"
#include "spikebp.h"
#include "train/comm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static sbp_status load_data(sbp_dataset **out, const char *net, size_t n, sbp_error *err)
{
    if (!strcmp(net, "lenet")) {
        const char *dir = getenv("SBP_DATA_DIR"), *home = getenv("HOME");
        char img[1200], lab[1200], base[1024];
        if (dir && *dir)
            snprintf(base, sizeof base, "%s", dir);
        else
            snprintf(base, sizeof base, "%s/.cache/spikebp", home ? home : ".");
        snprintf(img, sizeof img, "%s/mnist/train-images-idx3-ubyte", base);
        snprintf(lab, sizeof lab, "%s/mnist/train-labels-idx1-ubyte", base);
        sbp_dataset *all = NULL;
        sbp_status st = sbp_dataset_load_idx(&all, img, lab, err);
        if (st != SBP_OK)
            return st;
        if (n > all->n)
            n = all->n;
        st = sbp_dataset_alloc(out, n, all->c, all->h, all->w, all->classes, err);
        if (st == SBP_OK) {
            memcpy((*out)->pixels, all->pixels, n * (size_t)all->c * all->h * all->w);
            memcpy((*out)->labels, all->labels, n);
            const float mean0 = 0.0f, std1 = 1.0f;
            st = sbp_dataset_set_encoding(*out, &mean0, &std1, 0.5f, err); /* MNIST's (§1) */
        }
        sbp_dataset_free(all);
        return st;
    }
    sbp_status st = sbp_dataset_alloc(out, n, 3, 32, 32, 10, err);
    if (st != SBP_OK)
        return st;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n * 3 * 32 * 32; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        (*out)->pixels[i] = (uint8_t)(s >> 56);
    }
    for (size_t i = 0; i < n; i++)
        (*out)->labels[i] = (uint8_t)(i % 10);
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.557f, 0.549f, 0.5534f};
    return sbp_dataset_set_encoding(*out, mean, std, 1.0f, err); /* §1 CIFAR-10 */
}

int main(int argc, char **argv)
{
    const char *net_name = "lenet";
    int T = 100, batch = 64, warmup = 1, iters = 5, threads = 1;
    static const struct option longs[] = {
        {"net", required_argument, 0, 'n'},   {"timesteps", required_argument, 0, 'T'},
        {"batch", required_argument, 0, 'b'}, {"warmup", required_argument, 0, 'w'},
        {"iters", required_argument, 0, 'k'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "T:h", longs, NULL)) != -1) {
        int *dst = c == 'T' ? &T : c == 'b' ? &batch : c == 'w' ? &warmup
                 : c == 'k' ? &iters : c == 't' ? &threads : NULL;
        if (c == 'n') {
            net_name = optarg;
        } else if (dst) {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < (c == 'w' ? 0 : 1) || v > 1000000) {
                fprintf(stderr, "sbp_mpi_bench: bad value '%s'\n", optarg);
                return 2;
            }
            *dst = (int)v;
        } else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: [mpirun -np R] sbp_mpi_bench [--net lenet|vgg9] [-T N] [--batch B "
                    "(global)] [--warmup W] [--iters K] [--threads N per rank]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (strcmp(net_name, "lenet") && strcmp(net_name, "vgg9")) {
        fprintf(stderr, "sbp_mpi_bench: --net: lenet or vgg9\n");
        return 2;
    }
    sbp_error err = {0};
    sbp_comm *comm = NULL;
    if ((getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")) &&
        sbp_comm_mpi_open(&comm, &err) != SBP_OK) {
        fprintf(stderr, "sbp_mpi_bench: %s\n", err.msg);
        return 1;
    }
    const int rank = sbp_comm_rank(comm), R = sbp_comm_size(comm);
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    sbp_trainer *tr = NULL;
    const size_t n = (size_t)batch * (size_t)(warmup + iters);
    if (sbp_net_spec_builtin(&spec, net_name, &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 1, &err) != SBP_OK || load_data(&ds, net_name, n, &err) != SBP_OK)
        goto fail;
    sbp_train_opts to;
    sbp_train_opts_default(&to);
    to.timesteps = T;
    to.batch = batch;
    to.epochs = 1000000; /* never done: the timed batches wrap around the data */
    to.threads = threads;
    to.comm = comm;
    if (!strcmp(net_name, "vgg9"))
        to.lr = 0.0033f;
    if (sbp_trainer_create(&tr, net, ds, &to, &err) != SBP_OK)
        goto fail;
    double *step = calloc((size_t)iters, sizeof *step), *ar = calloc((size_t)iters, sizeof *ar);
    const size_t np = sbp_net_param_count(net);
    float *arena = calloc(np, sizeof *arena);
    if (!step || !ar || !arena) {
        fprintf(stderr, "sbp_mpi_bench: out of memory\n");
        sbp_comm_abort(comm, 1);
        return 1;
    }
    for (int it = 0; it < warmup + iters; it++) {
        sbp_batch_result r;
        const double t0 = now_s();
        if (sbp_trainer_step(tr, &r, &err) != SBP_OK)
            goto fail;
        if (it >= warmup)
            step[it - warmup] = now_s() - t0;
    }
    const sbp_comm *cm = sbp_comm_or_single(comm);
    for (int it = 0; it < 1 + iters; it++) { /* one untimed: the transport's first contact */
        const double t0 = now_s();
        if (cm->ops->sum_f32(cm, arena, np, &err) != SBP_OK)
            goto fail;
        if (it > 0)
            ar[it - 1] = now_s() - t0;
    }
    const double s_batch = median(step, iters), s_ar = median(ar, iters);
    if (rank == 0)
        printf("{\"tool\":\"sbp_mpi_bench\",\"net\":\"%s\",\"T\":%d,\"batch\":%d,\"ranks\":%d,"
               "\"threads_per_rank\":%d,\"params\":%zu,\"allreduce_bytes\":%zu,"
               "\"seconds_per_batch\":%.6f,\"images_per_s\":%.3f,\"allreduce_seconds\":%.6f,"
               "\"allreduce_share\":%.5f,\"iters\":%d}\n",
               net_name, T, batch, R, threads, np, np * sizeof(float), s_batch,
               batch / s_batch, R > 1 ? s_ar : 0.0, R > 1 ? s_ar / s_batch : 0.0, iters);
    free(step);
    free(ar);
    free(arena);
    sbp_trainer_free(tr);
    sbp_dataset_free(ds);
    sbp_net_free(net);
    sbp_comm_close(comm);
    return 0;
fail:
    fprintf(stderr, "sbp_mpi_bench (rank %d of %d): %s\n", rank, R, err.msg);
    sbp_comm_abort(comm, 1);
    return 1;
}
