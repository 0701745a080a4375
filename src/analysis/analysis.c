/*
 * analysis.c — spike statistics, event-driven operation counts and accuracy by inference steps
 * (SPEC §8), measured by running images through the engine exactly as sbp_eval does and reading
 * the spike counts γ it keeps (engine.h). Definitions: analysis.h.
 *
 * The input image is rate-encoded here (sbp_analysis_encode, with the engine's own encoder,
 * evaluation key and tag) and handed to the engine as given spikes, so the input
 * spikes that are counted are by construction the ones the network processed; test_analysis
 * checks that these spikes, and the results, are identical to sbp_eval's.
 */
#include "analysis/analysis.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "data/dataset.h"
#include "net/kinds/kind.h"
#include "train/comm.h"
#include "train/images.h"

/* --------------------------------------------------------------------------- geometry */

static int is_spiking(const sbp_layer *L)
{
    return L->neuron != SBP_NEURON_INTEGRATOR;
}

/* Per-kind counts come from the kind's row (net/kinds/kind.h); a shortcut is a conv row. */
uint64_t sbp_analysis_layer_macs(const sbp_net *net, int l)
{
    const sbp_layer *L = &net->layers[l];
    uint64_t m = sbp_kind_of(L->spec.kind)->macs(L);
    if (L->sc && L->sc->w_count)
        m += sbp_kind_of(L->sc->spec.kind)->macs(L->sc);
    return m;
}

uint64_t sbp_analysis_dense_macs(const sbp_net *net)
{
    uint64_t m = 0;
    for (int l = 0; l < net->n_layers; l++)
        m += sbp_analysis_layer_macs(net, l);
    return m;
}

uint32_t sbp_analysis_fanout(const sbp_layer *L, int paramfree, size_t i)
{
    return sbp_kind_of(L->spec.kind)->fanout(L, paramfree, i);
}

void sbp_analysis_layer_name(const sbp_net *net, int l, char *buf, size_t size)
{
    const sbp_layer_spec *s = &net->layers[l].spec;
    sbp_kind_of(s->kind)->label(s, buf, size);
}

/* --------------------------------------------------------------------------- encoding */

void sbp_analysis_input(sbp_input *in, const sbp_dataset *ds, size_t i, uint64_t seed)
{
    sbp_input_for(in, ds, i, sbp_rng_key_make(seed, SBP_RNG_ENCODE), SBP_ANALYSIS_EVAL_TAG);
}

void sbp_analysis_encode(float *x, const sbp_input *in, int T, int C, size_t P)
{
    const size_t n = (size_t)C * P;
    /* The engine's encoder; the value map lives in the last row of x until step T−1
     * overwrites it, each value read before its slot is written. */
    float *val = x + (size_t)(T - 1) * n;
    sbp_input_values(val, in, C, P);
    sbp_input_spikes(x, in, val, n, 0, T);
}

/* --------------------------------------------------------------------------- one image */

void sbp_activity_init(sbp_activity *a, const sbp_net *net, int T)
{
    memset(a, 0, sizeof *a);
    a->n_layers = net->n_layers;
    a->T = T;
    a->input.neurons = net->layers[0].n_in;
    for (int l = 0; l < net->n_layers; l++)
        a->layer[l].neurons = net->layers[l].n_out;
}

static void count_add(sbp_activity_count *d, const sbp_activity_count *s)
{
    d->spikes += s->spikes;
    d->silent += s->silent;
    d->saturated += s->saturated;
    d->in_spikes += s->in_spikes;
    d->acs += s->acs;
    d->acs_sc += s->acs_sc;
}

static void activity_add(sbp_activity *dst, const sbp_activity *src)
{
    dst->images += src->images;
    count_add(&dst->input, &src->input);
    for (int l = 0; l < src->n_layers; l++)
        count_add(&dst->layer[l], &src->layer[l]);
}

