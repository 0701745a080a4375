/*
 * fuzz_netfile.c — the network description format (src/net/netfile.c,
 * sbp_net_spec_parse_description): [input], [neuron], [conv], [pool], [dense], [output]
 * sections of key = value lines. The input is the text (cut at its first NUL). What parses
 * goes through shape inference (sbp_net_resolve, no allocation) and, when that succeeds and it
 * has no shortcut or odd padding, must format as the paper's notation and parse back to the same layers.
 */
#include "fuzz_common.h"

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    sbp_error err = {0};
    sbp_net_spec *spec = malloc(sizeof *spec), *again = malloc(sizeof *again);
    sbp_layer *layers = malloc(2 * SBP_MAX_LAYERS * sizeof *layers);
    if (!spec || !again || !layers)
        goto out;
    sbp_status st = sbp_net_spec_parse_description(spec, text, "fuzz.net", &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK)
        goto out;
    if (spec->n_layers < 1 || spec->n_layers > SBP_MAX_LAYERS ||
        spec->layers[spec->n_layers - 1].kind != SBP_LAYER_OUTPUT)
        abort();
    size_t n_params = 0;
    st = sbp_net_resolve(layers, layers + SBP_MAX_LAYERS, &n_params, spec, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK) /* the notation's own limits are narrower than a resolvable network's */
        goto out;

    char buf[2048];
    st = sbp_net_spec_format(spec, buf, sizeof buf, &err);
    fuzz_check_error(st, &err);
    if (st == SBP_OK) {
        st = sbp_net_spec_parse(again, buf, &err);
        if (st != SBP_OK) {
            fprintf(stderr, "fuzz_netfile: formats as '%s', which does not parse: %s\n", buf,
                    err.msg);
            abort();
        }
        /* the notation carries shape and layer geometry, not neuron constants or dropout */
        int same = again->in_c == spec->in_c && again->in_h == spec->in_h &&
                   again->in_w == spec->in_w && again->n_layers == spec->n_layers;
        for (int i = 0; same && i < spec->n_layers; i++) {
            const sbp_layer_spec *x = &spec->layers[i], *y = &again->layers[i];
            same = x->kind == y->kind && (x->kind == SBP_LAYER_POOL || x->out == y->out) &&
                   x->kernel == y->kernel && x->stride == y->stride && x->pad == y->pad;
        }
        if (!same) {
            fprintf(stderr, "fuzz_netfile: formats as '%s', which parses to other layers\n",
                    buf);
            abort();
        }
    }
out:
    free(layers);
    free(again);
    free(spec);
    free(text);
    return 0;
}
