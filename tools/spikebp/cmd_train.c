/*
 * cmd_train.c — `spikebp train`: mini-batch training with a progress bar, one summary line and
 * one CSV log row per epoch, the model saved (atomically) after every epoch; the test set (or
 * the validation split, when there is one) evaluated after every epoch. With --checkpoint-dir
 * the full training state is saved every N batches and every epoch, SIGINT/SIGTERM save it and
 * exit, and --resume continues a run so that it ends with bit-identical weights.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "checkpoint.h"
#include "cli.h"
#include "outputs.h"

/* The one piece of process state: set by the signal handler, read between batches. The
 * library never sees it; this is the tool's main loop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void help(FILE *f)
{
    fprintf(f,
            "usage: spikebp train --save FILE [options]\n\n"
            "network and data\n"
            "  --net NAME            built-in (lenet, vgg9, vgg7, resnet11, resnet9),\n"
            "                        paper notation or a description file   [lenet]\n"
            "  --data NAME           a data set (see the list below)              [mnist]\n"
            "  --train-limit N       train on the first N training images          [all]\n"
            "  --test-limit N        evaluate on the first N test images           [all]\n"
            "schedule (SPEC §4, MNIST column)\n"
            "  --epochs N            epochs                                        [1]\n"
            "  -T, --timesteps N     time steps per image                          [100]\n"
            "  --batch N             mini-batch size                               [64]\n"
            "  --lr X                initial learning rate                         [0.0085]\n"
            "  --lr-milestones LIST  epochs (1-based) where lr is multiplied, e.g. 75,100 [75]\n"
            "  --lr-factor X         multiplier at each milestone                  [0.2]\n"
            "  --weight-decay X      L2 weight decay                               [5e-4]\n"
            "  --backward MODE       exact | aggregate (SPEC §3)                   [exact]\n"
            "  --seed S              seed for weights, data order, spikes, dropout [1]\n"
            "  --init FILE           start from these weights: a .npz archive or a NIR graph\n"
            "                        (as 'spikebp export' writes them); a NIR graph also\n"
            "                        gives the network unless --net is given (then the two\n"
            "                        must have the same layers)\n"
            "  --recipe paper        SPEC §4's lr, schedule, epochs, batch and T for the\n"
            "                        built-in network; options given explicitly win\n"
            "  --val-split F         hold out the last fraction F of the training set for\n"
            "                        validation (picks best.sbp); test only at the end [0]\n"
            "output\n"
            "  --save FILE           model file, rewritten after every epoch (required; missing\n"
            "                        folders are made)\n"
            "  --log FILE            per-epoch CSV log                    [FILE.log.csv]\n"
            "  --json                print one JSON object with the results at the end\n"
            "  --quiet               no progress bar\n"
            "checkpoints\n"
            "  --checkpoint-dir DIR  save the full training state there (and on SIGINT/TERM)\n"
            "  --checkpoint-every N  batches between checkpoints                   [100]\n"
            "  --keep K              checkpoints kept (plus best.sbp)              [3]\n"
            "  --resume DIR          continue the run whose checkpoints are in DIR; its options\n"
            "                        come from the checkpoint (only --threads, --quiet, --json\n"
            "                        may be given; a different --threads breaks bit-identity)\n"
            "execution\n"
            "  --threads N           worker threads                         [all cores]\n"
            "  --backend NAME        cpu (fast path), reference (plain loops, the oracle; slow)\n"
            "                        or cuda (NVIDIA GPU, builds with nvcc; untested) [cpu]\n"
            "  --reference           the same as --backend reference\n"
            "  (under mpirun -np R: data-parallel over R processes, --batch the global batch;\n"
            "   --threads per process; docs/mpi.md)\n"
            "\nSpike data sets (N-MNIST, npy spike trains) set T unless -T is given.\n\n");
    cli_data_help(f);
}

static int parse_milestones(const char *s, sbp_train_opts *o)
{
    char msg[300];
    if (train_parse_milestones(s, o, msg, sizeof msg) == 0)
        return 1;
    fprintf(stderr, "spikebp train: --lr-milestones %s\n", msg);
    return 0;
}

/* §4's training recipes (the authors' code), by built-in network. vgg7 and resnet9 are not in
 * the code; they take the recipe of their closest relative (our reading, as the networks). */
static const struct {
    const char *net;
    float lr;
    int milestones[3], n_milestones; /* 1-based epochs where lr is multiplied by 0.2 */
    int epochs, batch, timesteps;
} recipes[] = {
    {"lenet", 0.0085f, {75}, 1, 125, 64, 100},
    {"vgg9", 0.0033f, {70, 100, 125}, 3, 150, 16, 100},
    {"vgg7", 0.0033f, {70, 100, 125}, 3, 150, 16, 100},
    {"resnet11", 0.0025f, {70, 100, 125}, 3, 150, 16, 100},
    {"resnet9", 0.0025f, {70, 100, 125}, 3, 150, 16, 100},
};

