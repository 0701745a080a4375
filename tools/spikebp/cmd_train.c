/*
 * cmd_train.c — `spikebp train`: mini-batch training with a progress bar, one summary line and
 * one CSV log row per epoch, the model saved (atomically) after every epoch, and the test set
 * evaluated after every epoch.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: spikebp train --save FILE [options]\n\n"
            "network and data\n"
            "  --net NAME            built-in (lenet, vgg9, vgg7, resnet11, resnet9),\n"
            "                        paper notation or a description file   [lenet]\n"
            "  --data NAME           mnist | fashion-mnist | folder of IDX files  [mnist]\n"
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
            "  --recipe paper        SPEC §4's lr, schedule, epochs, batch and T for the\n"
            "                        built-in network; options given explicitly win\n"
            "output\n"
            "  --save FILE           model file, rewritten after every epoch (required)\n"
            "  --log FILE            per-epoch CSV log                    [FILE.log.csv]\n"
            "  --json                print one JSON object with the results at the end\n"
            "  --quiet               no progress bar\n"
            "execution\n"
            "  --threads N           worker threads                         [all cores]\n"
            "  --reference           plain-loop reference implementation (slow; for checks)\n");
}

static int parse_milestones(const char *s, sbp_train_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_milestones = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (o->n_milestones == 8 || !cli_int("train", "--lr-milestones", tok, 1, 1000000, &v))
            return 0;
        o->lr_milestones[o->n_milestones++] = (int)v - 1; /* 1-based on the command line */
    }
    return 1;
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

