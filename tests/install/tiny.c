/*
 * tiny.c — a program written against the *installed* libspikebp only (spikebp.h and the
 * library, nothing from src/): tests/cli/install.sh builds it through pkg-config and through
 * CMake's find_package(spikebp) and runs it.
 *
 * It writes a small synthetic task as IDX files into the folder given as argv[1] (4 classes of
 * 8×8 images, a bright quadrant per class on a noisy background; the same task as
 * tests/test_train.c), loads them through the public loader, builds a network from the paper's
 * notation, trains six epochs, evaluates, and exits 0 only if the mean loss of the last epoch
 * is below 0.7× that of the first and the test accuracy is at least 0.8 (chance: 0.25).
 * Prints one line: "tiny: loss A -> B, accuracy C -> D, spikebp X".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <spikebp.h>

#define SIDE 8

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* images: magic 0x803, n, rows, cols; labels: magic 0x801, n (IDX, big-endian) */
static int write_task(const char *images, const char *labels, uint32_t n, uint32_t seed)
{
    FILE *fi = fopen(images, "wb"), *fl = fopen(labels, "wb");
    int ok = fi && fl;
    unsigned char head[16];
    if (ok) {
        be32(head, 0x803);
        be32(head + 4, n);
        be32(head + 8, SIDE);
        be32(head + 12, SIDE);
        ok = fwrite(head, 1, 16, fi) == 16;
        be32(head, 0x801);
        be32(head + 4, n);
        ok = ok && fwrite(head, 1, 8, fl) == 8;
    }
    uint32_t s = seed;
    for (uint32_t i = 0; ok && i < n; i++) {
        unsigned char label = (unsigned char)(i % 4), px[SIDE * SIDE];
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                s = s * 1664525u + 1013904223u;
                int q = (y >= SIDE / 2) * 2 + (x >= SIDE / 2);
                int v = (int)(s >> 26) + (q == label ? 200 : 20);
                px[y * SIDE + x] = (unsigned char)(v > 255 ? 255 : v);
            }
        ok = fwrite(px, 1, sizeof px, fi) == sizeof px && fwrite(&label, 1, 1, fl) == 1;
    }
    if (fi && fclose(fi) != 0)
        ok = 0;
    if (fl && fclose(fl) != 0)
        ok = 0;
    return ok;
}

static sbp_dataset *load(const char *dir, const char *split, uint32_t n, uint32_t seed,
                         sbp_error *err)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte", dir, split);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte", dir, split);
    if (!write_task(images, labels, n, seed)) {
        fprintf(stderr, "tiny: cannot write %s and %s\n", images, labels);
        return NULL;
    }
    sbp_dataset *ds = NULL;
    if (sbp_dataset_load_idx(&ds, images, labels, err) != SBP_OK)
        return NULL;
    float mean = 0.0f, sd = 1.0f; /* pixel/255, gain 1 */
    if (sbp_dataset_set_encoding(ds, &mean, &sd, 1.0f, err) != SBP_OK) {
        sbp_dataset_free(ds);
        return NULL;
    }
    return ds;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tiny SCRATCH_DIR\n");
        return 2;
    }
    sbp_error err = {0};
    int rc = 1;
    sbp_net *net = NULL;
    sbp_trainer *tr = NULL;
    sbp_dataset *train = load(argv[1], "train", 128, 7, &err);
    sbp_dataset *test = train ? load(argv[1], "t10k", 64, 99, &err) : NULL;
    if (!train || !test)
        goto done;

    sbp_net_spec spec;
    if (sbp_net_spec_parse(&spec, "8x8x1-8C3-P2-16FC-10", &err) != SBP_OK ||
        sbp_net_create(&net, &spec, 3, &err) != SBP_OK)
        goto done;

    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = 20;
    sbp_eval_result before, after;
    if (sbp_eval(net, test, &eo, &before, &err) != SBP_OK)
        goto done;

    sbp_train_opts o;
    sbp_train_opts_default(&o);
    o.timesteps = 20;
    o.batch = 8;
    o.epochs = 6;
    o.lr = 0.02f;
    o.seed = 5;
    if (sbp_trainer_create(&tr, net, train, &o, &err) != SBP_OK)
        goto done;
    double loss[6] = {0};
    while (!sbp_trainer_done(tr)) {
        sbp_batch_result r;
        if (sbp_trainer_step(tr, &r, &err) != SBP_OK)
            goto done;
        loss[r.epoch] += r.loss / (double)sbp_dataset_count(train);
    }
    if (sbp_eval(net, test, &eo, &after, &err) != SBP_OK)
        goto done;

    printf("tiny: loss %.4f -> %.4f, accuracy %.3f -> %.3f, spikebp %s\n", loss[0], loss[5],
           before.accuracy, after.accuracy, SBP_VERSION_STRING);
    if (!(loss[5] < 0.7 * loss[0]))
        fprintf(stderr, "tiny: the loss did not fall enough (%.4f -> %.4f)\n", loss[0], loss[5]);
    else if (!(after.accuracy >= 0.8))
        fprintf(stderr, "tiny: test accuracy %.3f after training (chance 0.25)\n", after.accuracy);
    else
        rc = 0;
done:
    if (err.status != SBP_OK)
        fprintf(stderr, "tiny: %s\n", err.msg);
    sbp_trainer_free(tr);
    sbp_net_free(net);
    sbp_dataset_free(test);
    sbp_dataset_free(train);
    return rc;
}