#define GIVEN(c) (1ull << ((unsigned)(c) & 63u))

/* Applies the recipe of `net` to every option the user did not give; 0 if there is none. */
static int apply_recipe(const char *net, unsigned long long given, sbp_train_opts *o)
{
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        if (strcmp(net, recipes[i].net))
            continue;
        if (!(given & GIVEN('r')))
            o->lr = recipes[i].lr;
        if (!(given & GIVEN('M'))) {
            o->n_milestones = recipes[i].n_milestones;
            for (int k = 0; k < recipes[i].n_milestones; k++)
                o->lr_milestones[k] = recipes[i].milestones[k] - 1;
        }
        if (!(given & GIVEN('F')))
            o->lr_factor = 0.2f;
        if (!(given & GIVEN('w')))
            o->weight_decay = 5e-4f;
        if (!(given & GIVEN('e')))
            o->epochs = recipes[i].epochs;
        if (!(given & GIVEN('b')))
            o->batch = recipes[i].batch;
        if (!(given & GIVEN('T')))
            o->timesteps = recipes[i].timesteps;
        return 1;
    }
    return 0;
}

static void on_eval_progress(void *user, size_t done, size_t total)
{
    cli_progress_update(user, done, NULL);
}

static sbp_status evaluate(const sbp_net *net, const sbp_dataset *ds, const sbp_train_opts *o,
                           const char *label, int quiet, sbp_eval_result *r, sbp_error *err)
{
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = o->timesteps;
    eo.threads = o->threads;
    eo.backend = o->backend;
    eo.comm = o->comm;
    cli_progress pe;
    cli_progress_start(&pe, label, sbp_dataset_count(ds), quiet);
    eo.progress = on_eval_progress;
    eo.progress_user = &pe;
    sbp_status st = sbp_eval(net, ds, &eo, r, err);
    cli_progress_end(&pe);
    return st;
}

/* Loads the training split (with --train-limit, minus the validation tail), the validation
 * split (NULL without one) and the test split. */
typedef struct data_sets {
    sbp_dataset *train, *val, *test, *train_view;
} data_sets;

static void data_free(data_sets *d)
{
    sbp_dataset_free(d->train);
    sbp_dataset_free(d->val);
    sbp_dataset_free(d->train_view);
    sbp_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

/* "images" or "spike trains of T steps", for messages. */
static void describe_steps(char *buf, size_t size, const sbp_dataset *ds)
{
    if (sbp_dataset_timesteps(ds) > 0)
        snprintf(buf, size, "spike trains of %d steps", sbp_dataset_timesteps(ds));
    else
        snprintf(buf, size, "images");
}

/* 1 (with a message) if output `path` would be a file of the checkpoint folder: best.sbp or a
 * ckpt-*.sbp there, which checkpoints replace and prune. */
static int in_checkpoint_dir(const char *opt, const char *path, const char *dir, char *msg,
                             size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (strcmp(name, "best.sbp") && strncmp(name, "ckpt-", 5))
        return 0;
    char parent[4096], pabs[4096], dabs[4096], m2[64];
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!parent[0])
        snprintf(parent, sizeof parent, "/");
    int same = cli_same_file(parent, dir);
    if (!same && cli_absolute_path(parent, pabs, sizeof pabs, m2, sizeof m2) == 0 &&
        cli_absolute_path(dir, dabs, sizeof dabs, m2, sizeof m2) == 0) {
        size_t n = strlen(dabs);
        while (n > 1 && dabs[n - 1] == '/')
            dabs[--n] = '\0';
        same = !strcmp(pabs, dabs);
    }
    if (same)
        snprintf(msg, size, "%s %s: is a file of the checkpoint folder %s, which checkpoints "
                 "replace and prune; give another name", opt, path, dir);
    return same;
}

static sbp_status data_load(data_sets *d, const train_state *s, sbp_error *err)
{
    memset(d, 0, sizeof *d);
    sbp_dataset *view = NULL;
    sbp_status st = cli_load_data(s->data, 1, (size_t)s->train_limit, &view, err);
    if (st == SBP_OK)
        st = cli_load_data(s->data, 0, (size_t)s->test_limit, &d->test, err);
    if (st != SBP_OK) {
        sbp_dataset_free(view);
        data_free(d);
        return st;
    }
    size_t n = sbp_dataset_count(view), nval = (size_t)(s->val_split * (double)n + 0.5);
    if (nval == 0) {
        if (s->val_split > 0)
            fprintf(stderr, "spikebp train: note: --val-split %g of %zu training images holds "
                    "no image; there is no validation split, the test set is evaluated after "
                    "every epoch\n", s->val_split, n);
        d->train = view;
        return SBP_OK;
    }
    if (nval >= n) {
        snprintf(err->msg, sizeof err->msg, "--val-split %g leaves no training images", s->val_split);
        sbp_dataset_free(view);
        data_free(d);
        return err->status = SBP_ERR_INVALID_ARG;
    }
    d->train_view = view; /* the slices below point into it (or into the set it owns) */
    st = sbp_dataset_slice(&d->train, view, 0, n - nval, err);
    if (st == SBP_OK)
        st = sbp_dataset_slice(&d->val, view, n - nval, nval, err);
    if (st != SBP_OK)
        data_free(d);
    return st;
}

