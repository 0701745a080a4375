/*
 * spec.c — network descriptions: the built-in networks of §5 and the paper's notation
 * ("28x28x1-20C5-P2-50C5-P2-200FC-10"), parsed strictly: any token that is not understood is
 * an error naming the token and its position.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "spikebp.h"

static const char *const kind_names[] = {
    [SBP_LAYER_CONV] = "conv",
    [SBP_LAYER_POOL] = "pool",
    [SBP_LAYER_DENSE] = "dense",
    [SBP_LAYER_OUTPUT] = "output",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == SBP_LAYER_KIND_COUNT,
               "one name per layer kind");

const char *sbp_layer_kind_name(sbp_layer_kind k)
{
    return (unsigned)k < SBP_LAYER_KIND_COUNT ? kind_names[k] : "?";
}

static void spec_defaults(sbp_net_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->leak = 0.99f;
    spec->vth = 1.0f;
    spec->vth_pool = 0.75f;
    spec->init_gain = 2.0f;
}

/* Parses a positive decimal integer at *p, advancing it; -1 if none or out of range. */
static long parse_count(const char **p)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(*p, &end, 10);
    if (errno || v <= 0 || v > 1000000)
        return -1;
    *p = end;
    return v;
}

sbp_status sbp_net_spec_parse(sbp_net_spec *spec, const char *text, sbp_error *err)
{
    spec_defaults(spec);
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
            long h = parse_count(&p), w = -1, c = -1;
            if (h > 0 && *p == 'x' && (p++, w = parse_count(&p)) > 0 && *p == 'x' &&
                (p++, c = parse_count(&p)) > 0 && *p == '\0') {
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
        if (spec->n_layers > 0 && spec->layers[spec->n_layers - 1].kind == SBP_LAYER_OUTPUT)
            return sbp_fail(err, SBP_ERR_INVALID_ARG,
                            "network notation: token %d '%s' follows the output layer", idx + 1,
                            tok);
        sbp_layer_spec *l = &spec->layers[spec->n_layers];
        memset(l, 0, sizeof *l);
        if (strcmp(tok, "P2") == 0) {
            l->kind = SBP_LAYER_POOL;
            spec->n_layers++;
            continue;
        }
        long n = parse_count(&p);
        if (n > 0 && *p == 'C') {
            p++;
            long k = parse_count(&p), s = 1;
            if (k > 0 && *p == '/') {
                p++;
                s = parse_count(&p);
            }
            if (k > 0 && s > 0 && *p == '\0') {
                l->kind = SBP_LAYER_CONV;
                l->out = (int)n;
                l->kernel = (int)k;
                l->stride = (int)s;
                l->pad = (int)(k - 1) / 2;
                spec->n_layers++;
                continue;
            }
        } else if (n > 0 && strcmp(p, "FC") == 0) {
            l->kind = SBP_LAYER_DENSE;
            l->out = (int)n;
            spec->n_layers++;
            continue;
        } else if (n > 0 && *p == '\0') {
            l->kind = SBP_LAYER_OUTPUT;
            l->out = (int)n;
            spec->n_layers++;
            continue;
        }
        return sbp_fail(err, SBP_ERR_INVALID_ARG,
                        "network notation: token %d '%s' is not one of nCk, nCk/s, P2, nFC or a "
                        "final class count",
                        idx + 1, tok);
    }
    if (idx == 0)
        return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: empty string");
    if (spec->n_layers == 0 || spec->layers[spec->n_layers - 1].kind != SBP_LAYER_OUTPUT)
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
        char tok[64];
        switch (l->kind) {
        case SBP_LAYER_CONV:
            if (l->shortcut != SBP_SHORTCUT_NONE)
                return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                                "network notation: layer %d has a residual shortcut, which the "
                                "paper's notation cannot express",
                                i + 1);
            if (l->pad != (l->kernel - 1) / 2)
                return sbp_fail(err, SBP_ERR_UNSUPPORTED,
                                "network notation: layer %d has padding %d, which the paper's "
                                "notation cannot express",
                                i + 1, l->pad);
            if (l->stride == 1)
                snprintf(tok, sizeof tok, "-%dC%d", l->out, l->kernel);
            else
                snprintf(tok, sizeof tok, "-%dC%d/%d", l->out, l->kernel, l->stride);
            break;
        case SBP_LAYER_POOL: snprintf(tok, sizeof tok, "-P2"); break;
        case SBP_LAYER_DENSE: snprintf(tok, sizeof tok, "-%dFC", l->out); break;
        case SBP_LAYER_OUTPUT: snprintf(tok, sizeof tok, "-%d", l->out); break;
        default: return sbp_fail(err, SBP_ERR_INVALID_ARG, "layer %d: unknown kind", i + 1);
        }
        size_t tl = strlen(tok);
        if (used + tl >= size)
            return sbp_fail(err, SBP_ERR_INVALID_ARG, "network notation: buffer too small");
        memcpy(buf + used, tok, tl + 1);
        used += tl;
    }
    return SBP_OK;
}