sbp_status sbp_probe_init(sbp_probe *p, const sbp_net *net, int T, sbp_error *err)
{
    memset(p, 0, sizeof *p);
    p->net = net;
    p->T = T;
    sbp_status st = sbp_engine_init(&p->eng, net, T, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 0, err);
    if (st != SBP_OK)
        return st;
    sbp_engine_set_weights(&p->eng, net->params);
    size_t nfan = 0;
    for (int l = 0; l < net->n_layers; l++) {
        nfan += net->layers[l].n_in;
        if (net->layers[l].sc)
            nfan += net->layers[l].sc->n_in;
    }
    const size_t nin = net->layers[0].n_in, classes = net->layers[net->n_layers - 1].n_out;
    p->fan = malloc(nfan * sizeof *p->fan);
    p->x = malloc((size_t)T * nin * sizeof(float));
    p->in_count = malloc(nin * sizeof(float));
    p->hist = malloc((size_t)T * classes * sizeof(float));
    p->out = malloc(classes * sizeof(float));
    if (!p->fan || !p->x || !p->in_count || !p->hist || !p->out) {
        sbp_probe_free(p);
        return sbp_fail(err, SBP_ERR_NOMEM,
                        "analysis: cannot allocate %zu MiB for the input spikes of T = %d steps",
                        ((size_t)T * nin * sizeof(float)) >> 20, T);
    }
    uint32_t *f = p->fan;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        p->fan_of[l] = f;
        for (size_t i = 0; i < L->n_in; i++)
            *f++ = sbp_analysis_fanout(L, 0, i);
        if (L->sc) {
            p->fan_sc_of[l] = f;
            for (size_t i = 0; i < L->sc->n_in; i++)
                *f++ = sbp_analysis_fanout(L->sc, L->sc->w_count == 0, i);
        }
    }
    sbp_engine_record_output(&p->eng, p->hist);
    return SBP_OK;
}

void sbp_probe_free(sbp_probe *p)
{
    sbp_engine_release(&p->eng);
    free(p->fan);
    free(p->x);
    free(p->in_count);
    free(p->hist);
    free(p->out);
    memset(p, 0, sizeof *p);
}

/* Adds one image's γ map of a group of n neurons to c. */
static void count_group(sbp_activity_count *c, const float *gamma, size_t n, float sat_min)
{
    uint64_t spikes = 0, silent = 0, sat = 0;
    for (size_t i = 0; i < n; i++) {
        spikes += (uint64_t)gamma[i];
        silent += gamma[i] == 0.0f;
        sat += gamma[i] >= sat_min;
    }
    c->spikes += spikes;
    c->silent += silent;
    c->saturated += sat;
}

/* Σ_i gamma[i] and Σ_i gamma[i]·fan[i]: spikes arriving and accumulates they cause. fan is
 * in PyTorch's neuron order; gamma is the engine's counts of layer `layer` (its own order,
 * sbp_engine_neuron) or, for layer −1, the input's counts in PyTorch's order. */
static void count_ops(const float *gamma, const sbp_engine *e, int layer, const uint32_t *fan,
                      size_t n, uint64_t *in, uint64_t *acs)
{
    uint64_t s = 0, a = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t g = (uint64_t)gamma[layer < 0 ? i : sbp_engine_neuron(e, layer, i)];
        s += g;
        a += g * fan[i];
    }
    if (in)
        *in += s;
    *acs += a;
}

void sbp_probe_image(sbp_probe *p, const sbp_input *in, int label, sbp_activity *acc,
                     uint64_t *correct_by_steps, uint64_t *confusion, int *pred_out)
{
    const sbp_net *net = p->net;
    const int T = p->T, last = net->n_layers - 1;
    const sbp_layer *L0 = &net->layers[0];
    const size_t nin = L0->n_in, classes = net->layers[last].n_out;
    sbp_input run = *in;

    /* Input spikes of this image and their count per position, Σ_t |x[t]|. */
    memset(p->in_count, 0, nin * sizeof(float));
    if (in->spikes || in->spikes8) {
        for (int t = 0; t < T; t++)
            for (size_t i = 0; i < nin; i++) {
                float v = in->spikes ? in->spikes[(size_t)t * nin + i]
                                     : (float)in->spikes8[(size_t)t * nin + i];
                p->in_count[i] += v < 0.0f ? -v : v;
            }
    } else {
        sbp_analysis_encode(p->x, in, T, L0->in_c, (size_t)L0->in_h * L0->in_w);
        for (int t = 0; t < T; t++)
            for (size_t i = 0; i < nin; i++) {
                float v = p->x[(size_t)t * nin + i];
                p->in_count[i] += v < 0.0f ? -v : v;
            }
        run.spikes = p->x;
        run.pixels = NULL;
    }
    sbp_engine_clear_masks(&p->eng);
    sbp_engine_forward(&p->eng, &run, p->out);

    const float sat_min = (float)((9 * (long)T + 9) / 10); /* ⌈0.9·T⌉ */
    acc->images++;
    count_group(&acc->input, p->in_count, nin, sat_min);
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        sbp_activity_count *c = &acc->layer[l];
        const float *src = l == 0 ? p->in_count : p->eng.st[l - 1].count;
        count_ops(src, &p->eng, l - 1, p->fan_of[l], L->n_in, &c->in_spikes, &c->acs);
        if (L->sc) {
            const int from = L->spec.shortcut_from;
            const float *ss = from < 0 ? p->in_count : p->eng.st[from].count;
            count_ops(ss, &p->eng, from, p->fan_sc_of[l], L->sc->n_in, NULL, &c->acs_sc);
        }
        if (is_spiking(L))
            count_group(c, p->eng.st[l].count, L->n_out, sat_min);
    }

    /* Prediction after t+1 steps: argmax of M[t]/T, ties to the lowest class, exactly as
     * sbp_eval decides from o = M[T−1]/T. */
    int pred = 0;
    for (int t = 0; t < T; t++) {
        const float *m = p->hist + (size_t)t * classes;
        int best = 0;
        for (size_t k = 1; k < classes; k++)
            if (m[k] / (float)T > m[best] / (float)T)
                best = (int)k;
        if (label >= 0 && correct_by_steps && best == label)
            correct_by_steps[t]++;
        pred = best;
    }
    if (label >= 0 && confusion && (size_t)label < classes)
        confusion[(size_t)label * classes + (size_t)pred]++;
    if (pred_out)
        *pred_out = pred;
}

