/*
 * cli.h — what the subcommands of the spikebp tool share: strict number parsing, data sets by
 * name, a progress bar with rate and ETA, and JSON output helpers. Only this tool's main turns
 * a status into an exit code.
 */
#ifndef SBP_TOOLS_CLI_H
#define SBP_TOOLS_CLI_H

#include <stdio.h>

#include "spikebp.h"

/* Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Strict conversions of option values; on failure print "spikebp CMD: --OPT: …" and return 0. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* The --data syntax (sbp_dataset_names_help), for the commands' --help. */
void cli_data_help(FILE *f);
/* sbp_dataset_open for split train (1) or test (0), plus the note on stderr when the test split
 * is the training data. For spike data sets sbp_dataset_timesteps() gives the T the commands
 * must use. The caller frees *ds with sbp_dataset_free. */
sbp_status cli_load_data(const char *name, int train, size_t limit, sbp_dataset **ds,
                         sbp_error *err);

/* --backend NAME: 0 after printing "spikebp CMD: --backend: …" for an unknown name, or for a
 * backend this build or machine cannot run (with the reason); 1 with *out set otherwise. */
int cli_backend(const char *cmd, const char *name, sbp_backend_id *out);

/* Builds a network spec from a built-in name or the paper's notation. */
sbp_status cli_net_spec(const char *name, sbp_net_spec *spec, sbp_error *err);

/* A progress line on stderr, redrawn in place on a terminal and printed every ~10 % otherwise. */
typedef struct cli_progress {
    const char *label;
    size_t total;
    double start;    /* seconds, monotonic */
    double last_draw;
    int tty, quiet, last_decile;
} cli_progress;

double cli_now(void);
void cli_progress_start(cli_progress *p, const char *label, size_t total, int quiet);
/* extra: short text appended (e.g. running loss and accuracy), may be NULL. */
void cli_progress_update(cli_progress *p, size_t done, const char *extra);
void cli_progress_end(cli_progress *p);

/* Writes s as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);

/* What a saved model is evaluated on unless told: *data (if NULL) becomes the model's recorded
 * data set, *T (if 0) its recorded window (100 when absent; src/io/model.c refuses a model
 * whose value is out of range). Returns 0; −1 with msg "MODEL does not record its data set;
 * give --data" when there is nothing to use. */
int cli_model_defaults(const sbp_net *net, const char *model, const char **data, long *T,
                       char *msg, size_t size);

/* A model file by content: a NIR graph (an HDF5 file, read with sbp_net_import_nir) or
 * spikebp's own model file (sbp_net_load). */
int cli_is_nir(const char *path);
sbp_status cli_load_model(sbp_net **net, const char *path, sbp_error *err);

/* Creates folder dir and any missing parents (mkdir -p). 0 on success; else fills msg with
 * the folder that could not be made and why, and returns −1. */
int cli_mkdirs(const char *dir, char *msg, size_t size);
/* The same for the folder part of a file path (nothing to do for a bare file name). */
int cli_make_parent(const char *path, char *msg, size_t size);

/* Data parallelism (ranks.c). When an MPI launcher started this process, joins the job
 * (*comm; NULL for a plain process) and makes every rank but 0 quiet (*quiet = 1, stdout to
 * /dev/null). CLI_FAIL after printing why, e.g. R ranks of a build without MPI. */
int cli_ranks_start(const char *cmd, sbp_comm **comm, int *quiet);
/* The rank count an MPI launcher announced in the environment; 0 when none started us. */
long cli_ranks_launched(void);
/* Whether this process writes the outputs (models, logs, checkpoints): rank 0, or alone. */
int cli_ranks_lead(const sbp_comm *comm);
/* Prints "spikebp CMD (rank r of R): msg" on stderr and, with more than one rank, ends the
 * whole job (the others may wait in a collective call for this one); "spikebp CMD: msg" alone. */
void cli_ranks_fail(const sbp_comm *comm, const char *cmd, const char *msg);

#endif
