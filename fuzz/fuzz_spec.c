/*
 * fuzz_spec.c — the paper's network notation (src/net/notation.c, sbp_net_spec_parse), e.g.
 * "28x28x1-20C5-P2-50C5-P2-200FC-10". The input is the text (cut at its first NUL). What
 * parses must format back to notation that parses to the same spec, and goes through shape
 * inference (sbp_net_resolve, which allocates nothing) without faults.
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
    sbp_status st = sbp_net_spec_parse(spec, text, &err);
    fuzz_check_error(st, &err);
    if (st != SBP_OK)
        goto out;

    char buf[2048];
    st = sbp_net_spec_format(spec, buf, sizeof buf, &err);
    if (st != SBP_OK) {
        fprintf(stderr, "fuzz_spec: '%s' parses but does not format: %s\n", text, err.msg);
        abort();
    }
    st = sbp_net_spec_parse(again, buf, &err);
    if (st != SBP_OK || memcmp(spec, again, sizeof *spec) != 0) {
        fprintf(stderr, "fuzz_spec: '%s' formats as '%s', which parses differently (%s)\n", text,
                buf, st == SBP_OK ? "other spec" : err.msg);
        abort();
    }
    size_t n_params = 0;
    st = sbp_net_resolve(layers, layers + SBP_MAX_LAYERS, &n_params, spec, &err);
    fuzz_check_error(st, &err);
out:
    free(layers);
    free(again);
    free(spec);
    free(text);
    return 0;
}