/* --------------------------------------------------------------------------- data sets */

void sbp_analysis_opts_default(sbp_analysis_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timesteps = 100;
    o->seed = 1;
}

/* One analysis run: a probe and an activity sum per worker, integer per-step and confusion
 * counts per worker (summed at the end: the result does not depend on which worker saw which
 * image). */
typedef struct analysis_run {
    const sbp_dataset *ds;
    size_t first; /* this rank's share starts here (train/comm.h) */
    uint64_t seed;
    int T;
    size_t classes;
    sbp_probe *pr;
    sbp_activity *acc;
    uint64_t *cbs, *conf;
} analysis_run;

static void analyse_image(void *ctx, int w, size_t i)
{
    analysis_run *r = ctx;
    sbp_input in;
    i += r->first;
    sbp_analysis_input(&in, r->ds, i, r->seed);
    sbp_probe_image(&r->pr[w], &in, sbp_dataset_label(r->ds, i), &r->acc[w],
                    r->cbs + (size_t)w * r->T, r->conf + (size_t)w * r->classes * r->classes,
                    NULL);
}

/* The ranks' integer counts summed (a data-parallel run, train/comm.h): every count of act
 * (images and the six sums of every group) and the optional per-step and confusion counts,
 * gathered as uint64 blocks and added in rank order on every rank, so the sums are exact. */
static sbp_status reduce_counts(const sbp_comm *c, sbp_activity *act, uint64_t *cbs, int T,
                                uint64_t *conf, size_t cc, sbp_error *err)
{
    const int groups = act->n_layers + 1;
    const size_t len = 1 + (size_t)groups * 6 + (cbs ? (size_t)T : 0) + (conf ? cc : 0);
    uint64_t *mine = malloc(len * sizeof *mine);
    uint64_t *all = malloc(len * (size_t)c->size * sizeof *all);
    if (!mine || !all) {
        free(mine);
        free(all);
        return sbp_fail(err, SBP_ERR_NOMEM, "analysis: out of memory for the ranks' counts");
    }
    sbp_activity_count *g[SBP_MAX_LAYERS + 1];
    g[0] = &act->input;
    for (int l = 0; l < act->n_layers; l++)
        g[l + 1] = &act->layer[l];
    size_t k = 0;
    mine[k++] = act->images;
    for (int j = 0; j < groups; j++) {
        mine[k++] = g[j]->spikes;
        mine[k++] = g[j]->silent;
        mine[k++] = g[j]->saturated;
        mine[k++] = g[j]->in_spikes;
        mine[k++] = g[j]->acs;
        mine[k++] = g[j]->acs_sc;
    }
    for (int t = 0; cbs && t < T; t++)
        mine[k++] = cbs[t];
    for (size_t j = 0; conf && j < cc; j++)
        mine[k++] = conf[j];
    sbp_status st = c->ops->gather(c, mine, all, len * sizeof *mine, err);
    if (st == SBP_OK) {
        for (size_t j = 0; j < len; j++) {
            uint64_t sum = 0;
            for (int r = 0; r < c->size; r++)
                sum += all[(size_t)r * len + j];
            mine[j] = sum;
        }
        k = 0;
        act->images = mine[k++];
        for (int j = 0; j < groups; j++) {
            g[j]->spikes = mine[k++];
            g[j]->silent = mine[k++];
            g[j]->saturated = mine[k++];
            g[j]->in_spikes = mine[k++];
            g[j]->acs = mine[k++];
            g[j]->acs_sc = mine[k++];
        }
        for (int t = 0; cbs && t < T; t++)
            cbs[t] = mine[k++];
        for (size_t j = 0; conf && j < cc; j++)
            conf[j] = mine[k++];
    }
    free(mine);
    free(all);
    return st;
}

