/*
 * test_golden.c — both backward modes of §3 against the independent float64 NumPy reference
 * (tests/golden/gen_golden.py writes tests/golden/NAME.txt), with the plain-loop reference path and
 * the fast path, and with several chunk lengths (the fast path's chunking must not matter).
 * Checked per sample-batch: outputs o, loss, spike counts γ, NG, and dL/dW of every layer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "backend/host/neuron.h"
#include "engine/engine.h"

#define MAX_T 64

typedef struct tensor {
    char name[32];
    int ndim, dims[8];
    size_t n;
    double *v;
} tensor;

typedef struct fixture {
    int n;
    tensor t[MAX_T];
} fixture;

static int load_fixture(fixture *f, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    memset(f, 0, sizeof *f);
    char line[256];
    while (fscanf(fp, " %255s", line) == 1) {
        if (line[0] == '#') {
            int ch;
            while ((ch = fgetc(fp)) != '\n' && ch != EOF)
                ;
            continue;
        }
        if (strcmp(line, "tensor") != 0 || f->n == MAX_T)
            break;
        tensor *t = &f->t[f->n++];
        if (fscanf(fp, " %31s %d", t->name, &t->ndim) != 2 || t->ndim < 1 || t->ndim > 8)
            break;
        t->n = 1;
        for (int i = 0; i < t->ndim; i++) {
            if (fscanf(fp, " %d", &t->dims[i]) != 1)
                break;
            t->n *= (size_t)t->dims[i];
        }
        t->v = malloc(t->n * sizeof(double));
        for (size_t i = 0; i < t->n; i++)
            if (fscanf(fp, " %lf", &t->v[i]) != 1)
                break;
    }
    fclose(fp);
    return f->n > 0;
}

static const tensor *get(const fixture *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name))
            return &f->t[i];
    return NULL;
}

static void free_fixture(fixture *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->t[i].v);
}

/* Relative-plus-absolute closeness, reported once per tensor with the worst element. */
static void check_close(const char *what, const float *got, const double *want, size_t n,
                        double rtol, double atol)
{
    size_t worst = 0;
    double worst_ex = -1;
    for (size_t i = 0; i < n; i++) {
        double ex = fabs(got[i] - want[i]) - (atol + rtol * fabs(want[i]));
        if (ex > worst_ex || !isfinite(got[i])) {
            worst_ex = isfinite(got[i]) ? ex : INFINITY;
            worst = i;
        }
    }
    CHECK(worst_ex <= 0, "%s: element %zu is %.9g, reference %.9g", what, worst, got[worst],
          want[worst]);
}

/* The networks the generator builds (gen_golden.py, docstring). */
static void build_spec(sbp_net_spec *s, const char *name)
{
    sbp_error err = {0};
    if (!strcmp(name, "small")) {
        sbp_net_spec_parse(s, "8x8x1-4C3-P2-5C3/2-6FC-3", &err);
        s->layers[0].dropout = s->layers[2].dropout = s->layers[3].dropout = 0.25f;
    } else if (!strcmp(name, "lenetlike")) {
        sbp_net_spec_parse(s, "12x12x1-6C5-P2-8C3-P2-16FC-4", &err);
    } else { /* residual: a 1×1 stride-2 conv shortcut into layer 2, a subsample into layer 4 */
        sbp_net_spec_parse(s, "8x8x2-4C3-4C3-6C3/2-6C3-6C3/2-5FC-3", &err);
        for (int l = 0; l < 6; l++)
            s->layers[l].dropout = 0.25f;
        s->layers[2].shortcut = SBP_SHORTCUT_CONV;
        s->layers[2].shortcut_from = 0;
        s->layers[4].shortcut = SBP_SHORTCUT_SUBSAMPLE;
        s->layers[4].shortcut_from = 2;
    }
}

