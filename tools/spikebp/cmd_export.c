/* cmd_export.c — `spikebp export`: a model's weights as a NumPy .npz archive in PyTorch layout,
 * for cross-checking against other implementations (`train --init` reads such a file back). */
#include <getopt.h>

#include "cli.h"
#include "outputs.h"

static void help(FILE *f)
{
    fprintf(f, "usage: spikebp export --model FILE --npz OUT.npz\n\n"
               "  --model FILE   a model saved by 'spikebp train' (required)\n"
               "  --npz OUT      the archive to write (required); one float32 array per weight\n"
               "                 tensor, PyTorch layout (out, in, kh, kw) / (out, in), named\n"
               "                 layer<i>.<kind>.weight and layer<i>.shortcut.weight (i from 0)\n"
               "  --json         print one JSON object with the result\n");
}

int cmd_export(int argc, char **argv)
{
    const char *model = NULL, *npz = NULL;
    int json = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"npz", required_argument, 0, 'o'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': npz = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc || !model || !npz) {
        fprintf(stderr, "spikebp export: --model FILE and --npz OUT are required\n");
        return CLI_USAGE;
    }
    sbp_error err = {0};
    sbp_net *net = NULL;
    const char *in[1] = {model};
    if (cli_check_output("--npz", npz, CLI_OUT_NPZ, in, 1, err.msg, sizeof err.msg) != 0) {
        fprintf(stderr, "spikebp export: %s\n", err.msg);
        return CLI_FAIL;
    }
    if (sbp_net_load(&net, model, &err) != SBP_OK || sbp_net_export_npz(net, npz, &err) != SBP_OK) {
        fprintf(stderr, "spikebp export: %s\n", err.msg);
        sbp_net_free(net);
        return CLI_FAIL;
    }
    if (json) {
        printf("{\"command\":\"export\",\"model\":");
        cli_json_string(stdout, model);
        printf(",\"npz\":");
        cli_json_string(stdout, npz);
        printf(",\"parameters\":%zu}\n", sbp_net_param_count(net));
    } else {
        printf("wrote %zu weights of %s to %s\n", sbp_net_param_count(net), model, npz);
    }
    sbp_net_free(net);
    return CLI_OK;
}