sbp_status sbp_analysis_run(const sbp_net *net, const sbp_dataset *ds,
                            const sbp_analysis_opts *o, sbp_activity *act,
                            uint64_t *correct_by_steps, uint64_t *confusion, sbp_error *err)
{
    const int T = o->timesteps;
    sbp_status st = sbp_images_check(net, ds, T, "analysis: ", err);
    if (st != SBP_OK)
        return st;
    sbp_activity_init(act, net, T);
    const size_t n = o->images && o->images < ds->n ? o->images : ds->n;
    const size_t classes = net->layers[net->n_layers - 1].n_out;
    const int nt = sbp_workers(o->threads);
    sbp_probe *pr = calloc((size_t)nt, sizeof *pr);
    sbp_activity *acc = calloc((size_t)nt, sizeof *acc);
    uint64_t *cbs = calloc((size_t)nt * (size_t)T, sizeof *cbs);
    uint64_t *conf = calloc((size_t)nt * classes * classes, sizeof *conf);
    int ready = 0;
    if (!pr || !acc || !cbs || !conf) {
        st = sbp_fail(err, SBP_ERR_NOMEM, "analysis: out of memory");
        goto done;
    }
    for (; ready < nt && st == SBP_OK; ready++) {
        st = sbp_probe_init(&pr[ready], net, T, err);
        sbp_activity_init(&acc[ready], net, T);
    }
    if (st != SBP_OK)
        goto done;
    /* A data-parallel run analyses this rank's contiguous share of the images; the counts are
     * integers, so their sum over the ranks is the one-process result exactly. */
    const sbp_comm *c = sbp_comm_or_single(o->comm);
    size_t first, last;
    sbp_comm_share(n, c->rank, c->size, &first, &last);
    analysis_run r = {ds, first, o->seed, T, classes, pr, acc, cbs, conf};
    sbp_images_each(last - first, nt, 256, analyse_image, &r, o->progress, o->progress_user);
    /* Integer sums: the result does not depend on which thread saw which image. */
    for (int t = 0; t < nt; t++)
        activity_add(act, &acc[t]);
    if (correct_by_steps)
        for (int s = 0; s < T; s++) {
            correct_by_steps[s] = 0;
            for (int t = 0; t < nt; t++)
                correct_by_steps[s] += cbs[(size_t)t * T + s];
        }
    if (confusion)
        for (size_t j = 0; j < classes * classes; j++) {
            confusion[j] = 0;
            for (int t = 0; t < nt; t++)
                confusion[j] += conf[(size_t)t * classes * classes + j];
        }
    if (c->size > 1)
        st = reduce_counts(c, act, correct_by_steps, T, confusion, classes * classes, err);
done:
    if (pr)
        for (int i = 0; i < ready; i++)
            sbp_probe_free(&pr[i]);
    free(pr);
    free(acc);
    free(cbs);
    free(conf);
    return st;
}

static double ratio(double a, double b)
{
    return b > 0.0 ? a / b : NAN;
}

static void group_figures(sbp_layer_figures *g, const sbp_activity_count *c, double images,
                          int T)
{
    const double ni = (double)c->neurons * images;
    g->neurons = c->neurons;
    g->rate = ratio((double)c->spikes, ni * T);
    g->silent = ratio((double)c->silent, ni);
    g->saturated = ratio((double)c->saturated, ni);
}

