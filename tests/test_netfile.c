/*
 * test_netfile.c — network descriptions: the built-in networks' parameter counts (§5), the
 * description-file parser on valid input and on malformed input (every error names the line),
 * residual shortcut resolution, and the paper notation parser.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/net.h"

/* Parameter count by shape resolution alone (no weights drawn: fast under sanitizers). */
static size_t params_of(const sbp_net_spec *spec)
{
    sbp_layer layers[SBP_MAX_LAYERS], shortcuts[SBP_MAX_LAYERS];
    size_t n = 0;
    sbp_error err = {0};
    if (sbp_net_resolve(layers, shortcuts, &n, spec, &err) != SBP_OK) {
        CHECK(0, "resolve: %s", err.msg);
        return 0;
    }
    return n;
}

static void builtins(void)
{
    const struct {
        const char *name;
        size_t params;
    } want[] = {{"lenet", 517500}, {"vgg9", 5938880}, {"resnet11", 17936064}};
    for (size_t i = 0; i < 3; i++) {
        sbp_net_spec spec;
        sbp_error err = {0};
        CHECK(sbp_net_spec_builtin(&spec, want[i].name, &err) == SBP_OK, "%s", err.msg);
        size_t n = params_of(&spec);
        CHECK(n == want[i].params, "%s: %zu parameters, SPEC §5 says %zu", want[i].name, n,
              want[i].params);
    }
    /* ResNet11: 172,032 weights in shortcuts (§5). */
    sbp_net_spec spec;
    sbp_error err = {0};
    sbp_layer layers[SBP_MAX_LAYERS], shortcuts[SBP_MAX_LAYERS];
    size_t total = 0, sc = 0;
    sbp_net_spec_builtin(&spec, "resnet11", &err);
    CHECK(sbp_net_resolve(layers, shortcuts, &total, &spec, &err) == SBP_OK, "%s", err.msg);
    for (int i = 0; i < spec.n_layers; i++)
        if (layers[i].sc)
            sc += layers[i].sc->w_count;
    CHECK(sc == 172032, "resnet11 shortcut weights %zu, SPEC §5 says 172032", sc);
    const sbp_layer *last_block = &layers[spec.n_layers - 3];
    CHECK(last_block->out_c == 512 && last_block->out_h == 4 && last_block->out_w == 4,
          "resnet11 last block output %dx%dx%d", last_block->out_c, last_block->out_h,
          last_block->out_w);
    for (const char *const *n = (const char *const[]){"vgg7", "resnet9", NULL}; *n; n++)
        CHECK(sbp_net_spec_builtin(&spec, *n, &err) == SBP_OK && params_of(&spec) > 0, "%s", *n);
    CHECK(sbp_net_spec_builtin(&spec, "alexnet", &err) == SBP_ERR_INVALID_ARG,
          "unknown built-in accepted");
}

static void valid_description(void)
{
    const char *text = "# a small residual net\n"
                       "[input]\n  shape = 8x8x2   # H x W x C\n"
                       "[neuron]\nleak = 0.95\ninit_gain = 1\n"
                       "[conv]\nname = a\nfilters = 4\nkernel = 3\ndropout = 0.25\n"
                       "[conv]\nfilters = 4\nkernel = 3\n"
                       "[conv]\nfilters = 6\nkernel = 3\nstride = 2\nshortcut = conv\nfrom = a\n"
                       "  name = b\n"
                       "[conv]\nfilters = 6\nkernel = 5\npad = 0\nshortcut = identity\nfrom = input\n"
                       "\n[pool]\n[dense]\nunits = 7\n[output]\nclasses = 3\n";
    sbp_net_spec s;
    sbp_error err = {0};
    sbp_status st = sbp_net_spec_parse_description(&s, text, "t.net", &err);
    CHECK(st == SBP_OK, "valid description rejected: %s", err.msg);
    if (st != SBP_OK)
        return;
    CHECK(s.in_h == 8 && s.in_w == 8 && s.in_c == 2, "input shape");
    CHECK(fabsf(s.leak - 0.95f) < 1e-7f && s.vth == 1.0f && s.init_gain == 1.0f, "neuron keys");
    CHECK(s.n_layers == 7, "layer count %d", s.n_layers);
    CHECK(s.layers[0].pad == 1 && s.layers[0].dropout == 0.25f, "default pad, dropout");
    CHECK(s.layers[2].stride == 2 && s.layers[2].shortcut == SBP_SHORTCUT_CONV &&
              s.layers[2].shortcut_from == 0,
          "conv shortcut from a");
    CHECK(s.layers[3].pad == 0 && s.layers[3].shortcut == SBP_SHORTCUT_IDENTITY &&
              s.layers[3].shortcut_from == -1,
          "identity shortcut from input");
    /* Shapes: identity from the 8×8×2 input into a 5×5 conv without padding on 4×4 → rejected
     * at resolution with a clear message (channels and sizes differ). */
    sbp_net *net = NULL;
    st = sbp_net_create(&net, &s, 1, &err);
    CHECK(st == SBP_ERR_SHAPE && strstr(err.msg, "layer 4"), "impossible shortcut: %s", err.msg);
    sbp_net_free(net);
}

