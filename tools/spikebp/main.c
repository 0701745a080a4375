/*
 * main.c — the spikebp command-line tool: subcommand dispatch, --help and --version.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", cmd_train, "train a spiking network with spike-based backpropagation"},
    {"eval", cmd_eval, "test accuracy of a saved model"},
    {"info", cmd_info, "layer table, output shapes and parameter count of a network"},
    {"analyze", cmd_analyze, "spike rates, event-driven operations, energy, accuracy by steps"},
    {"plot", cmd_plot, "PNG/SVG figures of training logs, analyses, spike rasters, confusion"},
    {"export", cmd_export, "write a model's weights as a NumPy .npz archive"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: spikebp COMMAND [OPTIONS]\n\n"
               "Trains deep spiking neural networks with spike-based backpropagation\n"
               "(Lee, Sarwar, Panda, Srinivasan & Roy, Frontiers in Neuroscience 2020).\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'spikebp COMMAND --help' lists a command's options and their defaults.\n"
               "Data sets are read from $SBP_DATA_DIR (default ~/.cache/spikebp); fetch them with "
               "scripts/get-data.\n");
}

int main(int argc, char **argv)
{
    sbp_blas_pick_kernels(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc > 2)
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, help_argv);
                }
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        char cpu[160], blas[200];
        sbp_describe_cpu(cpu, sizeof cpu);
        sbp_describe_blas(blas, sizeof blas);
        printf("spikebp %s\nCPU: %s\nBLAS: %s\nMPI: %s\n", SBP_VERSION_STRING, cpu, blas,
               sbp_comm_mpi_built() ? "yes (mpirun -np R spikebp train|eval …, docs/mpi.md)"
                                    : "no (this build runs as one process)");
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spikebp: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
