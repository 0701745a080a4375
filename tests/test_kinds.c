/*
 * test_kinds.c — the table of layer kinds (src/net/kinds/kind.h): every row complete and
 * consistent with itself (names, keys, parameter shapes against the weight counts shape
 * inference gives, initialisation), and the parsers driven by it behaving as each row declares
 * (notation tokens round-trip; every required key, range and repetition of a description key
 * is enforced with SBP_ERR_FORMAT and the line). The numbers of each kind are checked elsewhere
 * against independent references (test_netfile: §5 parameter counts; test_analysis: fan-outs
 * by brute force and §8 MACs; test_model: tensor shapes in files).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/kinds/kind.h"
#include "net/net.h"

static void rows_complete(void)
{
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
        const sbp_kind *K = sbp_kind_of((sbp_layer_kind)k);
        CHECK(K != NULL, "kind %d has no row", k);
        if (!K)
            continue;
        CHECK(K->name && !strcmp(K->name, sbp_layer_kind_name((sbp_layer_kind)k)) &&
                  sbp_kind_find(K->name) == (sbp_layer_kind)k,
              "kind %d: name and lookup disagree", k);
        for (int j = 0; j < k; j++)
            CHECK(strcmp(K->name, sbp_kind_of((sbp_layer_kind)j)->name) != 0,
                  "kinds %d and %d share the name %s", j, k, K->name);
        CHECK(K->notation && K->notation_parse && K->notation_format && K->infer &&
                  K->param_shape && K->fanout && K->macs && K->label && K->keys,
              "%s: row has an empty slot", K->name);
        CHECK(K->n_keys >= 1 && K->n_keys <= 32, "%s: %d keys (netfile keeps a bit per key)",
              K->name, K->n_keys);
        for (int a = 0; a < K->n_keys; a++) {
            const sbp_kind_key *x = &K->keys[a];
            for (int b = 0; b < a; b++)
                CHECK(strcmp(x->key, K->keys[b].key) != 0, "%s: key %s twice", K->name, x->key);
            if (x->type == SBP_KEY_INT || x->type == SBP_KEY_FLOAT)
                CHECK(x->lo <= x->hi && x->field + sizeof(int) <= sizeof(sbp_layer_spec),
                      "%s.%s: range or field", K->name, x->key);
        }
    }
    int finals = 0;
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++)
        finals += !!(sbp_kind_of((sbp_layer_kind)k)->flags & SBP_KIND_FINAL);
    CHECK(finals == 1, "%d final kinds: the notation's last token needs exactly one", finals);
    CHECK(sbp_kind_of(SBP_LAYER_KIND_COUNT) == NULL && sbp_kind_of((sbp_layer_kind)-1) == NULL,
          "out-of-range kinds must have no row");
    CHECK(sbp_kind_find("lstm") == SBP_LAYER_KIND_COUNT && sbp_kind_find("") ==
                                                              SBP_LAYER_KIND_COUNT,
          "unknown names must find no kind");
    CHECK(!strcmp(sbp_layer_kind_name(SBP_LAYER_KIND_COUNT), "?"), "name of an unknown kind");
}

/* Every resolved layer (and shortcut) of a network: the row's parameter shape multiplies out
 * to the weight count shape inference gave, and weightless layers have neither shape nor
 * initialiser. */