int cmd_train(int argc, char **argv)
{
    const char *net_name = "lenet", *data = "mnist", *save = NULL, *log_path = NULL;
    long train_limit = 0, test_limit = 0, v;
    double d;
    int json = 0, quiet = 0;
    sbp_train_opts o;
    sbp_train_opts_default(&o);
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
        {"recipe", required_argument, 0, 'P'},
        {0, 0, 0, 0}};
    int c;
    const char *recipe = NULL;
    unsigned long long given = 0;
    while ((c = getopt_long(argc, argv, "hT:", opts, NULL)) != -1) {
        given |= GIVEN(c);
        switch (c) {
        case 'P': recipe = optarg; break;
        case 'n': net_name = optarg; break;
        case 'd': data = optarg; break;
        case 'L': if (!cli_int("train", "--train-limit", optarg, 1, 1L << 40, &train_limit)) return CLI_USAGE; break;
        case 'E': if (!cli_int("train", "--test-limit", optarg, 1, 1L << 40, &test_limit)) return CLI_USAGE; break;
        case 'e': if (!cli_int("train", "--epochs", optarg, 1, 100000, &v)) return CLI_USAGE; o.epochs = (int)v; break;
        case 'T': if (!cli_int("train", "--timesteps", optarg, 1, 100000, &v)) return CLI_USAGE; o.timesteps = (int)v; break;
        case 'b': if (!cli_int("train", "--batch", optarg, 1, 1000000, &v)) return CLI_USAGE; o.batch = (int)v; break;
        case 'r': if (!cli_float("train", "--lr", optarg, 1e-12, 1e6, &d)) return CLI_USAGE; o.lr = (float)d; break;
        case 'M': if (!parse_milestones(optarg, &o)) return CLI_USAGE; break;
        case 'F': if (!cli_float("train", "--lr-factor", optarg, 0, 1e6, &d)) return CLI_USAGE; o.lr_factor = (float)d; break;
        case 'w': if (!cli_float("train", "--weight-decay", optarg, 0, 1e6, &d)) return CLI_USAGE; o.weight_decay = (float)d; break;
        case 'B':
            if (!strcmp(optarg, "exact")) o.backward = SBP_BACKWARD_EXACT;
            else if (!strcmp(optarg, "aggregate")) o.backward = SBP_BACKWARD_AGGREGATE;
            else { fprintf(stderr, "spikebp train: --backward: '%s' is not exact or aggregate\n", optarg); return CLI_USAGE; }
            break;
        case 's': if (!cli_int("train", "--seed", optarg, 0, 1L << 62, &v)) return CLI_USAGE; o.seed = (uint64_t)v; break;
        case 'S': save = optarg; break;
        case 'g': log_path = optarg; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 't': if (!cli_int("train", "--threads", optarg, 1, 1024, &v)) return CLI_USAGE; o.threads = (int)v; break;
        case 'R': o.impl = SBP_IMPL_REFERENCE; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spikebp train: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    if (!save) {
        fprintf(stderr, "spikebp train: --save FILE is required (see --help)\n");
        return CLI_USAGE;
    }
    if (recipe) {
        if (strcmp(recipe, "paper")) {
            fprintf(stderr, "spikebp train: --recipe: '%s' is unknown (paper)\n", recipe);
            return CLI_USAGE;
        }
        if (!apply_recipe(net_name, given, &o)) {
            fprintf(stderr, "spikebp train: --recipe paper: no recipe for network '%s' (lenet, "
                            "vgg9, vgg7, resnet11, resnet9)\n", net_name);
            return CLI_USAGE;
        }
    }
    char log_buf[4096];
    if (!log_path) {
        snprintf(log_buf, sizeof log_buf, "%s.log.csv", save);
        log_path = log_buf;
    }

    sbp_error err = {0};
    sbp_net_spec spec;
    sbp_net *net = NULL;
    sbp_dataset *train = NULL, *train_all = NULL, *test = NULL, *test_all = NULL;
    sbp_trainer *tr = NULL;
    FILE *log = NULL;
    int rc = CLI_FAIL;
    if (cli_net_spec(net_name, &spec, &err) != SBP_OK ||
        sbp_net_create(&net, &spec, o.seed, &err) != SBP_OK ||
        cli_load_data(data, 1, (size_t)train_limit, &train, &train_all, &err) != SBP_OK ||
        cli_load_data(data, 0, (size_t)test_limit, &test, &test_all, &err) != SBP_OK)
        goto fail;
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%d", o.timesteps);
    if (sbp_net_set_meta(net, "timesteps", tbuf, &err) != SBP_OK ||
        sbp_net_set_meta(net, "data", data, &err) != SBP_OK ||
        sbp_net_set_meta(net, "backward", sbp_backward_name(o.backward), &err) != SBP_OK)
        goto fail;
    if (sbp_trainer_create(&tr, net, train, &o, &err) != SBP_OK)
        goto fail;
    log = fopen(log_path, "w");
    if (!log) {
        snprintf(err.msg, sizeof err.msg, "%s: cannot create the log file", log_path);
        goto fail;
    }
    fprintf(log, "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,"
                 "images_per_second\n");
    fflush(log);

    char notation[512];
    sbp_error ferr = {0};
    if (sbp_net_spec_format(&spec, notation, sizeof notation, &ferr) != SBP_OK)
        snprintf(notation, sizeof notation, "%s", net_name);
    if (!quiet)
        fprintf(stderr,
                "spikebp train: %s on %s (%zu train / %zu test images), T = %d, batch %d, "
                "lr %g, %s backward, %zu parameters, seed %llu\n",
                notation, data, sbp_dataset_count(train), sbp_dataset_count(test), o.timesteps,
                o.batch, o.lr, sbp_backward_name(o.backward), sbp_net_param_count(net),
                (unsigned long long)o.seed);

    double total_secs = 0, last_train_acc = 0, last_loss = 0;
    sbp_eval_result er = {0};
    for (int epoch = 0; epoch < o.epochs; epoch++) {
        char label[64];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, o.epochs);
        cli_progress p;
        cli_progress_start(&p, label, sbp_dataset_count(train), quiet);
        double loss = 0, lr = 0;
        size_t correct = 0, seen = 0;
        sbp_batch_result br;
        do {
            if (sbp_trainer_step(tr, &br, &err) != SBP_OK)
                goto fail;
            loss += br.loss;
            correct += (size_t)br.correct;
            seen += (size_t)br.samples;
            lr = br.lr;
            char extra[96];
            snprintf(extra, sizeof extra, "loss %.4f  acc %.2f %%", loss / (double)seen,
                     100.0 * (double)correct / (double)seen);
            cli_progress_update(&p, seen, extra);
        } while (br.batch_index + 1 < br.batches_per_epoch);
        cli_progress_end(&p);
        double train_secs = cli_now() - p.start;
        total_secs += train_secs;

        sbp_eval_opts eo;
        sbp_eval_opts_default(&eo);
        eo.timesteps = o.timesteps;
        eo.threads = o.threads;
        eo.impl = o.impl;
        cli_progress pe;
        cli_progress_start(&pe, "  test", sbp_dataset_count(test), quiet);
        eo.progress = on_eval_progress;
        eo.progress_user = &pe;
        if (sbp_eval(net, test, &eo, &er, &err) != SBP_OK)
            goto fail;
        cli_progress_end(&pe);
        char acc[32];
        snprintf(acc, sizeof acc, "%.6f", er.accuracy);
        snprintf(tbuf, sizeof tbuf, "%d", epoch + 1);
        if (sbp_net_set_meta(net, "test_accuracy", acc, &err) != SBP_OK ||
            sbp_net_set_meta(net, "epochs", tbuf, &err) != SBP_OK ||
            sbp_net_save(net, save, &err) != SBP_OK)
            goto fail;
        last_train_acc = (double)correct / (double)seen;
        last_loss = loss / (double)seen;
        double ips = (double)seen / train_secs;
        printf("epoch %d/%d  loss %.4f  train %.2f %%  test %.2f %% (%zu/%zu)  %.1f s  "
               "%.1f img/s  lr %g\n",
               epoch + 1, o.epochs, last_loss, 100.0 * last_train_acc, 100.0 * er.accuracy,
               er.correct, er.images, train_secs, ips, lr);
        fflush(stdout);
        fprintf(log, "%d,%g,%.6f,%.6f,%.6f,%.6f,%.3f,%.2f\n", epoch + 1, lr, last_loss,
                last_train_acc, er.loss / (double)er.images, er.accuracy, train_secs, ips);
        if (fflush(log) != 0) {
            snprintf(err.msg, sizeof err.msg, "%s: write failed", log_path);
            goto fail;
        }
    }
    if (fclose(log) != 0) {
        log = NULL;
        snprintf(err.msg, sizeof err.msg, "%s: write failed", log_path);
        goto fail;
    }
    log = NULL;
    if (json) {
        printf("{\"command\":\"train\",\"model\":");
        cli_json_string(stdout, save);
        printf(",\"log\":");
        cli_json_string(stdout, log_path);
        printf(",\"data\":");
        cli_json_string(stdout, data);
        printf(",\"epochs\":%d,\"timesteps\":%d,\"batch\":%d,\"backward\":\"%s\","
               "\"train_images\":%zu,\"loss\":%.6f,\"train_accuracy\":%.6f,"
               "\"test_accuracy\":%.6f,\"test_correct\":%zu,\"test_images\":%zu,"
               "\"train_seconds\":%.3f,\"images_per_second\":%.2f}\n",
               o.epochs, o.timesteps, o.batch, sbp_backward_name(o.backward),
               sbp_dataset_count(train), last_loss, last_train_acc, er.accuracy, er.correct,
               er.images, total_secs,
               (double)sbp_dataset_count(train) * o.epochs / total_secs);
    }
    rc = CLI_OK;
    goto out;
fail:
    fprintf(stderr, "\nspikebp train: %s\n", err.msg);
out:
    if (log)
        fclose(log);
    sbp_trainer_free(tr);
    sbp_dataset_free(train);
    sbp_dataset_free(train_all);
    sbp_dataset_free(test);
    sbp_dataset_free(test_all);
    sbp_net_free(net);
    return rc;
}
