/* comm.c — what every communicator shares (comm.h): the public sbp_comm_* calls, the shard of
 * a rank, the agreement check and the fingerprints the ranks compare. */
#include "train/comm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "net/net.h"

int sbp_comm_rank(const sbp_comm *c)
{
    return c ? c->rank : 0;
}

int sbp_comm_size(const sbp_comm *c)
{
    return c ? c->size : 1;
}

void sbp_comm_close(sbp_comm *c)
{
    if (c && c->ops->close)
        c->ops->close(c);
}

void sbp_comm_abort(const sbp_comm *c, int code)
{
    if (c && c->size > 1)
        c->ops->abort(c, code);
}

sbp_status sbp_comm_max(const sbp_comm *c, int *v, sbp_error *err)
{
    c = sbp_comm_or_single(c);
    return c->ops->max_int(c, v, 1, err);
}

void sbp_comm_share(size_t n, int rank, int size, size_t *first, size_t *last)
{
    /* n = q·size + t: the first t ranks take q + 1 items, the others q (libgomp's and libomp's
     * split of a static schedule without a chunk size). */
    const size_t q = n / (size_t)size, t = n % (size_t)size, r = (size_t)rank;
    *first = r < t ? r * (q + 1) : r * q + t;
    *last = *first + (r < t ? q + 1 : q);
}

uint64_t sbp_comm_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (h == 0)
        h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint32_t sbp_comm_weights_crc(const sbp_net *net)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        if (L->w_count)
            crc = crc32_z(crc, (const Bytef *)(net->params + L->w_offset),
                          L->w_count * sizeof(float));
        if (L->sc && L->sc->w_count)
            crc = crc32_z(crc, (const Bytef *)(net->params + L->sc->w_offset),
                          L->sc->w_count * sizeof(float));
    }
    return (uint32_t)crc;
}

uint64_t sbp_comm_data_fingerprint(const sbp_dataset *ds)
{
    const int64_t shape[6] = {(int64_t)ds->n, ds->c, ds->h, ds->w, ds->classes, ds->timesteps};
    uint64_t h = sbp_comm_hash(0, shape, sizeof shape);
    return sbp_comm_hash(h, ds->labels, ds->n);
}

sbp_status sbp_comm_agree(const sbp_comm *c, const sbp_comm_fact *facts, int n, const char *who,
                          sbp_error *err)
{
    c = sbp_comm_or_single(c);
    if (c->size == 1 || n == 0)
        return SBP_OK;
    uint64_t *mine = malloc((size_t)n * sizeof *mine);
    uint64_t *all = malloc((size_t)n * (size_t)c->size * sizeof *all);
    sbp_status st = SBP_OK;
    if (!mine || !all) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "%sout of memory comparing %d ranks", who, c->size);
        goto done;
    }
    for (int i = 0; i < n; i++)
        mine[i] = facts[i].value;
    st = c->ops->gather(c, mine, all, (size_t)n * sizeof *mine, err);
    /* Every rank sees every rank's facts, so every rank reports the same first difference. */
    for (int r = 1; r < c->size && st == SBP_OK; r++)
        for (int i = 0; i < n; i++) {
            const uint64_t a = all[i], b = all[(size_t)r * n + i];
            if (a != b) {
                st = sbp_fail(err, SBP_ERR_INVALID_ARG,
                              "%srank %d of %d differs from rank 0 in %s (%" PRIu64 " vs %" PRIu64
                              "); every rank must run the same binary with the same options, "
                              "data and weights",
                              who, r, c->size, facts[i].what, b, a);
                break;
            }
        }
done:
    free(mine);
    free(all);
    return st;
}

sbp_status sbp_comm_check_weights(const sbp_comm *c, const sbp_net *net, uint32_t *crc,
                                  sbp_error *err)
{
    c = sbp_comm_or_single(c);
    *crc = sbp_comm_weights_crc(net);
    if (c->size == 1)
        return SBP_OK;
    uint32_t *all = malloc((size_t)c->size * sizeof *all);
    if (!all)
        return sbp_fail(err, SBP_ERR_NOMEM, "weights check: out of memory for %d ranks", c->size);
    sbp_status st = c->ops->gather(c, crc, all, sizeof *crc, err);
    char ranks[256] = "";
    int bad = 0;
    for (int r = 1; r < c->size && st == SBP_OK; r++)
        if (all[r] != all[0]) {
            const size_t k = strlen(ranks);
            if (k + 16 < sizeof ranks)
                snprintf(ranks + k, sizeof ranks - k, "%s%d (%08" PRIx32 ")", bad ? ", " : "", r,
                         all[r]);
            bad++;
        }
    if (st == SBP_OK && bad)
        st = sbp_fail(err, SBP_ERR_NUMERIC,
                      "weights differ between ranks: rank 0 has CRC-32 %08" PRIx32
                      ", %d rank%s differ%s: %s",
                      all[0], bad, bad == 1 ? "" : "s", bad == 1 ? "s" : "", ranks);
    free(all);
    return st;
}