/* Same layers (geometry and shortcuts; dropout and constants may differ). */
static int same_layers(const sbp_net_spec *a, const sbp_net_spec *b)
{
    if (a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w ||
        a->n_layers != b->n_layers)
        return 0;
    for (int i = 0; i < a->n_layers; i++) {
        const sbp_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        if (x->kind != y->kind || (x->kind != SBP_LAYER_POOL && x->out != y->out) ||
            (x->kind == SBP_LAYER_CONV &&
             (x->kernel != y->kernel || x->stride != y->stride || x->pad != y->pad)) ||
            x->shortcut != y->shortcut ||
            (x->shortcut != SBP_SHORTCUT_NONE && x->shortcut_from != y->shortcut_from))
            return 0;
    }
    return 1;
}

/* --init with a NIR graph: the network is the graph's (sbp_net_import_nir). With --net too, the
 * graph's weights go into --net's network (keeping its dropout and constants) when the two
 * have the same layers. */
static sbp_status init_from_nir(sbp_net **net, const char *path, const char *net_name,
                                sbp_error *err)
{
    sbp_net *nir = NULL;
    sbp_status st = sbp_net_import_nir(&nir, path, err);
    if (st != SBP_OK || !net_name) {
        *net = nir;
        return st;
    }
    sbp_net_spec spec;
    st = cli_net_spec(net_name, &spec, err);
    if (st == SBP_OK)
        st = sbp_net_create(net, &spec, 0, err);
    if (st == SBP_OK && !same_layers(&spec, sbp_net_get_spec(nir))) {
        char a[512], b[512];
        if (sbp_net_spec_format(&spec, a, sizeof a, NULL) != SBP_OK)
            snprintf(a, sizeof a, "%s", net_name);
        if (sbp_net_spec_format(sbp_net_get_spec(nir), b, sizeof b, NULL) != SBP_OK)
            snprintf(b, sizeof b, "another network");
        snprintf(err->msg, sizeof err->msg, "--init %.150s holds %.150s, --net gives %.150s", path,
                 b, a);
        err->status = st = SBP_ERR_SHAPE;
    }
    for (int i = 0; st == SBP_OK && i < spec.n_layers; i++) {
        size_t n, m;
        float *dst = sbp_net_layer_weights(*net, i, &n), *src = sbp_net_layer_weights(nir, i, &m);
        if (dst && src && n == m)
            memcpy(dst, src, n * sizeof *dst);
        dst = sbp_net_shortcut_weights(*net, i, &n);
        src = sbp_net_shortcut_weights(nir, i, &m);
        if (dst && src && n == m)
            memcpy(dst, src, n * sizeof *dst);
    }
    sbp_net_free(nir);
    if (st != SBP_OK) {
        sbp_net_free(*net);
        *net = NULL;
    }
    return st;
}

