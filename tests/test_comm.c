/*
 * test_comm.c — the trainer and the evaluation over a communicator (train/comm.h), without MPI:
 * R "ranks" are R POSIX threads of this process joined by an in-process communicator (a barrier
 * and shared slots; sums in rank order), each running its own trainer with one OpenMP thread,
 * exactly as R MPI processes would. Checked against independent references:
 *   - a rank's share of a batch is the set of samples OpenMP's static schedule gives thread r
 *     (asked of the OpenMP runtime itself), so R ranks compute R threads' partial sums;
 *   - 2 ranks × 1 thread train bit-identically to 1 process × 2 threads (two partial sums, and
 *     float addition of two terms commutes), including a short last batch; 3 ranks agree with 3
 *     threads within float rounding; every rank ends with the same weights;
 *   - evaluation over 2 ranks returns the single-process result bit for bit (over 3, the same
 *     result on every rank), and sbp_predict over 2 ranks gives every rank every image's
 *     outputs, those of one process; a reusable evaluator over 2 ranks gives the same, and one
 *     that holds other weights on rank 1 (even with its network's weights put back) is refused;
 *   - a global batch that does not divide among the ranks, and ranks that disagree (a
 *     different seed on rank 1), fail with messages naming the problem and the rank;
 *   - the single-process communicator: rank 0 of 1, sums are identities, the weights CRC is
 *     zlib's CRC-32 of the weights layer by layer (what `spikebp info` prints).
 */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "net/net.h"
#include "train/comm.h"

/* ------------------------------------------------------- an in-process communicator */

#define MAX_RANKS 4

typedef struct hub {
    pthread_barrier_t bar;
    int size;
    const void *slot[MAX_RANKS];
    size_t count[MAX_RANKS];
} hub;

/* x = Σ over ranks in rank order, elementwise (float, double) or max (int). */
#define HUB_REDUCE(fname, type, combine)                                                      \
    static sbp_status fname(const sbp_comm *c, type *x, size_t n, sbp_error *err)             \
    {                                                                                          \
        hub *h = c->impl;                                                                      \
        type *acc = malloc((n ? n : 1) * sizeof *acc);                                         \
        h->slot[c->rank] = x;                                                                  \
        pthread_barrier_wait(&h->bar);                                                         \
        for (size_t i = 0; i < n; i++) {                                                       \
            acc[i] = ((const type *)h->slot[0])[i];                                            \
            for (int r = 1; r < h->size; r++)                                                  \
                combine(acc[i], ((const type *)h->slot[r])[i]);                                \
        }                                                                                      \
        pthread_barrier_wait(&h->bar); /* everyone has read every x */                         \
        memcpy(x, acc, n * sizeof *acc);                                                       \
        free(acc);                                                                             \
        return SBP_OK;                                                                         \
    }
#define ADD(a, b) (a) += (b)
#define MAX(a, b) (a) = (b) > (a) ? (b) : (a)
HUB_REDUCE(hub_sum_f32, float, ADD)
HUB_REDUCE(hub_sum_f64, double, ADD)
HUB_REDUCE(hub_max_int, int, MAX)

static sbp_status hub_gatherv(const sbp_comm *c, const void *mine, void *all,
                              const size_t *counts, sbp_error *err)
{
    hub *h = c->impl;
    h->slot[c->rank] = mine;
    pthread_barrier_wait(&h->bar);
    size_t off = 0;
    for (int r = 0; r < h->size; r++) {
        memcpy((char *)all + off, h->slot[r], counts[r]);
        off += counts[r];
    }
    pthread_barrier_wait(&h->bar);
    return SBP_OK;
}

static sbp_status hub_gather(const sbp_comm *c, const void *mine, void *all, size_t bytes,
                             sbp_error *err)
{
    size_t counts[MAX_RANKS];
    for (int r = 0; r < c->size; r++)
        counts[r] = bytes;
    return hub_gatherv(c, mine, all, counts, err);
}

static void hub_abort(const sbp_comm *c, int code)
{
}

static const sbp_comm_ops hub_ops = {"hub",       hub_sum_f32, hub_sum_f64, hub_max_int,
                                     hub_gather, hub_gatherv, hub_abort,   NULL};

/* ------------------------------------------------------------------- the task */

/* 4 classes of 8×8 images: a bright quadrant per class on a noisy background. */
static sbp_dataset *synthetic(size_t n, uint32_t seed)
{
    sbp_dataset *ds = NULL;
    sbp_error err = {0};
    if (sbp_dataset_alloc(&ds, n, 1, 8, 8, 4, &err) != SBP_OK)
        return NULL;
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        const int label = (int)(i % 4);
        ds->labels[i] = (uint8_t)label;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                s = s * 1664525u + 1013904223u;
                const int q = (y >= 4) * 2 + (x >= 4);
                const int v = (int)(s >> 26) + (q == label ? 200 : 20);
                ds->pixels[i * 64 + (size_t)y * 8 + x] = (uint8_t)(v > 255 ? 255 : v);
            }
    }
    float mean = 0, sd = 1;
    sbp_dataset_set_encoding(ds, &mean, &sd, 1.0f, &err);
    return ds;
}

