/*
 * checkpoint.h — training checkpoints of `spikebp train --checkpoint-dir DIR` (issue:
 * reliability). A checkpoint is a model file (src/io/model.c: magic, version, description,
 * named tensors, CRC, written atomically) whose metadata also holds everything needed to
 * continue exactly: the position (epoch, batch), the options, the running sums of the epoch in
 * progress and the byte length of the CSV log at that moment. No generator state is needed:
 * every random draw is a pure function of (seed, epoch, sample, step) (src/core/rng.h).
 *
 * Files: DIR/ckpt-EEEEEE-BBBBBBBB.sbp (next epoch and batch to run, 0-based), the last K kept;
 * DIR/best.sbp, the best model by validation accuracy. Each checkpoint records the run it
 * belongs to (ckpt_run: a random id made when the run starts), so that a folder holds one run:
 * a new run refuses a folder with another run's files (checkpoint_dir_check) instead of mixing
 * its checkpoints with theirs. The run's --save and --log are stored as absolute paths: a
 * resume from another folder writes to the same files.
 */
#ifndef SBP_TOOLS_CHECKPOINT_H
#define SBP_TOOLS_CHECKPOINT_H

#include "spikebp.h"

/* Everything `train` needs to continue a run. Strings point into `buf`. */
typedef struct train_state {
    sbp_train_opts o;
    const char *net_name, *data, *save, *log_path;
    long train_limit, test_limit;
    double val_split;
    int epoch;           /* next batch to run: `batch` of `epoch` */
    size_t batch;
    double epoch_loss;   /* running sums of the epoch in progress */
    long epoch_correct, epoch_seen;
    double epoch_secs, total_secs;
    long log_offset;     /* bytes of the CSV log that belong to completed epochs; −1 while
                          * the log is not in place yet (it is, from the first saved model) */
    double best_val;     /* best validation accuracy so far (−1: none) */
    char run_id[17];     /* 16 hex digits */
    char buf[4][1024];
} train_state;

/* Parses an --lr-milestones list: 1-based epochs, comma-separated, increasing, at most 8,
 * no empty items ("3,,1" is refused). 0, or −1 with a message in msg (if not NULL). */
int train_parse_milestones(const char *s, sbp_train_opts *o, char *msg, size_t size);

/* A fresh random run id (from /dev/urandom; the clock and process id if that fails). */
void checkpoint_new_run_id(char id[17]);

/* Checks `dir` before a run writes checkpoints there: absent, or a folder that holds no
 * checkpoint or best.sbp of another run. run_id NULL: a new run (any checkpoint is another
 * run's); else checkpoints of that run are fine. Fails with a message naming the folder and
 * what to do (SBP_ERR_INVALID_ARG). */
sbp_status checkpoint_dir_check(const char *dir, const char *run_id, sbp_error *err);

/* Writes the state with the net's weights as DIR/best.sbp (the best model by validation; the
 * state recorded is the position of these weights). Not a resumable checkpoint: resumes read
 * only ckpt-*.sbp. */
sbp_status checkpoint_save_best(sbp_net *net, const train_state *s, const char *dir,
                                sbp_error *err);

/* Writes the state and the net's weights as DIR/ckpt-….sbp, then prunes to the newest `keep`.
 * The net's metadata gains the checkpoint keys (harmless in a model). */
sbp_status checkpoint_save(sbp_net *net, const train_state *s, const char *dir, int keep,
                           sbp_error *err);

/* Loads the newest checkpoint of DIR that reads back intact (a corrupt newest one — impossible
 * with atomic writes, but disks fail — is reported on stderr and skipped). A DIR that is not a
 * folder, or holds no ckpt-*.sbp, is an error saying which. Every numeric field is checked
 * against its range. */
sbp_status checkpoint_load_latest(sbp_net **net, train_state *s, const char *dir, char *used,
                                  size_t used_size, sbp_error *err);

#endif
