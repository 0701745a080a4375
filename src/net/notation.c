/*
 * notation.c — the paper's network notation ("28x28x1-20C5-P2-50C5-P2-200FC-10", §5), parsed
 * strictly: any token that is not understood is an error naming the token and its position.
 * The input token is this file's; every layer token belongs to a kind's row (kinds/kind.h),
 * which this file tries in enum order.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "net/kinds/kind.h"
#include "net/spec.h"

/* "nCk, nCk/s, P2, nFC or a final class count": every row's tokens, for messages. */
static void token_list(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < SBP_LAYER_KIND_COUNT; k++) {
        const char *sep = k == 0 ? "" : k == SBP_LAYER_KIND_COUNT - 1 ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep,
                         sbp_kind_of((sbp_layer_kind)k)->notation);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

sbp_status sbp_net_spec_parse(sbp_net_spec *spec, const char *text, sbp_error *err)
{
    sbp_net_spec_defaults(spec);
    if (!text || !*text)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: empty string");
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: longer than %zu characters",
                        sizeof buf - 1);
    strcpy(buf, text);
    if (text[0] == '-' || text[strlen(text) - 1] == '-' || strstr(text, "--"))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "network notation '%s': empty token (leading, trailing or doubled '-')",
                        text);

    int idx = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "-", &save); tok; tok = strtok_r(NULL, "-", &save), idx++) {
        const char *p = tok;
        if (idx == 0) { /* HxWxC */
            long h = sbp_kind_parse_count(&p), w = -1, c = -1;
            if (h > 0 && *p == 'x' && (p++, w = sbp_kind_parse_count(&p)) > 0 && *p == 'x' &&
                (p++, c = sbp_kind_parse_count(&p)) > 0 && *p == '\0') {
                spec->in_h = (int)h;
                spec->in_w = (int)w;
                spec->in_c = (int)c;
                continue;
            }
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "network notation: first token '%s' must be the input HxWxC, e.g. "
                            "28x28x1",
                            tok);
        }
        if (spec->n_layers >= SBP_MAX_LAYERS)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: more than %d layers",
                            SBP_MAX_LAYERS);
        if (spec->n_layers > 0 &&
            sbp_kind_of(spec->layers[spec->n_layers - 1].kind)->flags & SBP_KIND_FINAL)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "network notation: token %d '%s' follows the output layer", idx + 1,
                            tok);
        sbp_layer_spec *l = &spec->layers[spec->n_layers];
        int ok = 0;
        for (int k = 0; k < SBP_LAYER_KIND_COUNT && !ok; k++) { /* tokens are disjoint */
            memset(l, 0, sizeof *l);
            ok = sbp_kind_of((sbp_layer_kind)k)->notation_parse(l, tok);
        }
        if (ok) {
            spec->n_layers++;
            continue;
        }
        char list[256];
        token_list(list, sizeof list);
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "network notation: token %d '%s' is not one of %s", idx + 1, tok, list);
    }
    if (idx == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: empty string");
    if (spec->n_layers == 0 ||
        !(sbp_kind_of(spec->layers[spec->n_layers - 1].kind)->flags & SBP_KIND_FINAL))
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "network notation '%s': must end with the number of output classes",
                        text);
    return SBP_OK;
}

sbp_status sbp_net_spec_format(const sbp_net_spec *spec, char *buf, size_t size, sbp_error *err)
{
    size_t used = 0;
    int n = snprintf(buf, size, "%dx%dx%d", spec->in_h, spec->in_w, spec->in_c);
    if (n < 0 || (size_t)n >= size)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: buffer too small");
    used = (size_t)n;
    for (int i = 0; i < spec->n_layers; i++) {
        const sbp_layer_spec *l = &spec->layers[i];
        const sbp_kind *K = sbp_kind_of(l->kind);
        if (!K)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "layer %d: unknown kind", i + 1);
        if (l->shortcut != SBP_SHORTCUT_NONE)
            return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                            "network notation: layer %d has a residual shortcut, which the "
                            "paper's notation cannot express",
                            i + 1);
        char tok[64];
        sbp_status st = K->notation_format(l, i, tok, sizeof tok, err);
        if (st != SBP_OK)
            return st;
        size_t tl = strlen(tok);
        if (used + tl >= size)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: buffer too small");
        memcpy(buf + used, tok, tl + 1);
        used += tl;
    }
    return SBP_OK;
}