void sbp_analysis_figures_of(const sbp_net *net, const sbp_activity *act, double mac_pj,
                             double ac_pj, sbp_analysis_figures *f)
{
    memset(f, 0, sizeof *f);
    const int T = act->T;
    const double im = (double)act->images;
    f->n_layers = act->n_layers;
    f->T = T;
    f->images = act->images;
    snprintf(f->input.name, sizeof f->input.name, "input");
    f->input.kind = "input";
    f->input.spiking = 1;
    group_figures(&f->input, &act->input, im, T);
    f->input.in_spikes = f->input.acs = f->input.macs_step = 0.0;
    f->input.density = NAN;
    for (int l = 0; l < act->n_layers; l++) {
        const sbp_layer *L = &net->layers[l];
        const sbp_activity_count *c = &act->layer[l];
        sbp_layer_figures *g = &f->layer[l];
        sbp_analysis_layer_name(net, l, g->name, sizeof g->name);
        g->kind = sbp_layer_kind_name(L->spec.kind);
        g->spiking = is_spiking(L);
        group_figures(g, c, im, T);
        if (!g->spiking)
            g->rate = g->silent = g->saturated = NAN;
        g->in_spikes = ratio((double)c->in_spikes, im);
        g->acs = ratio((double)(c->acs + c->acs_sc), im);
        g->macs_step = (double)sbp_analysis_layer_macs(net, l);
        g->density = ratio(g->acs, g->macs_step * T);
        f->acs += g->acs;
        if (!L->w_count) /* a layer without weights (pooling) only accumulates */
            f->acs_pool += g->acs;
        else if (L->sc && !L->sc->w_count)
            f->acs_pool += ratio((double)c->acs_sc, im);
        f->macs_step += g->macs_step;
    }
    f->macs_window = f->macs_step * T;
    f->ops_ratio = ratio(f->macs_step, f->acs);
    f->density = ratio(f->acs, f->macs_window);
    f->mac_pj = mac_pj;
    f->ac_pj = ac_pj;
    f->ann_energy_uj = f->macs_step * mac_pj * 1e-6;
    f->snn_energy_uj = f->acs * ac_pj * 1e-6;
    f->energy_ratio = ratio(f->ann_energy_uj, f->snn_energy_uj);
}

/* --------------------------------------------------------------------------- training summary */

sbp_status sbp_analysis_spike_rates(const sbp_net *net, const sbp_dataset *ds, int T,
                                    size_t images, uint64_t seed, double *rates, sbp_error *err)
{
    sbp_analysis_opts o;
    sbp_analysis_opts_default(&o);
    o.timesteps = T;
    o.images = images;
    o.seed = seed;
    sbp_activity act;
    sbp_status st = sbp_analysis_run(net, ds, &o, &act, NULL, NULL, err);
    if (st != SBP_OK)
        return st;
    for (int l = 0; l < net->n_layers; l++) {
        const sbp_activity_count *c = &act.layer[l];
        rates[l] = is_spiking(&net->layers[l])
                       ? ratio((double)c->spikes, (double)c->neurons * (double)act.images * T)
                       : NAN;
    }
    return SBP_OK;
}

/* Appends to buf at *len, never past size − 1; keeps the buffer NUL-terminated. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) SBP_PRINTF(4, 5);

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    *len = *len + (size_t)k < size - 1 ? *len + (size_t)k : size - 1;
}

int sbp_analysis_format_rates(const sbp_net *net, const double *rates, char *buf, size_t size)
{
    size_t len = 0;
    int warnings = 0;
    char name[32];
    if (size == 0)
        return 0;
    buf[0] = '\0';
    append(buf, size, &len, "spike rates:");
    for (int l = 0; l < net->n_layers; l++) {
        if (isnan(rates[l]))
            continue;
        sbp_analysis_layer_name(net, l, name, sizeof name);
        append(buf, size, &len, "  %d:%s %.2f %%", l + 1, name, 100.0 * rates[l]);
    }
    append(buf, size, &len, "  (spikes per neuron-step)\n");
    for (int l = 0; l < net->n_layers; l++) {
        if (isnan(rates[l]))
            continue;
        sbp_analysis_layer_name(net, l, name, sizeof name);
        if (rates[l] < SBP_ANALYSIS_SILENT_RATE) {
            warnings++;
            append(buf, size, &len,
                   "warning: layer %d (%s) is silent: %.3f %% of its neuron-steps spike "
                   "(< %.1f %%)\n",
                   l + 1, name, 100.0 * rates[l], 100.0 * SBP_ANALYSIS_SILENT_RATE);
        } else if (rates[l] > SBP_ANALYSIS_SATURATED_RATE) {
            warnings++;
            append(buf, size, &len,
                   "warning: layer %d (%s) is saturated: %.1f %% of its neuron-steps spike "
                   "(> %.0f %%)\n",
                   l + 1, name, 100.0 * rates[l], 100.0 * SBP_ANALYSIS_SATURATED_RATE);
        }
    }
    return warnings;
}

/* --------------------------------------------------------------------------- traces */