int cmd_train(int argc, char **argv)
{
    train_state s;
    memset(&s, 0, sizeof s);
    sbp_train_opts_default(&s.o);
    s.net_name = "lenet";
    s.data = "mnist";
    s.best_val = -1;
    const char *ckpt_dir = NULL, *resume = NULL, *recipe = NULL, *init_path = NULL;
    long v, ckpt_every = 100, keep = 3;
    double d;
    int json = 0, quiet = 0;
    unsigned long long given = 0;
    static const struct option opts[] = {
        {"net", required_argument, 0, 'n'},         {"data", required_argument, 0, 'd'},
        {"train-limit", required_argument, 0, 'L'}, {"test-limit", required_argument, 0, 'E'},
        {"epochs", required_argument, 0, 'e'},      {"timesteps", required_argument, 0, 'T'},
        {"batch", required_argument, 0, 'b'},       {"lr", required_argument, 0, 'r'},
        {"lr-milestones", required_argument, 0, 'M'}, {"lr-factor", required_argument, 0, 'F'},
        {"weight-decay", required_argument, 0, 'w'}, {"backward", required_argument, 0, 'B'},
        {"seed", required_argument, 0, 's'},        {"save", required_argument, 0, 'S'},
        {"log", required_argument, 0, 'g'},         {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},             {"threads", required_argument, 0, 't'},
        {"reference", no_argument, 0, 'R'},         {"help", no_argument, 0, 'h'},
        {"backend", required_argument, 0, 'X'},
        {"recipe", required_argument, 0, 'P'},      {"init", required_argument, 0, 'I'},
        {"val-split", required_argument, 0, 'V'},   {"checkpoint-dir", required_argument, 0, 'C'},
        {"checkpoint-every", required_argument, 0, 'N'}, {"keep", required_argument, 0, 'K'},
        {"resume", required_argument, 0, 'Z'},      {0, 0, 0, 0}};
    int c;
    sbp_train_opts *o = &s.o;
    while ((c = getopt_long(argc, argv, "hT:", opts, NULL)) != -1) {
        given |= GIVEN(c);
        switch (c) {
        case 'n': s.net_name = optarg; break;
        case 'd': s.data = optarg; break;
        case 'L': if (!cli_int("train", "--train-limit", optarg, 1, 1L << 40, &s.train_limit)) return CLI_USAGE; break;
        case 'E': if (!cli_int("train", "--test-limit", optarg, 1, 1L << 40, &s.test_limit)) return CLI_USAGE; break;
        case 'e': if (!cli_int("train", "--epochs", optarg, 1, 100000, &v)) return CLI_USAGE; o->epochs = (int)v; break;
        case 'T': if (!cli_int("train", "--timesteps", optarg, 1, 100000, &v)) return CLI_USAGE; o->timesteps = (int)v; break;
        case 'b': if (!cli_int("train", "--batch", optarg, 1, 1000000, &v)) return CLI_USAGE; o->batch = (int)v; break;
        case 'r': if (!cli_float("train", "--lr", optarg, 1e-12, 1e6, &d)) return CLI_USAGE; o->lr = (float)d; break;
        case 'M': if (!parse_milestones(optarg, o)) return CLI_USAGE; break;
        case 'F': if (!cli_float("train", "--lr-factor", optarg, 0, 1e6, &d)) return CLI_USAGE; o->lr_factor = (float)d; break;
        case 'w': if (!cli_float("train", "--weight-decay", optarg, 0, 1e6, &d)) return CLI_USAGE; o->weight_decay = (float)d; break;
        case 'B':
            if (!strcmp(optarg, "exact")) o->backward = SBP_BACKWARD_EXACT;
            else if (!strcmp(optarg, "aggregate")) o->backward = SBP_BACKWARD_AGGREGATE;
            else { fprintf(stderr, "spikebp train: --backward: '%s' is not exact or aggregate\n", optarg); return CLI_USAGE; }
            break;
        case 's': if (!cli_int("train", "--seed", optarg, 0, 1L << 52, &v)) return CLI_USAGE; o->seed = (uint64_t)v; break;
        case 'S': s.save = optarg; break;
        case 'g': s.log_path = optarg; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 't': if (!cli_int("train", "--threads", optarg, 1, 1024, &v)) return CLI_USAGE; o->threads = (int)v; break;
        case 'R': o->backend = SBP_BACKEND_REFERENCE; break;
        case 'X': if (!cli_backend("train", optarg, &o->backend)) return CLI_USAGE; break;
        case 'P': recipe = optarg; break;
        case 'I': init_path = optarg; break;
        case 'V': if (!cli_float("train", "--val-split", optarg, 0, 0.9, &s.val_split)) return CLI_USAGE; break;
        case 'C': ckpt_dir = optarg; break;
        case 'N': if (!cli_int("train", "--checkpoint-every", optarg, 1, 1L << 30, &ckpt_every)) return CLI_USAGE; break;
        case 'K': if (!cli_int("train", "--keep", optarg, 1, 1000, &keep)) return CLI_USAGE; break;
        case 'Z': resume = optarg; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spikebp train: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    const unsigned long long resume_ok = GIVEN('Z') | GIVEN('t') | GIVEN('q') | GIVEN('j') |
                                         GIVEN('C') | GIVEN('N') | GIVEN('K');
    if (resume && (given & ~resume_ok)) {
        fprintf(stderr, "spikebp train: --resume takes the run's options from its checkpoint; "
                        "only --threads, --quiet, --json and the checkpoint options may be "
                        "given\n");
        return CLI_USAGE;
    }
    if (!resume && !s.save) {
        fprintf(stderr, "spikebp train: --save FILE is required (see --help)\n");
        return CLI_USAGE;
    }
    if (recipe && !resume) {
        if (strcmp(recipe, "paper")) {
            fprintf(stderr, "spikebp train: --recipe: '%s' is unknown (paper)\n", recipe);
            return CLI_USAGE;
        }
        if (!apply_recipe(s.net_name, given, o)) {
            fprintf(stderr, "spikebp train: --recipe paper: no recipe for network '%s' (lenet, "
                            "vgg9, vgg7, resnet11, resnet9)\n", s.net_name);
            return CLI_USAGE;
        }
    }

    /* Under mpirun: one rank of a data-parallel run (docs/mpi.md). Rank 0 alone writes the
     * model, the log and the checkpoints; a failing rank ends the job (cli_ranks_fail). */
    sbp_comm *comm = NULL;
    if (cli_ranks_start("train", &comm, &quiet) != CLI_OK)
        return CLI_FAIL;
    const int lead = cli_ranks_lead(comm);

    /* From here on SIGINT/SIGTERM stop the run between batches (saving the state when there
     * is a checkpoint folder) instead of killing it mid-write. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sbp_error err = {0};
    sbp_net *net = NULL;
    data_sets ds = {0};
    sbp_trainer *tr = NULL;
    FILE *log = NULL;
    int rc = CLI_FAIL;
    /* log_tmp: the new log, written beside the old one and renamed over it once the first
     * model is saved: a run that fails before that leaves the old model's log untouched. */
    char log_buf[4096], used[4200] = "", save_abs[4096], log_abs[4096], log_tmp[4200] = "";
    const char *save_shown = NULL, *log_shown = NULL; /* as given, for the messages */
    int stop = 0; /* the signal every rank has agreed to stop on (the largest seen by any) */
    if (resume) {
        int threads = o->threads;
        if (checkpoint_load_latest(&net, &s, resume, used, sizeof used, &err) != SBP_OK)
            goto fail;
        if (given & GIVEN('t'))
            s.o.threads = threads;
        if (!s.run_id[0]) /* a checkpoint of a build that recorded no run id */
            checkpoint_new_run_id(s.run_id);
        if (!ckpt_dir)
            ckpt_dir = resume;
        else if (checkpoint_dir_check(ckpt_dir, s.run_id, &err) != SBP_OK)
            goto early;
        snprintf(save_abs, sizeof save_abs, "%s", s.save);
        snprintf(log_abs, sizeof log_abs, "%s", s.log_path);
    } else {
        if (!s.log_path) {
            snprintf(log_buf, sizeof log_buf, "%s.log.csv", s.save);
            s.log_path = log_buf;
        }
        if (ckpt_dir && checkpoint_dir_check(ckpt_dir, NULL, &err) != SBP_OK)
            goto early;
        /* Checked now, not when they are first stored after an epoch of training. */
        if (cli_check_meta_value("--data", s.data, err.msg, sizeof err.msg) != 0 ||
            (ckpt_dir && cli_check_meta_value("--net", s.net_name, err.msg, sizeof err.msg) != 0))
            goto early;
        checkpoint_new_run_id(s.run_id);
        s.log_offset = -1;
    }
    /* Every output checked before anything is created, loaded or trained. */
    if (!resume) { /* stored absolute: a resume from another folder writes to the same files */
        if (cli_absolute_path(s.save, save_abs, sizeof save_abs, err.msg, sizeof err.msg) != 0 ||
            cli_absolute_path(s.log_path, log_abs, sizeof log_abs, err.msg, sizeof err.msg) != 0)
            goto early;
        if (ckpt_dir && (cli_check_meta_value("--save (absolute)", save_abs, err.msg,
                                              sizeof err.msg) != 0 ||
                         cli_check_meta_value("--log (absolute)", log_abs, err.msg,
                                              sizeof err.msg) != 0))
            goto early;
    }
    if (!strcmp(save_abs, log_abs) || cli_same_file(s.save, s.log_path)) {
        snprintf(err.msg, sizeof err.msg, "--save and --log name the same file (%s)", s.save);
        goto early;
    }
    { /* the outputs against the rule of outputs.h, the inputs among them */
        struct stat nsb;
        const char *net_file = stat(s.net_name, &nsb) == 0 ? s.net_name : NULL;
        char data_store[CLI_MAX_DATA_INPUTS][4096];
        const char *in[3 + CLI_MAX_DATA_INPUTS] = {net_file, init_path, used[0] ? used : NULL};
        size_t n_in = 3 + cli_data_inputs(s.data, data_store, in + 3);
        if (cli_check_output("--save", s.save, CLI_OUT_MODEL, in, n_in, err.msg,
                             sizeof err.msg) != 0 ||
            cli_check_output("--log", s.log_path, CLI_OUT_LOG, in, n_in, err.msg,
                             sizeof err.msg) != 0 ||
            (ckpt_dir && (in_checkpoint_dir("--save", s.save, ckpt_dir, err.msg,
                                            sizeof err.msg) ||
                          in_checkpoint_dir("--log", s.log_path, ckpt_dir, err.msg,
                                            sizeof err.msg))))
            goto early;
    }
    save_shown = s.save;
    log_shown = s.log_path;
    if (!resume) {
        s.save = save_abs;
        s.log_path = log_abs;
    }
    if (resume) {
        if (!quiet)
            fprintf(stderr, "spikebp train: resuming from %s (epoch %d, batch %zu)\n", used,
                    s.epoch + 1, s.batch + 1);
    } else {
        sbp_net_spec spec;
        if (init_path && cli_is_nir(init_path)) {
            if (init_from_nir(&net, init_path, (given & GIVEN('n')) ? s.net_name : NULL, &err) !=
                SBP_OK)
                goto fail;
        } else if (cli_net_spec(s.net_name, &spec, &err) != SBP_OK ||
                   sbp_net_create(&net, &spec, o->seed, &err) != SBP_OK ||
                   (init_path && sbp_net_import_npz(net, init_path, &err) != SBP_OK)) {
            goto fail;
        }
    }
    o->comm = comm; /* after a resume too: a checkpoint holds no communicator */
    /* Folders of the outputs, made before the (long) data loading: mkdir -p. */
    if (lead && ((s.save && cli_make_parent(s.save, err.msg, sizeof err.msg) != 0) ||
                 cli_make_parent(s.log_path, err.msg, sizeof err.msg) != 0 ||
                 (ckpt_dir && cli_mkdirs(ckpt_dir, err.msg, sizeof err.msg) != 0))) {
        err.status = SBP_ERR_IO;
        goto fail;
    }
    if (data_load(&ds, &s, &err) != SBP_OK)
        goto fail;
    if (sbp_dataset_timesteps(ds.train) != sbp_dataset_timesteps(ds.test)) {
        char a[64], b[64];
        describe_steps(a, sizeof a, ds.train);
        describe_steps(b, sizeof b, ds.test);
        snprintf(err.msg, sizeof err.msg,
                 "--data %s: the training set is %s but the test set is %s; both splits must "
                 "be images, or spike trains of the same length", s.data, a, b);
        goto early;
    }
    if (!resume && !(given & GIVEN('T')) && sbp_dataset_timesteps(ds.train) > 0)
        o->timesteps = sbp_dataset_timesteps(ds.train);
    { /* more threads than samples per batch only cost memory (an engine each) */
        size_t work = sbp_dataset_count(ds.train) < (size_t)o->batch ? sbp_dataset_count(ds.train)
                                                                     : (size_t)o->batch;
        if (o->threads > 0 && (size_t)o->threads > work) {
            if (lead)
                fprintf(stderr, "spikebp train: note: --threads %d capped at %zu, the samples of "
                        "one batch\n", o->threads, work);
            o->threads = (int)work;
        }
    }
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%d", o->timesteps);
    if (sbp_net_set_meta(net, "timesteps", tbuf, &err) != SBP_OK ||
        sbp_net_set_meta(net, "data", s.data, &err) != SBP_OK ||
        sbp_net_set_meta(net, "backward", sbp_backward_name(o->backward), &err) != SBP_OK)
        goto fail;
    { /* ranks of the run (recorded only for R > 1): results are bit-identical per R */
        const char *was = sbp_net_get_meta(net, "ranks");
        const int before = was ? atoi(was) : 1, now = sbp_comm_size(comm);
        if (resume && before != now && lead)
            fprintf(stderr, "spikebp train: note: the run had %d rank%s and continues on %d: "
                    "correct, but not bit-identical to the uninterrupted run\n", before,
                    before == 1 ? "" : "s", now);
        snprintf(tbuf, sizeof tbuf, "%d", now);
        if ((now > 1 || was) && sbp_net_set_meta(net, "ranks", tbuf, &err) != SBP_OK)
            goto fail;
    }
    if (sbp_trainer_create(&tr, net, ds.train, o, &err) != SBP_OK)
        goto fail;
    if (resume && sbp_trainer_seek(tr, s.epoch, s.batch, &err) != SBP_OK)
        goto fail;
    if (s.log_offset >= 0) {
        /* Drop log rows written after the checkpoint: they will be written again. */
        if (lead && truncate(s.log_path, s.log_offset) != 0) {
            snprintf(err.msg, sizeof err.msg, "%s: cannot truncate the log to %ld bytes: %s",
                     s.log_path, s.log_offset, strerror(errno));
            goto fail;
        }
        log = fopen(lead ? s.log_path : "/dev/null", "a");
    } else {
        if (!lead) { /* only rank 0 writes the log */
            log = fopen("/dev/null", "w");
        } else {
            snprintf(log_tmp, sizeof log_tmp, "%s.tmp.XXXXXX", s.log_path);
            int fd = mkstemp(log_tmp);
            if (fd >= 0)
                fchmod(fd, 0644); /* mkstemp makes 0600; a log is an ordinary document */
            log = fd >= 0 ? fdopen(fd, "w") : NULL;
            if (fd >= 0 && !log)
                close(fd);
            if (!log) {
                int e = errno;
                if (fd >= 0)
                    unlink(log_tmp);
                log_tmp[0] = '\0';
                errno = e;
            }
        }
        if (log)
            fprintf(log, CLI_LOG_HEADER_PREFIX "%s_loss,%s_accuracy,seconds,images_per_second\n",
                    ds.val ? "val" : "test", ds.val ? "val" : "test");
    }
    if (!log) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot open the log file: %s", s.log_path,
                 strerror(errno));
        goto fail;
    }

    if (!quiet)
        fprintf(stderr,
                "spikebp train: %s on %s (%zu train / %zu %s images), T = %d, batch %d, lr %g, "
                "%s backward, %zu parameters, seed %llu\n",
                s.net_name, s.data, sbp_dataset_count(ds.train),
                sbp_dataset_count(ds.val ? ds.val : ds.test), ds.val ? "validation" : "test",
                o->timesteps, o->batch, o->lr, sbp_backward_name(o->backward),
                sbp_net_param_count(net), (unsigned long long)o->seed);
    stop = stop_signal;
    if (sbp_comm_max(comm, &stop, &err) != SBP_OK)
        goto fail;
    if (stop) { /* a signal during setup: nothing has been trained, nothing to save */
        if (lead)
            fprintf(stderr, "spikebp train: %s before the first batch; nothing saved\n",
                    stop == SIGINT ? "interrupted" : "terminated");
        rc = 128 + stop;
        goto out;
    }

    const sbp_dataset *eval_set = ds.val ? ds.val : ds.test;
    double last_train_acc = 0, last_loss = 0;
    sbp_eval_result er = {0};
    size_t batches_done = 0;
    while (!sbp_trainer_done(tr)) {
        int epoch;
        sbp_trainer_position(tr, &epoch, NULL);
        char label[64];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, o->epochs);
        cli_progress p;
        cli_progress_start(&p, label, sbp_dataset_count(ds.train), quiet);
        p.start -= s.epoch_secs; /* a resumed epoch keeps its clock */
        double lr = 0, t_epoch = cli_now() - s.epoch_secs;
        sbp_batch_result br;
        do {
            if (sbp_trainer_step(tr, &br, &err) != SBP_OK)
                goto fail;
            stop = stop_signal; /* every rank stops after the same batch */
            if (sbp_comm_max(comm, &stop, &err) != SBP_OK)
                goto fail;
            s.epoch_loss += br.loss;
            s.epoch_correct += br.correct;
            s.epoch_seen += br.samples;
            lr = br.lr;
            batches_done++;
            char extra[96];
            snprintf(extra, sizeof extra, "loss %.4f  acc %.2f %%",
                     s.epoch_loss / (double)s.epoch_seen,
                     100.0 * (double)s.epoch_correct / (double)s.epoch_seen);
            cli_progress_update(&p, (size_t)s.epoch_seen, extra);
            int last = br.batch_index + 1 == br.batches_per_epoch;
            if (ckpt_dir && !last && (stop || batches_done % (size_t)ckpt_every == 0)) {
                sbp_trainer_position(tr, &s.epoch, &s.batch);
                s.epoch_secs = cli_now() - t_epoch;
                if (lead && checkpoint_save(net, &s, ckpt_dir, (int)keep, &err) != SBP_OK)
                    goto fail;
            }
            if (stop && !last) {
                cli_progress_end(&p);
                if (lead)
                    fprintf(stderr, "spikebp train: %s at epoch %d, batch %zu; %s\n",
                            stop == SIGINT ? "interrupted" : "terminated", br.epoch + 1,
                            br.batch_index + 1,
                            ckpt_dir ? "state saved — continue with --resume" : "nothing saved");
                rc = 128 + stop;
                goto out;
            }
        } while (br.batch_index + 1 < br.batches_per_epoch);
        cli_progress_end(&p);
        double train_secs = cli_now() - t_epoch;
        s.total_secs += train_secs;
        uint32_t crc;
        if (sbp_comm_size(comm) > 1) { /* the data-parallel invariant, checked every epoch */
            if (sbp_comm_check_weights(comm, net, &crc, &err) != SBP_OK)
                goto fail;
            printf("epoch %d/%d  weights CRC-32 %08lx identical on all %d ranks\n", epoch + 1,
                   o->epochs, (unsigned long)crc, sbp_comm_size(comm));
        }

        if (evaluate(net, eval_set, o, ds.val ? "  val" : "  test", quiet, &er, &err) != SBP_OK)
            goto fail;
        char acc[32];
        snprintf(acc, sizeof acc, "%.6f", er.accuracy);
        snprintf(tbuf, sizeof tbuf, "%d", epoch + 1);
        if (sbp_net_set_meta(net, ds.val ? "val_accuracy" : "test_accuracy", acc, &err) != SBP_OK ||
            sbp_net_set_meta(net, "epochs", tbuf, &err) != SBP_OK ||
            (lead && sbp_net_save(net, s.save, &err) != SBP_OK))
            goto fail;
        last_train_acc = (double)s.epoch_correct / (double)s.epoch_seen;
        last_loss = s.epoch_loss / (double)s.epoch_seen;
        double ips = (double)s.epoch_seen / train_secs;
        printf("epoch %d/%d  loss %.4f  train %.2f %%  %s %.2f %% (%zu/%zu)  %.1f s  "
               "%.1f img/s  lr %g\n",
               epoch + 1, o->epochs, last_loss, 100.0 * last_train_acc, ds.val ? "val" : "test",
               100.0 * er.accuracy, er.correct, er.images, train_secs, ips, lr);
        if (lead) { /* spike-rate summary on 64 images, with warnings for silent/saturated layers */
            double rates[SBP_MAX_LAYERS];
            char summary[2048];
            if (sbp_analysis_spike_rates(net, eval_set, o->timesteps, 64, 1, rates, &err) != SBP_OK)
                goto fail;
            sbp_analysis_format_rates(net, rates, summary, sizeof summary);
            if (!quiet)
                fputs(summary, stdout);
        }
        fflush(stdout);
        fprintf(log, "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f,%.2f\n", epoch + 1, lr, last_loss,
                last_train_acc, er.loss / (double)er.images, er.accuracy, train_secs, ips);
        if (fflush(log) != 0) {
            snprintf(err.msg, sizeof err.msg, "%s: write failed: %s", s.log_path, strerror(errno));
            goto fail;
        }
        if (log_tmp[0]) { /* the first model of this run is saved: its log replaces the old */
            if (fsync(fileno(log)) != 0 || rename(log_tmp, s.log_path) != 0) {
                snprintf(err.msg, sizeof err.msg, "%s: cannot put the new log in place: %s",
                         s.log_path, strerror(errno));
                goto fail;
            }
            log_tmp[0] = '\0';
        }
        s.log_offset = ftell(log);
        s.epoch_loss = 0;
        s.epoch_correct = s.epoch_seen = 0;
        s.epoch_secs = 0;
        if (ckpt_dir)
            sbp_trainer_position(tr, &s.epoch, &s.batch);
        /* best.sbp before the checkpoint that records best_val: a failure between the two
         * resumes from the previous checkpoint, which replays this epoch and writes the same
         * best.sbp again. best.sbp is not resumable state; every ckpt-*.sbp holds the position
         * of its own weights. */
        if (ds.val && er.accuracy > s.best_val) {
            s.best_val = er.accuracy;
            if (ckpt_dir && lead && checkpoint_save_best(net, &s, ckpt_dir, &err) != SBP_OK)
                goto fail;
        }
        if (ckpt_dir && lead && checkpoint_save(net, &s, ckpt_dir, (int)keep, &err) != SBP_OK)
            goto fail;
        stop = stop_signal; /* a signal during the evaluation: the same answer on every rank */
        if (sbp_comm_max(comm, &stop, &err) != SBP_OK)
            goto fail;
        if (stop && !sbp_trainer_done(tr)) {
            if (lead)
                fprintf(stderr, "spikebp train: stopped after epoch %d; %s\n", epoch + 1,
                        ckpt_dir ? "state saved — continue with --resume" : "model saved");
            rc = 128 + stop;
            goto out;
        }
    }
    if (ds.val) { /* the test set only for the final report */
        if (evaluate(net, ds.test, o, "  test", quiet, &er, &err) != SBP_OK)
            goto fail;
        printf("test %.2f %% (%zu/%zu) after %d epochs (best validation %.2f %%)\n",
               100.0 * er.accuracy, er.correct, er.images, o->epochs, 100.0 * s.best_val);
        char acc[32];
        snprintf(acc, sizeof acc, "%.6f", er.accuracy);
        if (sbp_net_set_meta(net, "test_accuracy", acc, &err) != SBP_OK ||
            (lead && sbp_net_save(net, s.save, &err) != SBP_OK))
            goto fail;
    }
    if (fclose(log) != 0) {
        log = NULL;
        snprintf(err.msg, sizeof err.msg, "%s: write failed", s.log_path);
        goto fail;
    }
    log = NULL;
    if (json) {
        printf("{\"command\":\"train\",\"model\":");
        cli_json_string(stdout, save_shown);
        printf(",\"log\":");
        cli_json_string(stdout, log_shown);
        printf(",\"data\":");
        cli_json_string(stdout, s.data);
        printf(",\"epochs\":%d,\"timesteps\":%d,\"batch\":%d,\"backward\":\"%s\","
               "\"train_images\":%zu,\"loss\":%.6f,\"train_accuracy\":%.6f,"
               "\"test_accuracy\":%.6f,\"test_correct\":%zu,\"test_images\":%zu,"
               "\"train_seconds\":%.3f,\"images_per_second\":%.2f",
               o->epochs, o->timesteps, o->batch, sbp_backward_name(o->backward),
               sbp_dataset_count(ds.train), last_loss, last_train_acc, er.accuracy, er.correct,
               er.images, s.total_secs,
               (double)sbp_dataset_count(ds.train) * o->epochs / s.total_secs);
        if (ds.val)
            printf(",\"best_val_accuracy\":%.6f", s.best_val);
        printf("}\n");
    }
    rc = CLI_OK;
    goto out;
early: /* an output or input refused before any work */
    cli_ranks_fail(comm, "train", err.msg); /* every rank ends: the others would wait for it */
    goto out;
fail:
    if (stop_signal) { /* e.g. a read interrupted while blocked on a slow input */
        fprintf(stderr, "\nspikebp train: %s (%s)\n",
                stop_signal == SIGINT ? "interrupted" : "terminated", err.msg);
        rc = 128 + stop_signal;
        sbp_comm_abort(comm, rc); /* the other ranks may be waiting for this one */
    } else {
        fputc('\n', stderr);
        cli_ranks_fail(comm, "train", err.msg);
    }
out:
    if (log)
        fclose(log);
    if (log_tmp[0]) /* never put in place: the previous log stays as it was */
        unlink(log_tmp);
    sbp_trainer_free(tr);
    data_free(&ds);
    sbp_net_free(net);
    sbp_comm_close(comm);
    return rc;
}