static void check_params(const char *what, const sbp_net_spec *spec)
{
    sbp_layer layers[SBP_MAX_LAYERS], shortcuts[SBP_MAX_LAYERS];
    size_t n = 0, sum = 0;
    sbp_error err = {0};
    if (sbp_net_resolve(layers, shortcuts, &n, spec, &err) != SBP_OK) {
        CHECK(0, "%s: %s", what, err.msg);
        return;
    }
    for (int i = 0; i < spec->n_layers; i++)
        for (int part = 0; part < 2; part++) {
            const sbp_layer *L = part ? layers[i].sc : &layers[i];
            if (!L)
                continue;
            const sbp_kind *K = sbp_kind_of(L->spec.kind);
            size_t shape[4] = {0, 0, 0, 0}, prod = 1;
            int nd = K->param_shape(L, shape);
            for (int d = 0; d < nd; d++)
                prod *= shape[d];
            if (part && !L->w_count) /* parameter-free shortcut: a conv geometry, no tensor */
                continue;
            CHECK(nd >= 0 && nd <= 4 && (nd ? prod : 0) == L->w_count,
                  "%s layer %d%s (%s): shape of %d dims, %zu elements, %zu weights", what, i + 1,
                  part ? " shortcut" : "", K->name, nd, nd ? prod : 0, L->w_count);
            CHECK(!K->init == !L->w_count, "%s layer %d: initialiser without weights or back",
                  what, i + 1);
            CHECK(K->macs(L) == (L->w_count ? (uint64_t)L->n_out * (uint64_t)L->fan_in : 0),
                  "%s layer %d: MACs", what, i + 1);
            if (part)
                CHECK(nd == 4 && shape[0] == (size_t)layers[i].out_c && shape[2] == 1 &&
                          shape[3] == 1,
                      "%s layer %d: a conv shortcut is (C_out, C_in, 1, 1)", what, i + 1);
            sum += L->w_count;
        }
    CHECK(sum == n, "%s: %zu weights in tensors, %zu in the arena", what, sum, n);
}

static void params(void)
{
    static const char *const builtin[] = {"lenet", "vgg9", "vgg7", "resnet11", "resnet9"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        sbp_net_spec spec;
        sbp_error err = {0};
        CHECK(sbp_net_spec_builtin(&spec, builtin[i], &err) == SBP_OK, "%s", err.msg);
        check_params(builtin[i], &spec);
    }
}

/* The notation: every kind's token formats back to itself. */
static void notation_round_trip(void)
{
    static const char *const nets[] = {
        "28x28x1-20C5-P2-50C5-P2-200FC-10", "9x7x3-4C3/2-P2-5C1-6FC-7FC-2",
        "32x32x3-64C3-64C3-P2-10", "1x1x5-3",
    };
    int seen[SBP_LAYER_KIND_COUNT] = {0};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        sbp_net_spec spec;
        sbp_error err = {0};
        char buf[256] = "";
        CHECK(sbp_net_spec_parse(&spec, nets[i], &err) == SBP_OK &&
                  sbp_net_spec_format(&spec, buf, sizeof buf, &err) == SBP_OK &&
                  !strcmp(buf, nets[i]),
              "'%s' formats as '%s' (%s)", nets[i], buf, err.msg);
        for (int l = 0; l < spec.n_layers; l++)
            seen[spec.layers[l].kind]++;
    }
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++)
        CHECK(seen[k], "no notation test for kind %s", sbp_layer_kind_name((sbp_layer_kind)k));
    /* The message for an unknown token lists every row's token. */
    sbp_net_spec spec;
    sbp_error err = {0};
    CHECK(sbp_net_spec_parse(&spec, "28x28x1-3Q-10", &err) == SBP_ERR_INVALID_ARG &&
              strstr(err.msg, "token 2 '3Q' is not one of nCk, nCk/s, P2, nFC or a final class "
                              "count"),
          "unknown token: %s", err.msg);
}

/* A description with one section of kind K holding `body`, then an [output] unless K is the
 * final kind. The section starts on line 3. */
static sbp_status describe(const sbp_kind *K, const char *body, sbp_error *err)
{
    char text[1024];
    snprintf(text, sizeof text, "[input]\nshape = 8x8x1\n[%s]\n%s%s", K->name, body,
             K->flags & SBP_KIND_FINAL ? "" : "[output]\nclasses = 2\n");
    sbp_net_spec spec;
    return sbp_net_spec_parse_description(&spec, text, "k.net", err);
}

/* The lines "key = lowest value" of every required key of K except `skip`. */
static void required_lines(const sbp_kind *K, int skip, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < K->n_keys; k++)
        if (K->keys[k].required && k != skip)
            used += (size_t)snprintf(buf + used, size - used, "%s = %ld\n", K->keys[k].key,
                                     (long)K->keys[k].lo);
}