static sbp_net *small_net(void)
{
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_error err = {0};
    sbp_net_spec_parse(&spec, "8x8x1-8C3-P2-16FC-4", &err);
    spec.layers[2].dropout = 0.1f;
    sbp_net_create(&net, &spec, 3, &err);
    return net;
}

static void opts_for(sbp_train_opts *o, int batch, int threads, uint64_t seed)
{
    sbp_train_opts_default(o);
    o->timesteps = 12;
    o->batch = batch;
    o->epochs = 2;
    o->lr = 0.02f;
    o->seed = seed;
    o->threads = threads;
}

/* One rank's run: trains its own copy of the network, then evaluates it. */
typedef struct rank_run {
    sbp_comm comm;
    const sbp_dataset *train, *test;
    int batch;
    uint64_t seed;
    sbp_net *net;
    sbp_status st;
    sbp_error err;
    sbp_eval_result eval;
    float *outputs; /* (test images, classes) from sbp_predict over the ranks */
} rank_run;

static void *rank_main(void *arg)
{
    rank_run *r = arg;
    sbp_train_opts o;
    opts_for(&o, r->batch, 1, r->seed);
    o.comm = &r->comm;
    sbp_trainer *tr = NULL;
    r->st = sbp_trainer_create(&tr, r->net, r->train, &o, &r->err);
    while (r->st == SBP_OK && !sbp_trainer_done(tr)) {
        sbp_batch_result b;
        r->st = sbp_trainer_step(tr, &b, &r->err);
    }
    sbp_trainer_free(tr);
    if (r->st == SBP_OK) {
        sbp_eval_opts eo;
        sbp_eval_opts_default(&eo);
        eo.timesteps = 12;
        eo.threads = 1;
        eo.comm = &r->comm;
        r->st = sbp_eval(r->net, r->test, &eo, &r->eval, &r->err);
        r->outputs = calloc(r->test->n * 4, sizeof *r->outputs);
        if (r->st == SBP_OK)
            r->st = sbp_predict(r->net, r->test, &eo, r->outputs, &r->err);
    }
    return NULL;
}

/* R ranks of one thread each; seeds[r] per rank. Returns the ranks' networks in nets. */
static void run_ranks(int R, const sbp_dataset *train, const sbp_dataset *test, int batch,
                      const uint64_t *seeds, rank_run *runs)
{
    hub h = {.size = R};
    pthread_barrier_init(&h.bar, NULL, (unsigned)R);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < R; r++) {
        runs[r] = (rank_run){.comm = {.ops = &hub_ops, .rank = r, .size = R, .impl = &h},
                             .train = train, .test = test, .batch = batch, .seed = seeds[r],
                             .net = small_net()};
        pthread_create(&th[r], NULL, rank_main, &runs[r]);
    }
    for (int r = 0; r < R; r++)
        pthread_join(th[r], NULL);
    pthread_barrier_destroy(&h.bar);
}

/* An evaluator over ranks: the result of one process, and the weights compared are those the
 * evaluator took — rank 1's evaluator made from other weights is refused even after its
 * network's weights are put back to rank 0's (the evaluator still holds the others). */
typedef struct eval_rank {
    sbp_comm comm;
    const sbp_dataset *test;
    int other; /* 1: this rank's evaluator takes perturbed weights */
    sbp_status st[2];
    sbp_error err;
    sbp_eval_result res;
} eval_rank;

static void *eval_rank_main(void *arg)
{
    eval_rank *r = arg;
    sbp_net *net = small_net();
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 12;
    eo.threads = 1;
    eo.comm = &r->comm;
    sbp_evaluator *ev = NULL;
    r->st[0] = sbp_evaluator_create(&ev, net, &eo, &r->err);
    if (r->st[0] == SBP_OK)
        r->st[0] = sbp_evaluator_eval(ev, r->test, &r->res, &r->err);
    if (r->st[0] == SBP_OK) {
        const float w0 = net->params[0];
        if (r->other) {
            net->params[0] = w0 + 1.0f;
            sbp_evaluator_reload(ev, &r->err);
            net->params[0] = w0; /* the network agrees again; the evaluator does not */
        }
        r->st[1] = sbp_evaluator_eval(ev, r->test, &r->res, &r->err);
    }
    sbp_evaluator_free(ev);
    sbp_net_free(net);
    return NULL;
}