sbp_status sbp_analysis_trace(const sbp_net *net, const sbp_input *in, int T, int layer,
                              uint8_t *raster, const size_t *watch, int n_watch, float *membrane,
                              int threads, sbp_error *err)
{
    if (T < 1)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "trace: timesteps must be at least 1 (got %d)",
                        T);
    if (layer < 0 || layer >= net->n_layers)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "trace: layer %d does not exist (1 … %d)",
                        layer + 1, net->n_layers);
    const sbp_layer *L = &net->layers[layer];
    const size_t n = L->n_out, classes = net->layers[net->n_layers - 1].n_out;
    if (n_watch < 0 || (n_watch > 0 && (!watch || !membrane)))
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "trace: %d watched neurons without a buffer",
                        n_watch);
    for (int w = 0; w < n_watch; w++)
        if (watch[w] >= n)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "trace: neuron %zu of layer %d does not exist (it has %zu)", watch[w],
                            layer + 1, n);
    const int nt = sbp_workers(threads);
    float *out = malloc((size_t)nt * classes * sizeof(float)); /* (threads, classes) */
    float *hist = NULL;
    sbp_engine e;
    sbp_status st = SBP_OK;
    if (!out)
        return sbp_fail(err, SBP_ERR_NOMEM, "trace: out of memory");

    if (!is_spiking(L)) { /* the output layer: M[t] is recorded at every step in one pass */
        hist = malloc((size_t)T * classes * sizeof(float));
        if (!hist) {
            st = sbp_fail(err, SBP_ERR_NOMEM, "trace: out of memory");
            goto done;
        }
        st = sbp_engine_init(&e, net, T, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 1, err);
        if (st != SBP_OK)
            goto done;
        sbp_engine_set_weights(&e, net->params);
        sbp_engine_record_output(&e, hist);
        sbp_engine_forward(&e, in, out);
        sbp_engine_release(&e);
        if (raster)
            memset(raster, 0, (size_t)T * n);
        for (int t = 0; t < T; t++)
            for (int w = 0; w < n_watch; w++)
                membrane[(size_t)t * n_watch + w] = hist[(size_t)t * classes + watch[w]];
        goto done;
    }

    if (raster) { /* one pass keeping every step's spike bits (exact-mode training state) */
        st = sbp_engine_init(&e, net, T, &sbp_backend_cpu, 1, SBP_BACKWARD_EXACT, 1, err);
        if (st != SBP_OK)
            goto done;
        sbp_engine_set_weights(&e, net->params);
        sbp_engine_forward(&e, in, out);
        for (int t = 0; t < T; t++)
            for (size_t i = 0; i < n; i++)
                raster[(size_t)t * n + i] =
                    (uint8_t)sbp_spike_get(e.st[layer].bits,
                                           sbp_spike_bit(n, t, sbp_engine_neuron(&e, layer, i)));
        sbp_engine_release(&e);
    }

    if (n_watch > 0) { /* V[t] = the membrane at the end of a window of t+1 steps */
        sbp_status worst = SBP_OK;
        sbp_error perr = {0};
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int k = T; k >= 1; k--) { /* longest windows first: better balance */
            sbp_engine ek;
            sbp_error kerr = {0};
            float *o = out + (size_t)omp_get_thread_num() * classes;
            sbp_status sk = sbp_engine_init(&ek, net, k, &sbp_backend_cpu, 0, SBP_BACKWARD_EXACT, 1,
                                            &kerr);
            if (sk != SBP_OK) {
#pragma omp critical(sbp_trace_error)
                if (worst == SBP_OK) {
                    worst = sk;
                    perr = kerr;
                }
                continue;
            }
            sbp_engine_set_weights(&ek, net->params);
            sbp_engine_forward(&ek, in, o);
            for (int w = 0; w < n_watch; w++)
                membrane[(size_t)(k - 1) * n_watch + w] =
                    ek.st[layer].v[sbp_engine_neuron(&ek, layer, watch[w])];
            sbp_engine_release(&ek);
        }
        if (worst != SBP_OK) {
            if (err)
                *err = perr;
            st = worst;
        }
    }
done:
    free(out);
    free(hist);
    return st;
}