static void run_case(const char *name, const sbp_backend *impl, int tc, sbp_backward mode)
{
    char path[1024], rel[128], what[160];
    snprintf(rel, sizeof rel, "tests/golden/%s.txt", name);
    fixture f;
    if (!load_fixture(&f, check_source_path(rel, path, sizeof path))) {
        CHECK(0, "cannot read fixture %s", path);
        return;
    }
    const tensor *cfg = get(&f, "config"), *input = get(&f, "input"), *label = get(&f, "label");
    const int T = (int)cfg->v[0], N = (int)cfg->v[1];
    sbp_net_spec spec;
    build_spec(&spec, name);
    sbp_net *net = NULL;
    sbp_error err = {0};
    CHECK(sbp_net_create(&net, &spec, 1, &err) == SBP_OK, "net: %s", err.msg);
    CHECK(net->n_layers == (int)cfg->v[2], "%s: layer count", name);
    for (int l = 0; l < net->n_layers; l++) {
        char wn[32];
        snprintf(wn, sizeof wn, "weight%d", l);
        const tensor *w = get(&f, wn);
        if (!w)
            continue;
        CHECK(w->n == net->layers[l].w_count, "%s: %s size", name, wn);
        for (size_t i = 0; i < w->n; i++)
            net->params[net->layers[l].w_offset + i] = (float)w->v[i];
        snprintf(wn, sizeof wn, "shortcut%d", l);
        const tensor *sw = get(&f, wn);
        size_t nsc = 0;
        float *scw = sbp_net_shortcut_weights(net, l, &nsc);
        CHECK(!sw == !scw, "%s: layer %d shortcut weights in fixture and net disagree", name, l);
        if (sw && scw) {
            CHECK(sw->n == nsc, "%s: %s size", name, wn);
            for (size_t i = 0; i < sw->n && i < nsc; i++)
                scw[i] = (float)sw->v[i];
        }
    }
    sbp_engine e;
    CHECK(sbp_engine_init(&e, net, T, impl, 1, mode, tc, &err) == SBP_OK, "engine: %s", err.msg);
    sbp_engine_set_weights(&e, net->params);
    float *grad = calloc(net->n_params, sizeof(float));
    const size_t nin = net->layers[0].n_in;
    float *spikes = malloc(sizeof(float) * (size_t)T * nin);
    float out[16], gout[16];
    double loss = 0;
    const char *mname = sbp_backward_name(mode);
    const char *iname = impl == &sbp_backend_reference ? "reference" : "fast";
    for (int s = 0; s < N; s++) {
        for (size_t i = 0; i < (size_t)T * nin; i++)
            spikes[i] = (float)input->v[(size_t)s * T * nin + i];
        for (int l = 0; l < net->n_layers; l++) {
            char mn[32];
            snprintf(mn, sizeof mn, "mask%d", l);
            const tensor *m = get(&f, mn);
            e.st[l].mask = NULL;
            if (m && e.mask[l]) {
                for (size_t i = 0; i < net->layers[l].n_out; i++)
                    e.mask[l][sbp_engine_neuron(&e, l, i)] =
                        (float)m->v[(size_t)s * net->layers[l].n_out + i];
                e.st[l].mask = e.mask[l];
            }
        }
        sbp_input in = {.spikes = spikes};
        sbp_engine_forward(&e, &in, out);
        const int classes = (int)net->layers[net->n_layers - 1].n_out, lab = (int)label->v[s];
        for (int k = 0; k < classes; k++) {
            double d = out[k] - (k == lab);
            loss += d * d;
            gout[k] = (float)(2 * d);
        }
        snprintf(what, sizeof what, "%s/%s/%s tc=%d sample %d: o", name, iname, mname, e.tc, s);
        check_close(what, out, get(&f, "out")->v + (size_t)s * classes, (size_t)classes, 1e-4,
                    1e-6);
        for (int l = 0; l < net->n_layers - 1; l++) {
            char cn[32];
            const size_t no = net->layers[l].n_out;
            snprintf(cn, sizeof cn, "count%d", l);
            const tensor *ct = get(&f, cn);
            snprintf(what, sizeof what, "%s/%s/%s sample %d: %s", name, iname, mname, s, cn);
            /* the engine's neuron order (sbp_engine_neuron) → PyTorch's */
            float *cnt = malloc(no * sizeof(float));
            for (size_t i = 0; i < no; i++)
                cnt[i] = e.st[l].count[sbp_engine_neuron(&e, l, i)];
            check_close(what, cnt, ct->v + (size_t)s * no, no, 0, 0);
            free(cnt);
            snprintf(cn, sizeof cn, "ng%d", l);
            const tensor *ng = get(&f, cn);
            if (ng) {
                float *eng = malloc(no * sizeof(float)), *fac = malloc(no * sizeof(float));
                sbp_neuron_surrogate(eng, &e.st[l], &net->layers[l], SBP_BACKWARD_EXACT);
                for (size_t i = 0; i < no; i++) { /* factor = NG·mask/Vth; Vth = 1 */
                    const size_t j = sbp_engine_neuron(&e, l, i);
                    fac[i] = eng[j];
                    if (e.st[l].mask)
                        fac[i] = e.st[l].mask[j] > 0 ? eng[j] / e.st[l].mask[j]
                                                     : (float)ng->v[(size_t)s * no + i];
                }
                free(eng);
                snprintf(what, sizeof what, "%s/%s/%s sample %d: %s", name, iname, mname, s, cn);
                check_close(what, fac, ng->v + (size_t)s * no, no, 1e-6, 1e-6);
                free(fac);
            }
        }
        sbp_engine_backward(&e, gout);
    }
    sbp_engine_take_grad(&e, grad);
    const tensor *lt = get(&f, "loss");
    snprintf(what, sizeof what, "%s/%s/%s loss", name, iname, mname);
    CHECK(fabs(loss - lt->v[0]) <= 1e-5 * fabs(lt->v[0]) + 1e-7, "%s: %.9g vs %.9g", what, loss,
          lt->v[0]);
    for (int l = 0; l < net->n_layers; l++) {
        char gn[48];
        snprintf(gn, sizeof gn, "grad_%s%d", mname, l);
        const tensor *g = get(&f, gn);
        if (!net->layers[l].w_count)
            continue;
        CHECK(g != NULL, "%s: fixture lacks %s", name, gn);
        if (!g)
            continue;
        double scale = 0;
        for (size_t i = 0; i < g->n; i++)
            scale = fmax(scale, fabs(g->v[i]));
        snprintf(what, sizeof what, "%s/%s/%s tc=%d: %s", name, iname, mname, e.tc, gn);
        check_close(what, grad + net->layers[l].w_offset, g->v, g->n, 1e-4, 1e-5 * scale + 1e-9);
        size_t nsc = 0;
        float *scw = sbp_net_shortcut_weights(net, l, &nsc);
        if (!scw)
            continue;
        snprintf(gn, sizeof gn, "grad_%s_shortcut%d", mname, l);
        const tensor *gs = get(&f, gn);
        CHECK(gs && gs->n == nsc, "%s: fixture lacks %s", name, gn);
        if (gs && gs->n == nsc) {
            snprintf(what, sizeof what, "%s/%s/%s tc=%d: %s", name, iname, mname, e.tc, gn);
            check_close(what, grad + (scw - net->params), gs->v, gs->n, 1e-4, 1e-5 * scale + 1e-9);
        }
    }
    free(grad);
    free(spikes);
    sbp_engine_release(&e);
    sbp_net_free(net);
    free_fixture(&f);
}

int main(void)
{
    const char *cases[] = {"small", "lenetlike", "residual"};
    for (int c = 0; c < 3; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++) {
            run_case(cases[c], &sbp_backend_reference, 0, (sbp_backward)m);
            run_case(cases[c], &sbp_backend_cpu, 0, (sbp_backward)m);  /* one chunk */
            run_case(cases[c], &sbp_backend_cpu, 1, (sbp_backward)m);  /* step by step */
            run_case(cases[c], &sbp_backend_cpu, 5, (sbp_backward)m);  /* uneven chunks */
        }
    return check_finish("golden");
}