static void check_evaluator_ranks(const sbp_dataset *test)
{
    sbp_net *net = small_net();
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 12;
    eo.threads = 1;
    sbp_eval_result one;
    sbp_error err = {0};
    CHECK(sbp_eval(net, test, &eo, &one, &err) == SBP_OK, "eval: %s", err.msg);
    sbp_net_free(net);
    for (int other = 0; other < 2; other++) {
        hub h = {.size = 2};
        pthread_barrier_init(&h.bar, NULL, 2);
        eval_rank ranks[2];
        pthread_t th[2];
        for (int r = 0; r < 2; r++) {
            ranks[r] = (eval_rank){.comm = {.ops = &hub_ops, .rank = r, .size = 2, .impl = &h},
                                   .test = test, .other = other && r == 1};
            pthread_create(&th[r], NULL, eval_rank_main, &ranks[r]);
        }
        for (int r = 0; r < 2; r++)
            pthread_join(th[r], NULL);
        pthread_barrier_destroy(&h.bar);
        for (int r = 0; r < 2; r++) {
            CHECK(ranks[r].st[0] == SBP_OK, "rank %d: evaluator over 2 ranks: %s", r,
                  ranks[r].err.msg);
            if (!other)
                CHECK(ranks[r].st[1] == SBP_OK && ranks[r].res.correct == one.correct &&
                          ranks[r].res.loss == one.loss,
                      "rank %d: the evaluator over 2 ranks is not one process's result", r);
            else
                CHECK(ranks[r].st[1] != SBP_OK && strstr(ranks[r].err.msg, "rank 1 of 2") &&
                          strstr(ranks[r].err.msg, "weights"),
                      "rank %d: an evaluator holding other weights on rank 1 was not refused "
                      "naming it: %s",
                      r, ranks[r].err.msg);
        }
    }
}

/* One process of `threads` OpenMP threads. */
static sbp_net *run_threads(int threads, const sbp_dataset *train, int batch)
{
    sbp_net *net = small_net();
    sbp_train_opts o;
    opts_for(&o, batch, threads, 5);
    sbp_trainer *tr = NULL;
    sbp_error err = {0};
    CHECK(sbp_trainer_create(&tr, net, train, &o, &err) == SBP_OK, "trainer: %s", err.msg);
    while (tr && !sbp_trainer_done(tr)) {
        sbp_batch_result b;
        CHECK(sbp_trainer_step(tr, &b, &err) == SBP_OK, "step: %s", err.msg);
    }
    sbp_trainer_free(tr);
    return net;
}

static double max_abs_diff(const sbp_net *a, const sbp_net *b, double *scale)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        d = fmax(d, fabs((double)a->params[i] - b->params[i]));
        s = fmax(s, fabs((double)a->params[i]));
    }
    *scale = s;
    return d;
}

static void check_share(void)
{
    omp_set_dynamic(0);
    int bad = 0;
    for (int R = 1; R <= 6; R++)
        for (size_t n = 0; n <= 70; n++) {
            int owner[70];
#pragma omp parallel for schedule(static) num_threads(R)
            for (size_t i = 0; i < n; i++)
                owner[i] = omp_get_thread_num();
            for (int r = 0; r < R; r++) {
                size_t a, b;
                sbp_comm_share(n, r, R, &a, &b);
                for (size_t i = 0; i < n; i++)
                    bad += (owner[i] == r) != (i >= a && i < b);
            }
        }
    CHECK(bad == 0, "rank shares match OpenMP's static schedule (%d mismatches)", bad);
}

static void check_single(const sbp_net *net)
{
    sbp_error err = {0};
    CHECK(sbp_comm_rank(NULL) == 0 && sbp_comm_size(NULL) == 1, "NULL is rank 0 of 1");
    int v = 7;
    CHECK(sbp_comm_max(NULL, &v, &err) == SBP_OK && v == 7, "max over one process");
    uint32_t crc = 0;
    CHECK(sbp_comm_check_weights(NULL, net, &crc, &err) == SBP_OK, "weights check alone");
    uLong ref = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < net->n_layers; i++) {
        size_t n;
        const float *w = sbp_net_layer_weights((sbp_net *)net, i, &n);
        if (w)
            ref = crc32_z(ref, (const Bytef *)w, n * sizeof(float));
        w = sbp_net_shortcut_weights((sbp_net *)net, i, &n);
        if (w)
            ref = crc32_z(ref, (const Bytef *)w, n * sizeof(float));
    }
    CHECK(crc == (uint32_t)ref, "weights CRC %08x is spikebp info's %08lx", crc,
          (unsigned long)ref);
    sbp_comm *c = NULL;
    if (!sbp_comm_mpi_built())
        CHECK(sbp_comm_mpi_open(&c, &err) == SBP_ERR_UNSUPPORTED && !c && strstr(err.msg, "MPI"),
              "a build without MPI says so: %s", err.msg);
}