/* Built-in networks (§5). LeNet and VGG9 are the reference code's networks; ResNet11 is the
 * reference code's residual network; VGG7 (SVHN) and ResNet9 appear in the paper only, and
 * the layer lists below are OUR READING of it (README, "Built-in networks"). Dropout and
 * initialisation per §4. Descriptions use the format of netfile.c. */
static const char vgg9[] = "[input]\nshape = 32x32x3\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[dense]\nunits = 1024\ndropout = 0.2\n[output]\nclasses = 10\n";

/* Our reading: VGG9 without its third 256-filter stage (5 conv + 2 dense weight layers). */
static const char vgg7[] = "[input]\nshape = 32x32x3\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 64\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n"
                           "[conv]\nfilters = 128\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[conv]\nfilters = 256\nkernel = 3\ndropout = 0.2\n[pool]\n"
                           "[dense]\nunits = 1024\ndropout = 0.2\n[output]\nclasses = 10\n";

#define RES_CONV(f, extra) "[conv]\nfilters = " #f "\nkernel = 3\ndropout = 0.25\n" extra

static const char resnet11[] =
    "[input]\nshape = 32x32x3\n[neuron]\ninit_gain = 1\n" RES_CONV(64, "") "[pool]\nname = p1\n"
    /* B1 64→128, 1×1 conv shortcut */
    RES_CONV(128, "") RES_CONV(128, "shortcut = conv\nfrom = p1\nname = b1\n")
    /* B2 128→256, second conv stride 2, 1×1 stride-2 conv shortcut */
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = conv\nfrom = b1\nname = b2\n")
    /* B3 256→512, 1×1 conv shortcut */
    RES_CONV(512, "") RES_CONV(512, "shortcut = conv\nfrom = b2\nname = b3\n")
    /* B4 512→512, second conv stride 2, stride-2 subsample shortcut */
    RES_CONV(512, "") RES_CONV(512, "stride = 2\nshortcut = subsample\nfrom = b3\n")
    "[dense]\nunits = 1024\ndropout = 0.25\n[output]\nclasses = 10\n";

/* Our reading: ResNet11 without block B3; B4 then maps 256→256 (subsample shortcut). */
static const char resnet9[] =
    "[input]\nshape = 32x32x3\n[neuron]\ninit_gain = 1\n" RES_CONV(64, "") "[pool]\nname = p1\n"
    RES_CONV(128, "") RES_CONV(128, "shortcut = conv\nfrom = p1\nname = b1\n")
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = conv\nfrom = b1\nname = b2\n")
    RES_CONV(256, "") RES_CONV(256, "stride = 2\nshortcut = subsample\nfrom = b2\n")
    "[dense]\nunits = 1024\ndropout = 0.25\n[output]\nclasses = 10\n";

static const struct {
    const char *name;
    const char *notation;    /* paper notation, or NULL */
    const char *description; /* description text, or NULL */
} builtins[] = {
    {"lenet", "28x28x1-20C5-P2-50C5-P2-200FC-10", NULL},
    {"vgg9", NULL, vgg9},
    {"vgg7", NULL, vgg7},
    {"resnet11", NULL, resnet11},
    {"resnet9", NULL, resnet9},
};

sbp_status sbp_net_spec_builtin(sbp_net_spec *spec, const char *name, sbp_error *err)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strcmp(name, builtins[i].name) != 0)
            continue;
        if (builtins[i].notation)
            return sbp_net_spec_parse(spec, builtins[i].notation, err);
        char origin[64];
        snprintf(origin, sizeof origin, "built-in network %s", name);
        return sbp_net_spec_parse_description(spec, builtins[i].description, origin, err);
    }
    return sbp_fail(err, SBP_ERR_INVALID_ARG,
                    "unknown network '%s' (built in: lenet, vgg9, vgg7, resnet11, resnet9; or "
                    "the paper's notation, or a description file)",
                    name);
}
