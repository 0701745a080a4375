/* cmd_eval.c — `spikebp eval`: test accuracy of a saved model (§1 inference, o = V(T)/T). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: spikebp eval --model FILE [--data NAME] [options]\n\n"
            "  --model FILE          a model saved by 'spikebp train' (required), or a NIR\n"
            "                        graph written by 'spikebp export --nir' (by content)\n"
            "  --data NAME           a data set (list below)\n"
            "                        [default: the data the model was trained on]\n"
            "  -T, --timesteps N     time steps per image [default: the model's training T]\n"
            "  --limit N             evaluate only the first N test images [default: all]\n"
            "  --seed S              seed of the input spike encoding [default: 1]\n"
            "  --threads N           worker threads [default: all cores]\n"
            "  --backend NAME        cpu, reference (plain loops, slow) or cuda [default: cpu]\n"
            "  --reference           the same as --backend reference\n"
            "  (under mpirun -np R: the images split over R processes; docs/mpi.md)\n"
            "  --quiet               no progress bar\n"
            "  --json                print one JSON object with the results\n\n");
    cli_data_help(f);
}

static void on_progress(void *user, size_t done, size_t total)
{
    cli_progress_update(user, done, NULL);
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL;
    long T = 0, limit = 0, seed = 1, threads = 0;
    int json = 0, quiet = 0;
    sbp_backend_id backend = SBP_BACKEND_CPU;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"data", required_argument, 0, 'd'},
                                         {"timesteps", required_argument, 0, 'T'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"seed", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"reference", no_argument, 0, 'r'},
                                         {"backend", required_argument, 0, 'x'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "hT:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'T': if (!cli_int("eval", "--timesteps", optarg, 1, 100000, &T)) return CLI_USAGE; break;
        case 'l': if (!cli_int("eval", "--limit", optarg, 1, 1L << 40, &limit)) return CLI_USAGE; break;
        case 's': if (!cli_int("eval", "--seed", optarg, 0, 1L << 62, &seed)) return CLI_USAGE; break;
        case 't': if (!cli_int("eval", "--threads", optarg, 1, 1024, &threads)) return CLI_USAGE; break;
        case 'r': backend = SBP_BACKEND_REFERENCE; break;
        case 'x': if (!cli_backend("eval", optarg, &backend)) return CLI_USAGE; break;
        case 'q': quiet = 1; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_OK;
        default: help(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc || !model) {
        fprintf(stderr, optind < argc ? "spikebp eval: unexpected argument '%s'\n"
                                      : "spikebp eval: --model FILE is required%s\n",
                optind < argc ? argv[optind] : "");
        return CLI_USAGE;
    }
    sbp_comm *comm = NULL; /* under mpirun: the images split over the ranks */
    if (cli_ranks_start("eval", &comm, &quiet) != CLI_OK)
        return CLI_FAIL;
    sbp_error err = {0};
    sbp_net *net = NULL;
    sbp_dataset *ds = NULL;
    int rc = CLI_FAIL;
    if (cli_load_model(&net, model, &err) != SBP_OK)
        goto fail;
    if (cli_model_defaults(net, model, &data, &T, err.msg, sizeof err.msg) != 0) {
        fprintf(stderr, "spikebp eval: %s\n", err.msg);
        rc = CLI_USAGE;
        goto out;
    }
    if (cli_load_data(data, 0, (size_t)limit, &ds, &err) != SBP_OK)
        goto fail;
    if (sbp_dataset_timesteps(ds) > 0 && T != sbp_dataset_timesteps(ds)) {
        fprintf(stderr, "spikebp eval: %s holds spike trains of %d steps; using T = %d\n", data,
                sbp_dataset_timesteps(ds), sbp_dataset_timesteps(ds));
        T = sbp_dataset_timesteps(ds);
    }
    if ((size_t)threads > sbp_dataset_count(ds)) { /* idle threads would only cost memory */
        fprintf(stderr, "spikebp eval: note: --threads %ld capped at %zu, the number of "
                "images\n", threads, sbp_dataset_count(ds));
        threads = (long)sbp_dataset_count(ds);
    }
    sbp_eval_opts eo;
    sbp_eval_opts_default(&eo);
    eo.timesteps = (int)T;
    eo.seed = (uint64_t)seed;
    eo.threads = (int)threads;
    eo.backend = backend;
    eo.comm = comm;
    cli_progress p;
    cli_progress_start(&p, "eval", sbp_dataset_count(ds), quiet);
    eo.progress = on_progress;
    eo.progress_user = &p;
    sbp_eval_result r;
    if (sbp_eval(net, ds, &eo, &r, &err) != SBP_OK)
        goto fail;
    cli_progress_end(&p);
    double secs = cli_now() - p.start;
    if (json) {
        printf("{\"command\":\"eval\",\"model\":");
        cli_json_string(stdout, model);
        printf(",\"data\":");
        cli_json_string(stdout, data);
        printf(",\"timesteps\":%ld,\"images\":%zu,\"correct\":%zu,\"accuracy\":%.6f,"
               "\"loss\":%.6f,\"seconds\":%.3f,\"images_per_second\":%.2f}\n",
               T, r.images, r.correct, r.accuracy, r.loss / (double)r.images, secs,
               (double)r.images / secs);
    } else {
        printf("%s on %s (T = %ld): accuracy %.2f %% (%zu/%zu), loss %.4f, %.1f s, %.1f img/s\n",
               model, data, T, 100.0 * r.accuracy, r.correct, r.images,
               r.loss / (double)r.images, secs, (double)r.images / secs);
    }
    rc = CLI_OK;
    goto out;
fail:
    cli_ranks_fail(comm, "eval", err.msg);
out:
    sbp_dataset_free(ds);
    sbp_net_free(net);
    sbp_comm_close(comm);
    return rc;
}