int main(void)
{
    /* 100 images, batch 12: eight full batches and a short one of 4. */
    sbp_dataset *train = synthetic(100, 7), *test = synthetic(61, 99);
    CHECK(train && test, "synthetic data");
    check_share();

    const uint64_t same[MAX_RANKS] = {5, 5, 5, 5};
    rank_run runs[MAX_RANKS];

    /* 2 ranks × 1 thread = 1 process × 2 threads, bit for bit. */
    sbp_net *t2 = run_threads(2, train, 12);
    run_ranks(2, train, test, 12, same, runs);
    for (int r = 0; r < 2; r++)
        CHECK(runs[r].st == SBP_OK, "rank %d: %s", r, runs[r].err.msg);
    CHECK(memcmp(runs[0].net->params, t2->params, t2->n_params * sizeof(float)) == 0,
          "2 ranks × 1 thread train bit-identically to 2 threads");
    CHECK(memcmp(runs[1].net->params, runs[0].net->params, t2->n_params * sizeof(float)) == 0,
          "both ranks hold the same weights");

    /* Evaluation over the ranks = one process. */
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 12;
    sbp_eval_result one;
    sbp_error err = {0};
    CHECK(sbp_eval(runs[0].net, test, &eo, &one, &err) == SBP_OK, "eval: %s", err.msg);
    CHECK(runs[0].eval.correct == one.correct && runs[0].eval.loss == one.loss &&
              runs[1].eval.loss == one.loss && runs[0].eval.images == test->n,
          "eval over 2 ranks (%zu, %.17g) = one process (%zu, %.17g)", runs[0].eval.correct,
          runs[0].eval.loss, one.correct, one.loss);
    float *alone = calloc(test->n * 4, sizeof *alone);
    CHECK(sbp_predict(runs[0].net, test, &eo, alone, &err) == SBP_OK, "predict: %s", err.msg);
    for (int r = 0; r < 2; r++)
        CHECK(runs[r].outputs && memcmp(runs[r].outputs, alone, test->n * 4 * sizeof *alone) == 0,
              "sbp_predict over 2 ranks gives rank %d every image's outputs of one process", r);
    free(alone);
    for (int r = 0; r < 2; r++) {
        sbp_net_free(runs[r].net);
        free(runs[r].outputs);
    }

    /* 3 ranks against 3 threads: the partial sums add in another order, so within rounding
     * (two epochs of 18 steps; the bound is loose on purpose, a wrong shard is off by far more). */
    sbp_net *t3 = run_threads(3, train, 12);
    run_ranks(3, train, test, 12, same, runs);
    for (int r = 0; r < 3; r++)
        CHECK(runs[r].st == SBP_OK, "rank %d of 3: %s", r, runs[r].err.msg);
    double scale, d = max_abs_diff(runs[0].net, t3, &scale);
    printf("3 ranks vs 3 threads after 18 steps: max |Δw| = %.3g (max |w| %.3g)\n", d, scale);
    CHECK(d <= 1e-4 * scale, "3 ranks within rounding of 3 threads: %.3g", d);
    for (int r = 1; r < 3; r++)
        CHECK(memcmp(runs[r].net->params, runs[0].net->params, t3->n_params * sizeof(float)) == 0,
              "rank %d holds rank 0's weights", r);
    CHECK(runs[2].eval.loss == runs[0].eval.loss, "eval over 3 ranks agrees on every rank");
    for (int r = 0; r < 3; r++) {
        sbp_net_free(runs[r].net);
        free(runs[r].outputs);
    }

    /* A batch that does not divide; ranks that disagree. */
    run_ranks(2, train, test, 13, same, runs);
    CHECK(runs[0].st == SBP_ERR_INVALID_ARG && strstr(runs[0].err.msg, "does not divide among 2"),
          "batch 13 on 2 ranks: %s", runs[0].err.msg);
    for (int r = 0; r < 2; r++) {
        sbp_net_free(runs[r].net);
        free(runs[r].outputs);
    }
    const uint64_t differ[MAX_RANKS] = {5, 6};
    run_ranks(2, train, test, 12, differ, runs);
    for (int r = 0; r < 2; r++) {
        CHECK(runs[r].st == SBP_ERR_INVALID_ARG && strstr(runs[r].err.msg, "rank 1 of 2") &&
                  strstr(runs[r].err.msg, "seed"),
              "rank %d names the disagreeing rank and option: %s", r, runs[r].err.msg);
        sbp_net_free(runs[r].net);
        free(runs[r].outputs);
    }

    check_evaluator_ranks(test);
    check_single(t2);
    sbp_net_free(t2);
    sbp_net_free(t3);
    sbp_dataset_free(train);
    sbp_dataset_free(test);
    return check_finish("test_comm");
}
