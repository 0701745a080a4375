/*
 * checkpoint.h — training checkpoints of `spikebp train --checkpoint-dir DIR` (issue:
 * reliability). A checkpoint is a model file (src/io/model.c: magic, version, description,
 * named tensors, CRC, written atomically) whose metadata also holds everything needed to
 * continue exactly: the position (epoch, batch), the options, the running sums of the epoch in
 * progress and the byte length of the CSV log at that moment. No generator state is needed:
 * every random draw is a pure function of (seed, epoch, sample, step) (src/core/rng.h).
 *
 * Files: DIR/ckpt-EEEEEE-BBBBBBBB.sbp (next epoch and batch to run, 0-based), the last K kept;
 * DIR/best.sbp, the best model by validation accuracy.
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
    long log_offset;     /* bytes of the CSV log that belong to completed epochs */
    double best_val;     /* best validation accuracy so far (−1: none) */
    char buf[4][1024];
} train_state;

/* Writes the state and the net's weights as DIR/ckpt-….sbp, then prunes to the newest `keep`.
 * The net's metadata gains the checkpoint keys (harmless in a model). */
sbp_status checkpoint_save(sbp_net *net, const train_state *s, const char *dir, int keep,
                           sbp_error *err);

/* Loads the newest checkpoint of DIR that reads back intact (a corrupt newest one — impossible
 * with atomic writes, but disks fail — is reported on stderr and skipped). */
sbp_status checkpoint_load_latest(sbp_net **net, train_state *s, const char *dir, char *used,
                                  size_t used_size, sbp_error *err);

#endif