static void malformed(void)
{
    const struct {
        const char *text, *expect; /* expect: substring of the message */
    } cases[] = {
        {"[input]\nshape = 8x8\n[output]\nclasses = 2\n", "t.net:2:"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = 4\n[output]\nclasses = 2\n", "t.net:3:"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nkernal = 3\n", "t.net:6:"},
        {"[input]\nshape = 8x8x1\n[dense]\nunits = 4\nunits = 5\n", "given twice"},
        /* issue 10: a second [neuron] would silently override the first; a BOM is invisible */
        {"[input]\nshape = 8x8x1\n[neuron]\nleak = 0.9\n[neuron]\nthreshold = 2\n[output]\n"
         "classes = 2\n", "t.net:5: a second [neuron] section"},
        {"[input]\nshape = 8x8x1\n[neuron]\n[neuron]\n[output]\nclasses = 2\n",
         "t.net:4: a second [neuron] section"},
        {"\xef\xbb\xbf[input]\nshape = 8x8x1\n[output]\nclasses = 2\n",
         "t.net:1: the file starts with a UTF-8 byte-order mark"},
        {"[input]\nshape = 8x8x1\n[pool]\nfilters = 3\n", "does not belong"},
        {"[input]\nshape = 8x8x1\n[lstm]\n", "unknown section"},
        {"[conv]\nfilters = 4\nkernel = 3\n", "before [input]"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nshortcut = conv\n", "from"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nshortcut = conv\nfrom = zz\n"
         "[output]\nclasses = 2\n",
         "names no earlier layer"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = -4\nkernel = 3\n", "t.net:4:"},
        {"[input]\nshape = 8x8x1\n[dense]\nunits = 4\ndropout = 1.5\n", "t.net:5:"},
        {"[input]\nshape = 8x8x1\n[dense]\nunits = 4\n", "no [output]"},
        {"[input]\nshape = 8x8x1\n[output]\nclasses = 2\n[dense]\nunits = 3\n", "after [output]"},
        {"[input]\nshape = 8x8x1\nunits 4\n", "expected 'key = value'"},
        {"[input\nshape = 8x8x1\n", "malformed section"},
        {"[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nshortcut = skip\nfrom = input\n",
         "not none, conv"},
        {"", "no [input]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sbp_net_spec s;
        sbp_error err = {0};
        sbp_status st = sbp_net_spec_parse_description(&s, cases[i].text, "t.net", &err);
        CHECK(st == SBP_ERR_FORMAT && strstr(err.msg, cases[i].expect),
              "case %zu: status %d, message '%s' lacks '%s'", i, (int)st, err.msg,
              cases[i].expect);
    }
    sbp_net_spec s;
    sbp_error err = {0};
    CHECK(sbp_net_spec_load(&s, "/nonexistent/x.net", &err) == SBP_ERR_IO &&
              strstr(err.msg, "/nonexistent/x.net"),
          "missing file: %s", err.msg);
}

static void residual_model_roundtrip(void)
{
    sbp_net_spec spec;
    sbp_error err = {0};
    sbp_net *a = NULL, *b = NULL;
    /* a small residual net with a conv and a subsample shortcut (resnet9 itself has 6.5 M
     * weights: slow to draw under the sanitizers, and no different in kind) */
    CHECK(sbp_net_spec_parse_description(&spec,
                                         "[input]\nshape = 16x16x3\n[conv]\nfilters = 8\n"
                                         "kernel = 3\nname = a\n[conv]\nfilters = 8\nkernel = 3\n"
                                         "[conv]\nfilters = 16\nkernel = 3\nstride = 2\n"
                                         "shortcut = conv\nfrom = a\nname = b\n[conv]\n"
                                         "filters = 16\nkernel = 3\n[conv]\nfilters = 16\n"
                                         "kernel = 3\nstride = 2\nshortcut = subsample\n"
                                         "from = b\n[dense]\nunits = 20\n[output]\nclasses = 10\n",
                                         "roundtrip", &err) == SBP_OK,
          "%s", err.msg);
    CHECK(sbp_net_create(&a, &spec, 5, &err) == SBP_OK, "%s", err.msg);
    char path[] = "/tmp/sbp-netfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    CHECK(sbp_net_save(a, path, &err) == SBP_OK, "save: %s", err.msg);
    CHECK(sbp_net_load(&b, path, &err) == SBP_OK, "load: %s", err.msg);
    if (a && b) {
        CHECK(a->n_params == b->n_params &&
                  !memcmp(a->params, b->params, a->n_params * sizeof(float)),
              "resnet9 weights differ after save/load");
        for (int i = 0; i < spec.n_layers; i++)
            CHECK(b->spec.layers[i].shortcut == spec.layers[i].shortcut &&
                      b->spec.layers[i].shortcut_from == spec.layers[i].shortcut_from,
                  "layer %d shortcut after load", i);
    }
    remove(path);
    sbp_net_free(a);
    sbp_net_free(b);
}

int main(void)
{
    builtins();
    valid_description();
    malformed();
    residual_model_roundtrip();
    return check_finish("netfile");
}
