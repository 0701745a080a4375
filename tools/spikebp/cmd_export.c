/* cmd_export.c — `spikebp export`: a model's weights as a NumPy .npz archive in PyTorch layout
 * (for cross-checking against other implementations; `train --init` reads such a file back),
 * and/or the whole network as a NIR graph (docs/nir.md; `train --init` and `eval --model` read
 * it back). */
#include <getopt.h>

#include "cli.h"
#include "outputs.h"

static void help(FILE *f)
{
    fprintf(f, "usage: spikebp export --model FILE [--npz OUT.npz] [--nir OUT.nir]\n\n"
               "  --model FILE   a model saved by 'spikebp train' (or a NIR graph) (required)\n"
               "  --npz OUT      an archive with one float32 array per weight tensor, PyTorch\n"
               "                 layout (out, in, kh, kw) / (out, in), named\n"
               "                 layer<i>.<kind>.weight and layer<i>.shortcut.weight (i from 0)\n"
               "  --nir OUT      the network as a NIR graph (HDF5; snnTorch, Norse, Sinabs, Lava\n"
               "                 read it): Conv2d/AvgPool2d/Linear synapses, LIF/IF/LI neurons\n"
               "                 with spikebp's constants mapped to NIR's (docs/nir.md)%s\n"
               "  --json         print one JSON object with the result\n"
               "At least one of --npz and --nir is required.\n",
            sbp_nir_supported() ? "" : "\n                 [this build has no NIR support: HDF5 was not found]");
}

int cmd_export(int argc, char **argv)
{
    const char *model = NULL, *npz = NULL, *nir = NULL;
    int json = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"npz", required_argument, 0, 'o'},
                                         {"nir", required_argument, 0, 'N'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': npz = optarg; break;
        case 'N': nir = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc || !model || (!npz && !nir)) {
        fprintf(stderr, "spikebp export: --model FILE and --npz OUT and/or --nir OUT are required\n");
        return CLI_USAGE;
    }
    if (nir && !sbp_nir_supported()) {
        fprintf(stderr, "spikebp export: --nir: this build has no NIR support (HDF5 was not "
                        "found when it was configured)\n");
        return CLI_FAIL;
    }
    sbp_error err = {0};
    sbp_net *net = NULL;
    const char *in[1] = {model};
    if ((npz && cli_check_output("--npz", npz, CLI_OUT_NPZ, in, 1, err.msg, sizeof err.msg) != 0) ||
        (nir && cli_check_output("--nir", nir, CLI_OUT_NIR, in, 1, err.msg, sizeof err.msg) != 0)) {
        fprintf(stderr, "spikebp export: %s\n", err.msg);
        return CLI_FAIL;
    }
    if (cli_load_model(&net, model, &err) != SBP_OK ||
        (npz && sbp_net_export_npz(net, npz, &err) != SBP_OK) ||
        (nir && sbp_net_export_nir(net, nir, &err) != SBP_OK)) {
        fprintf(stderr, "spikebp export: %s\n", err.msg);
        sbp_net_free(net);
        return CLI_FAIL;
    }
    if (json) {
        printf("{\"command\":\"export\",\"model\":");
        cli_json_string(stdout, model);
        if (npz) {
            printf(",\"npz\":");
            cli_json_string(stdout, npz);
        }
        if (nir) {
            printf(",\"nir\":");
            cli_json_string(stdout, nir);
        }
        printf(",\"parameters\":%zu}\n", sbp_net_param_count(net));
    } else {
        if (npz)
            printf("wrote %zu weights of %s to %s\n", sbp_net_param_count(net), model, npz);
        if (nir)
            printf("wrote the network of %s (%zu weights) as a NIR graph to %s\n", model,
                   sbp_net_param_count(net), nir);
    }
    sbp_net_free(net);
    return CLI_OK;
}
