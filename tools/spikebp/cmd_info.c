/* cmd_info.c — `spikebp info`: the layer table of a network with output shapes and parameter
 * counts (§5), from a built-in name, the paper's notation or a saved model. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "net/layer.h"
#include "net/net.h"

/* Output shape and parameter count of every layer of a spec, resolved without allocating or
 * initialising a single weight: describing a network with 3000-filter convolutions must not
 * cost gigabytes (issue 10). */
typedef struct layer_row {
    int c, h, w;
    size_t params; /* the layer's weights and its shortcut's */
} layer_row;

static sbp_status describe(const sbp_net_spec *spec, layer_row *rows, size_t *total,
                           sbp_error *err)
{
    sbp_layer *layers = calloc(2 * SBP_MAX_LAYERS, sizeof *layers);
    if (!layers) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return err->status = SBP_ERR_NOMEM;
    }
    sbp_status st = sbp_net_resolve(layers, layers + SBP_MAX_LAYERS, total, spec, err);
    for (int i = 0; st == SBP_OK && i < spec->n_layers; i++) {
        const sbp_layer *L = &layers[i];
        rows[i].c = L->out_c;
        rows[i].h = L->out_h;
        rows[i].w = L->out_w;
        rows[i].params = L->w_count + (L->sc ? L->sc->w_count : 0);
    }
    free(layers);
    return st;
}

static void help(FILE *f)
{
    fprintf(f, "usage: spikebp info (--net NAME|NOTATION | --model FILE) [--json]\n\n"
               "  --net NAME      built-in network (lenet) or the paper's notation,\n"
               "                  e.g. 28x28x1-20C5-P2-50C5-P2-200FC-10     [default: lenet]\n"
               "  --model FILE    describe a saved model instead\n"
               "  --json          print one JSON object instead of the table\n");
}

int cmd_info(int argc, char **argv)
{
    const char *net_name = "lenet", *model = NULL;
    int json = 0;
    static const struct option opts[] = {{"net", required_argument, 0, 'n'},
                                         {"model", required_argument, 0, 'm'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': net_name = optarg; break;
        case 'm': model = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spikebp info: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    sbp_error err = {0};
    sbp_net *net = NULL; /* only for a model: its weights' fingerprint */
    sbp_net_spec net_spec;
    const sbp_net_spec *spec = &net_spec;
    layer_row rows[SBP_MAX_LAYERS];
    size_t total = 0;
    sbp_status st;
    if (model) {
        st = cli_load_model(&net, model, &err);
        if (st == SBP_OK)
            spec = sbp_net_get_spec(net);
    } else {
        st = cli_net_spec(net_name, &net_spec, &err);
    }
    if (st == SBP_OK)
        st = describe(spec, rows, &total, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "spikebp info: %s\n", err.msg);
        sbp_net_free(net);
        return CLI_FAIL;
    }
    char notation[1024];
    sbp_error ferr = {0};
    if (sbp_net_spec_format(spec, notation, sizeof notation, &ferr) != SBP_OK)
        snprintf(notation, sizeof notation, "(not expressible in the paper's notation)");
    if (json) {
        printf("{\"command\":\"info\",\"notation\":");
        cli_json_string(stdout, notation);
        printf(",\"input\":[%d,%d,%d],\"layers\":[", spec->in_c, spec->in_h, spec->in_w);
    } else {
        printf("network %s\n", notation);
        printf("  #  %-7s %-34s %-14s %12s  %s\n", "layer", "synapses", "output CxHxW",
               "parameters", "neurons");
        printf("  -  %-7s %-34s %3dx%3dx%-6d %12s  rate-coded spikes\n", "input", "", spec->in_c,
               spec->in_h, spec->in_w, "");
    }
    for (int i = 0; i < spec->n_layers; i++) {
        const sbp_layer_spec *l = &spec->layers[i];
        const int oc = rows[i].c, oh = rows[i].h, ow = rows[i].w;
        const size_t np = rows[i].params;
        char syn[96], neu[64];
        switch (l->kind) {
        case SBP_LAYER_CONV:
            snprintf(syn, sizeof syn, "%dx%d conv s%d p%d", l->kernel, l->kernel, l->stride, l->pad);
            snprintf(neu, sizeof neu, "LIF (λ %.2g, Vth %.2g)", spec->leak, spec->vth);
            break;
        case SBP_LAYER_POOL:
            snprintf(syn, sizeof syn, "2x2 average pool");
            snprintf(neu, sizeof neu, "IF (Vth %.2g)", spec->vth_pool);
            break;
        case SBP_LAYER_DENSE:
            snprintf(syn, sizeof syn, "dense");
            snprintf(neu, sizeof neu, "LIF (λ %.2g, Vth %.2g)", spec->leak, spec->vth);
            break;
        default:
            snprintf(syn, sizeof syn, "dense");
            snprintf(neu, sizeof neu, "leaky integrator, o = V(T)/T");
        }
        if (l->dropout > 0) {
            size_t n = strlen(neu);
            snprintf(neu + n, sizeof neu - n, ", dropout %.2g", l->dropout);
        }
        if (l->shortcut != SBP_SHORTCUT_NONE) {
            size_t n = strlen(syn);
            char from[16];
            if (l->shortcut_from < 0)
                snprintf(from, sizeof from, "input");
            else
                snprintf(from, sizeof from, "%d", l->shortcut_from + 1);
            snprintf(syn + n, sizeof syn - n, " +%s from %s", sbp_shortcut_name(l->shortcut),
                     from);
        }
        if (json) {
            printf("%s{\"kind\":\"%s\",\"output\":[%d,%d,%d],\"parameters\":%zu,"
                   "\"shortcut\":\"%s\",\"shortcut_from\":%d}",
                   i ? "," : "", sbp_layer_kind_name(l->kind), oc, oh, ow, np,
                   sbp_shortcut_name(l->shortcut), l->shortcut_from + 1);
        } else {
            printf("%3d  %-7s %-34s %3dx%3dx%-6d %12zu  %s\n", i + 1, sbp_layer_kind_name(l->kind),
                   syn, oc, oh, ow, np, neu);
        }
    }
    /* A fingerprint of the weights (CRC-32 of their bytes, layer by layer), to compare runs. */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; net && i < spec->n_layers; i++) {
        size_t n;
        const float *w = sbp_net_layer_weights(net, i, &n);
        if (w)
            crc = crc32_z(crc, (const Bytef *)w, n * sizeof(float));
        w = sbp_net_shortcut_weights(net, i, &n);
        if (w)
            crc = crc32_z(crc, (const Bytef *)w, n * sizeof(float));
    }
    if (json) {
        printf("],\"parameters\":%zu", total);
        if (model)
            printf(",\"weights_crc32\":\"%08lx\"", (unsigned long)crc);
        printf("}\n");
    } else {
        printf("total parameters: %zu\n", total);
        if (model)
            printf("weights CRC-32: %08lx\n", (unsigned long)crc);
    }
    sbp_net_free(net);
    return CLI_OK;
}