static void description_keys(void)
{
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
        const sbp_kind *K = sbp_kind_of((sbp_layer_kind)k);
        char req[256], body[512];
        sbp_error err = {0};
        required_lines(K, -1, req, sizeof req);
        CHECK(describe(K, req, &err) == SBP_OK, "[%s] with its required keys: %s", K->name,
              err.msg);
        for (int j = 0; j < K->n_keys; j++) {
            const sbp_kind_key *x = &K->keys[j];
            char others[256]; /* the other required keys, valid */
            required_lines(K, j, others, sizeof others);
            if (x->required) {
                sbp_status st = describe(K, others, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "k.net:3:") &&
                          strstr(err.msg, x->key),
                      "[%s] without %s: %d '%s'", K->name, x->key, (int)st, err.msg);
            }
            if (x->type == SBP_KEY_INT) {
                snprintf(body, sizeof body, "%s%s = %ld\n", others, x->key, (long)x->hi + 1);
                sbp_status st = describe(K, body, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "not a valid value"),
                      "[%s] %s above its range: %d '%s'", K->name, x->key, (int)st, err.msg);
                snprintf(body, sizeof body, "%s%s = %ld\n", others, x->key, (long)x->lo - 1);
                st = describe(K, body, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "not a valid value"),
                      "[%s] %s below its range: %d '%s'", K->name, x->key, (int)st, err.msg);
            }
            if (x->type == SBP_KEY_FLOAT) {
                snprintf(body, sizeof body, "%s%s = %.17g\n", others, x->key, x->hi * 1.5 + 1);
                sbp_status st = describe(K, body, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "not a valid value"),
                      "[%s] %s above its range: %d '%s'", K->name, x->key, (int)st, err.msg);
            }
            /* Given twice: the second one is the error. */
            if (x->type == SBP_KEY_INT || x->type == SBP_KEY_NAME) {
                const char *v = x->type == SBP_KEY_NAME ? "a" : "1";
                snprintf(body, sizeof body, "%s%s = %s\n%s = %s\n", others, x->key, v, x->key, v);
                sbp_status st = describe(K, body, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "given twice"),
                      "[%s] %s twice: %d '%s'", K->name, x->key, (int)st, err.msg);
            }
        }
        /* Keys of the other rows that this one lacks do not belong here. */
        for (int o = 0; o < SBP_LAYER_KIND_COUNT; o++) {
            const sbp_kind *O = sbp_kind_of((sbp_layer_kind)o);
            for (int j = 0; j < O->n_keys; j++) {
                int mine = 0;
                for (int m = 0; m < K->n_keys; m++)
                    mine |= !strcmp(K->keys[m].key, O->keys[j].key);
                if (mine)
                    continue;
                snprintf(body, sizeof body, "%s%s = 1\n", req, O->keys[j].key);
                sbp_status st = describe(K, body, &err);
                CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, "does not belong"),
                      "[%s] with %s's key %s: %d '%s'", K->name, O->name, O->keys[j].key,
                      (int)st, err.msg);
            }
        }
    }
}

/* §4 on a resolved layer: the row's initialiser draws N(0, gain/fan_in) — the sample variance
 * of a large layer is within a few standard errors of it. */
static void init_variance(void)
{
    sbp_net_spec spec;
    sbp_error err = {0};
    CHECK(sbp_net_spec_parse(&spec, "16x16x4-32C5-P2-300FC-10", &err) == SBP_OK, "%s",
          err.msg);
    sbp_net *net = NULL;
    CHECK(sbp_net_create(&net, &spec, 3, &err) == SBP_OK, "%s", err.msg);
    if (!net)
        return;
    for (int i = 0; i < net->n_layers; i++) {
        const sbp_layer *L = &net->layers[i];
        if (!L->w_count)
            continue;
        const float *w = net->params + L->w_offset;
        double s2 = 0;
        for (size_t j = 0; j < L->w_count; j++)
            s2 += (double)w[j] * w[j];
        double var = s2 / (double)L->w_count, want = 2.0 / L->fan_in;
        double se = want * sqrt(2.0 / (double)L->w_count); /* sd of a χ² variance estimate */
        CHECK(fabs(var - want) < 5 * se, "layer %d (%s): weight variance %g, §4 says %g",
              i + 1, sbp_layer_kind_name(L->spec.kind), var, want);
    }
    sbp_net_free(net);
}

int main(void)
{
    rows_complete();
    params();
    notation_round_trip();
    description_keys();
    init_variance();
    return check_finish("kinds");
}
