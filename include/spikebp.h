/*
 * spikebp.h — public API of libspikebp: training deep spiking neural networks with the
 * spike-based backpropagation of Lee, Sarwar, Panda, Srinivasan & Roy (Frontiers in
 * Neuroscience 14:119, 2020). The behaviour is specified in docs/method.md; section numbers
 * below and in the sources (§1 …, also written "SPEC §N") refer to it.
 *
 * Tutorial
 * --------
 *     sbp_error err = {0};
 *     sbp_dataset *train = NULL, *test = NULL;
 *     sbp_net *net = NULL;
 *     if (sbp_dataset_load_idx(&train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
 *                              &err) != SBP_OK) { fprintf(stderr, "%s\n", err.msg); ... }
 *     sbp_net_spec spec;
 *     sbp_net_spec_builtin(&spec, "lenet", &err);           // §5 MNIST LeNet
 *     sbp_net_create(&net, &spec, 42, &err);                 // weights drawn per §4
 *     sbp_train_opts o; sbp_train_opts_default(&o);          // §4 MNIST column
 *     sbp_trainer *tr; sbp_trainer_create(&tr, net, train, &o, &err);
 *     while (!sbp_trainer_done(tr)) sbp_trainer_step(tr, &batch_result, &err);
 *     sbp_eval(net, test, &eval_opts, &eval_result, &err);
 *     sbp_net_save(net, "lenet.sbp", &err);
 *
 * Glossary and memory layout (decided once, used everywhere)
 * ----------------------------------------------------------
 *   N  samples in a mini-batch        T  time steps per sample (§1)
 *   C  channels (features for dense)  H, W  spatial size (1×1 for dense)
 *   P  = H·W positions of one channel
 *   Images:       (N, C, H, W) uint8, row-major.
 *   Spike trains: (T, C, H, W) per sample, "time-major", values −1, 0, +1 (before dropout
 *                 scaling). Inside the engine a layer advances a chunk of steps at a
 *                 time: currents and spikes are time-major rows (steps, neurons), the
 *                 neurons of a row in the backend's order (channel-first for the
 *                 reference backend, channel-last for cpu).
 *   Weights:      conv (Cout, Cin, kh, kw); dense (out, in) with `in` flattened in (c, h, w)
 *                 order — PyTorch's layout.
 *
 * Conventions
 * -----------
 *   - Every function that can fail returns an sbp_status and, if `err` is not NULL, writes a
 *     message with context into it. The library never exits, never prints (except through the
 *     progress callback the caller installs) and never relies on assert() for validation.
 *   - Functions named *_create, *_open and *_load that take `sbp_X **out` (and
 *     sbp_dataset_slice) allocate an object the caller owns and frees with the matching *_free
 *     (free(NULL) is a no-op). On failure *out is left NULL. The one *_load that does not
 *     allocate is sbp_net_spec_load: like sbp_net_spec_builtin and _parse it fills a caller's
 *     sbp_net_spec, a plain value with no memory of its own, so there is nothing to free.
 *   - No global mutable state: all state lives in the objects below; randomness comes from a
 *     counter-based generator (Philox4x32, Random123) keyed by the user's seed, so a run is
 *     reproducible for the same seed, data and thread count.
 */
#ifndef SPIKEBP_H
#define SPIKEBP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SBP_VERSION_STRING "0.1.0"

/* One line naming the running CPU's vector extensions and which of them spikebp uses (chosen at
 * run time; SBP_NO_AVX512=1 in the environment forces the portable loops), e.g.
 * "AVX-512F yes (used), AVX2 yes, AMX-TILE no". */
void sbp_describe_cpu(char *buf, size_t size);

/* The kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", "Zen", …). OpenBLAS before
 * 0.3.25 (Debian 12: 0.3.21) does not know CPUs newer than itself — Intel's Emerald Rapids among
 * them — and falls back to its generic SSE3 kernels, "Prescott": sgemm 5× slower there. */
const char *sbp_blas_kernels(void);

/* One line for --version: the kernels, and whether OPENBLAS_CORETYPE was set for them. */
void sbp_describe_blas(char *buf, size_t size);

/* For a program's main(), first thing: where OpenBLAS fell back to "Prescott" on a CPU that
 * runs its SkylakeX (AVX-512) or Haswell (AVX2 + FMA) kernels and OPENBLAS_CORETYPE is not set,
 * sets it and executes the program again with the same arguments (OpenBLAS reads the variable
 * only as it loads). Returns where it did nothing, and where the new execution failed (after a
 * line on stderr naming the variable to set). Not under valgrind. */
void sbp_blas_pick_kernels(char **argv);

/* ---------------------------------------------------------------- status and errors */

typedef enum sbp_status {
    SBP_OK = 0,
    SBP_ERR_INVALID_ARG, /* a caller passed an impossible value */
    SBP_ERR_NOMEM,       /* an allocation failed */
    SBP_ERR_IO,          /* open/read/write/fsync/rename failed (errno in the message) */
    SBP_ERR_FORMAT,      /* a file is malformed, truncated or of another kind */
    SBP_ERR_SHAPE,       /* tensor shapes do not fit together */
    SBP_ERR_NUMERIC,     /* NaN or Inf appeared */
    SBP_ERR_UNSUPPORTED, /* valid request this build cannot serve */
    SBP_ERR_INTERRUPTED, /* reserved: no library function returns it today. A run is stopped
                          * by its caller between sbp_trainer_step calls (the CLI does so on
                          * SIGINT/SIGTERM, saving its state, and reports it itself). */
    SBP_STATUS_COUNT
} sbp_status;

/* A caller-owned error record. Zero-initialise it; failing functions fill it in. */
typedef struct sbp_error {
    sbp_status status;
    char msg[512];
} sbp_error;

/* Static English name of a status ("out of memory", …); never NULL. */
const char *sbp_status_string(sbp_status s);

/* ---------------------------------------------------------------- datasets */

/* A labelled image set held as raw uint8 (N, C, H, W) plus how to turn a pixel into the value
 * that is rate-encoded (§1): x = (pixel/255 − mean[c]) / std[c], spike = sign(x)·[|x|·gain > r]. */
typedef struct sbp_dataset sbp_dataset;

/* Loads an IDX image file (magic 0x803, uint8, N×H×W) and IDX label file (magic 0x801). Both
 * may be raw or gzip-compressed (detected by content, not by name). Sets the MNIST encoding:
 * mean 0, std 1, gain 1/2 (§1). Caller frees with sbp_dataset_free. */
sbp_status sbp_dataset_load_idx(sbp_dataset **out, const char *images_path,
                                 const char *labels_path, sbp_error *err);
void sbp_dataset_free(sbp_dataset *ds);

size_t sbp_dataset_count(const sbp_dataset *ds);
/* Image shape; any pointer may be NULL. */
void sbp_dataset_shape(const sbp_dataset *ds, int *c, int *h, int *w);
int sbp_dataset_classes(const sbp_dataset *ds);
/* Label of image i (0 … classes−1). */
int sbp_dataset_label(const sbp_dataset *ds, size_t i);
/* Raw pixels of image i, (C, H, W) uint8; owned by the dataset. */
const uint8_t *sbp_dataset_image(const sbp_dataset *ds, size_t i);
/* Encoding parameters (§1). mean/std have one entry per channel (at most 4 channels). */
sbp_status sbp_dataset_set_encoding(sbp_dataset *ds, const float *mean, const float *std,
                                    float gain, sbp_error *err);
/* A view of images [first, first+count) sharing the parent's memory; the parent must outlive
 * it. Used for --train-limit and validation splits. Caller frees with sbp_dataset_free. */
sbp_status sbp_dataset_slice(sbp_dataset **out, const sbp_dataset *ds, size_t first,
                             size_t count, sbp_error *err);

/* T of a pre-encoded spike data set (N-MNIST, .npy spike trains), whose samples are fed as
 * they are and need the window T to equal it; 0 for an image set (rate-encoded, any T).
 * sbp_dataset_image returns NULL for every sample of a spike data set. */
int sbp_dataset_timesteps(const sbp_dataset *ds);
/* Training augmentation of §1 (CIFAR-10): random crop with `crop_pad` zero pixels of padding
 * (0 = none) and random horizontal flip (0/1), applied to the raw image per epoch and sample.
 * Set it on training sets only; loaders leave both off. Image sets only. */
sbp_status sbp_dataset_set_augment(sbp_dataset *ds, int crop_pad, int flip, sbp_error *err);

/* CIFAR-10 binary version (data_batch_1.bin … data_batch_5.bin, test_batch.bin): records of
 * 3,073 bytes, a label 0–9 then 32×32 red, green and blue planes. Any file whose size is a
 * nonzero multiple of 3,073 is accepted. Sets the CIFAR-10 encoding of §1 (per-channel mean
 * (0.4914, 0.4822, 0.4465), std (0.557, 0.549, 0.5534), gain 1: signed spikes). The _files form
 * concatenates several files in the given order (e.g. the five training batches). */
sbp_status sbp_dataset_load_cifar10(sbp_dataset **out, const char *path, sbp_error *err);
sbp_status sbp_dataset_load_cifar10_files(sbp_dataset **out, const char *const *paths,
                                          size_t n_paths, sbp_error *err);

/* SVHN cropped digits (train_32x32.mat, test_32x32.mat: MATLAB v5 files read with libmatio):
 * X uint8 32×32×3×N (MATLAB order X(row, col, channel, n)), y N×1 with labels 1–10 where 10
 * means the digit 0 (mapped to label 0). Encoding: per-channel mean and std of this file's
 * pixels, gain 1 (signed spikes; SPEC gives no SVHN constants). */
sbp_status sbp_dataset_load_svhn(sbp_dataset **out, const char *path, sbp_error *err);

/* N-MNIST event recordings (40-bit events: x, y, polarity, 23-bit µs timestamp), each binned
 * into `timesteps` equal frames over its own time span, 2 channels (0 = OFF, 1 = ON events),
 * 34×34, value 1 where at least one event fell (a spike data set, see sbp_dataset_timesteps).
 * The list form takes n files with their labels (0–9). The folder form reads DIR/0 … DIR/9
 * (the official Train/ or Test/ folder), labels from the folder names, files in name order
 * within a digit and the digits interleaved (0, 1, … 9, 0, 1, …) so that every prefix holds
 * all digits; limit > 0 loads only the first `limit` recordings of that order. */
sbp_status sbp_dataset_load_nmnist(sbp_dataset **out, const char *const *paths, const int *labels,
                                   size_t n, int timesteps, sbp_error *err);
sbp_status sbp_dataset_load_nmnist_dir(sbp_dataset **out, const char *dir, int timesteps,
                                       size_t limit, sbp_error *err);

/* NumPy arrays: data either uint8 images (N, C, H, W) or (N, H, W) (C = 1), encoded with mean 0,
 * std 1, gain 1/2 unless the caller sets another encoding, or spike trains (N, T, C, H, W) of
 * uint8, int8 or bool with values −1, 0, 1 (a spike data set with timesteps = T); labels (N,)
 * of any integer dtype, 0 … classes−1 (classes = max + 1, at least 2). The .npz form reads the
 * arrays x_name and y_name (NULL: "x" and "y") of one archive (numpy.savez). */
sbp_status sbp_dataset_load_npy(sbp_dataset **out, const char *data_path,
                                const char *labels_path, sbp_error *err);
sbp_status sbp_dataset_load_npz(sbp_dataset **out, const char *path, const char *x_name,
                                const char *y_name, sbp_error *err);

/* Data sets from memory (language bindings, generated data). `data` holds n samples: images
 * (n, c, h, w) of uint8 when timesteps = 0 (encoded like .npy images: mean 0, std 1, gain 1/2
 * unless the caller sets another encoding), or spike trains (n, timesteps, c, h, w) of int8 in
 * −1 … 1 when timesteps > 0. labels (n) of uint8 in 0 … classes−1; classes = 0 takes
 * max(label) + 1 (at least 2). Ownership: SBP_MEMORY_COPY copies both arrays (the caller may
 * free them on return); SBP_MEMORY_BORROW keeps pointers to them — the caller keeps both
 * arrays alive and unchanged until sbp_dataset_free, which does not free them. Values are
 * checked once, here. Caller frees the data set with sbp_dataset_free. */
typedef enum sbp_memory { SBP_MEMORY_COPY, SBP_MEMORY_BORROW } sbp_memory;
sbp_status sbp_dataset_from_memory(sbp_dataset **out, const void *data, const uint8_t *labels,
                                   size_t n, int timesteps, int c, int h, int w, int classes,
                                   sbp_memory mode, sbp_error *err);
/* The n labels, owned by the data set (contiguous, also for a slice). */
const uint8_t *sbp_dataset_labels(const sbp_dataset *ds);
/* Spike trains of sample i, (T, C, H, W) int8, owned by the data set; NULL for an image set
 * or an index out of range. Consecutive samples are contiguous. */
const int8_t *sbp_dataset_spikes(const sbp_dataset *ds, size_t i);

/* Data sets by name, the way the CLI's --data names them. */
typedef enum sbp_split { SBP_SPLIT_TRAIN, SBP_SPLIT_TEST } sbp_split;
/* Opens split `split` of the data set `name`, exactly as the CLI's --data: "mnist",
 * "fashion-mnist", "cifar10", "svhn", "nmnist[@T]" (folders of those names in the cache folder
 * $SBP_DATA_DIR, else $XDG_CACHE_HOME/spikebp, else ~/.cache/spikebp), any folder in one of those
 * layouts, "nmnist:FILE.bin:LABEL", "npy:X.npy,Y.npy[,TX.npy,TY.npy]", "npz:TRAIN.npz[,TEST.npz]".
 * limit > 0 keeps the first `limit` images. The caller frees *out with sbp_dataset_free (a
 * limited view then frees the full set it was cut from). Without test arrays (npy:X,Y,
 * npz:TRAIN.npz, one N-MNIST recording) the test split is the training data. Each split gets
 * its loader's encoding; the CIFAR-10 training split also gets the augmentation of §1 (crop
 * padding 4, flip). Errors: SBP_ERR_INVALID_ARG for a name that fits no form (the message
 * names it), SBP_ERR_IO for a missing folder or file, and the loaders' own errors. */
sbp_status sbp_dataset_open(sbp_dataset **out, const char *name, sbp_split split, size_t limit,
                            sbp_error *err);
/* The text that describes the names above (for --help); static, never NULL. */
const char *sbp_dataset_names_help(void);

/* ---------------------------------------------------------------- network description */

typedef enum sbp_layer_kind {
    SBP_LAYER_CONV,   /* k×k convolution (stride, zero padding), no bias, + LIF (§1) */
    SBP_LAYER_POOL,   /* 2×2 average pooling, stride 2, + IF neurons, threshold 0.75 (§1) */
    SBP_LAYER_DENSE,  /* fully connected, no bias, + LIF (§1) */
    SBP_LAYER_OUTPUT, /* fully connected, non-spiking leaky integrator, o = M[T−1]/T (§1) */
    SBP_LAYER_KIND_COUNT
} sbp_layer_kind;

const char *sbp_layer_kind_name(sbp_layer_kind k);

/* Residual shortcut into a conv layer (§1 "Residual block"): the shortcut's current is added
 * to the layer's membrane input at the same step. */
typedef enum sbp_shortcut {
    SBP_SHORTCUT_NONE,
    SBP_SHORTCUT_CONV,      /* learnable 1×1 convolution with the layer's stride */
    SBP_SHORTCUT_SUBSAMPLE, /* parameter-free stride-2 subsample, out[i,j] = in[2i,2j] */
    SBP_SHORTCUT_IDENTITY,  /* parameter-free, same shape */
    SBP_SHORTCUT_COUNT
} sbp_shortcut;

const char *sbp_shortcut_name(sbp_shortcut s);

typedef struct sbp_layer_spec {
    sbp_layer_kind kind;
    int out;     /* output channels (conv) or features (dense, output); unused for pool */
    int kernel;  /* conv only: square kernel size k */
    int stride;  /* conv only: ≥ 1 */
    int pad;     /* conv only: zero padding on each side */
    float dropout; /* conv/dense: drop probability p ∈ [0, 1) during training (§1) */
    sbp_shortcut shortcut; /* conv only: residual shortcut into this layer */
    int shortcut_from;     /* layer whose output is the block input (0-based), −1 = input */
} sbp_layer_spec;

#define SBP_MAX_LAYERS 64

typedef struct sbp_net_spec {
    int in_c, in_h, in_w;        /* input image shape */
    int n_layers;
    sbp_layer_spec layers[SBP_MAX_LAYERS];
    float leak;       /* λ, 0.99 (§1) */
    float vth;        /* LIF threshold, 1 */
    float vth_pool;   /* pooling IF threshold, 0.75 */
    float init_gain;  /* weights ~ N(0, init_gain/fan_in)^½: 2 (LeNet, VGG), 1 (ResNet) (§4) */
} sbp_net_spec;

/* Fills *spec with a network built into the library (§5): "lenet", "vgg9", "resnet11", and
 * our readings of the paper's "vgg7" and "resnet9" (see README). */
sbp_status sbp_net_spec_builtin(sbp_net_spec *spec, const char *name, sbp_error *err);
/* Parses the paper's notation, e.g. "28x28x1-20C5-P2-50C5-P2-200FC-10" (§5): nCk = conv k×k
 * with n filters, stride 1, padding (k−1)/2; "nCk/s" gives stride s; P2 = pooling; nFC =
 * dense; the final bare number = output layer. Neuron constants are set to §1's defaults. */
sbp_status sbp_net_spec_parse(sbp_net_spec *spec, const char *text, sbp_error *err);
/* Parses a network description (the text format documented in README and src/net/netfile.c:
 * [input], [neuron], [conv], [pool], [dense], [output] sections with key = value lines;
 * residual shortcuts by layer name). Errors are SBP_ERR_FORMAT and name `origin` (a file
 * name) and the line. */
sbp_status sbp_net_spec_parse_description(sbp_net_spec *spec, const char *text,
                                          const char *origin, sbp_error *err);
/* Reads and parses a description file into the caller's *spec (filled, not allocated);
 * SBP_ERR_IO if it cannot be read. */
sbp_status sbp_net_spec_load(sbp_net_spec *spec, const char *path, sbp_error *err);
/* Writes the notation of `spec` (as parsed above) into buf; returns SBP_ERR_INVALID_ARG if it
 * does not fit. */
sbp_status sbp_net_spec_format(const sbp_net_spec *spec, char *buf, size_t size,
                               sbp_error *err);

/* ---------------------------------------------------------------- networks */

typedef struct sbp_net sbp_net;

/* Checks shapes and builds a network with weights drawn per §4 from `seed`. Caller frees. */
sbp_status sbp_net_create(sbp_net **out, const sbp_net_spec *spec, uint64_t seed,
                          sbp_error *err);
void sbp_net_free(sbp_net *net);

const sbp_net_spec *sbp_net_get_spec(const sbp_net *net);
size_t sbp_net_param_count(const sbp_net *net);
/* Output shape of layer i (after its neurons). */
void sbp_net_layer_shape(const sbp_net *net, int i, int *c, int *h, int *w);
/* Weights of layer i in PyTorch layout, or NULL for a layer without weights; *count gets the
 * number of floats. Owned by the net; writable (e.g. to load external weights). */
float *sbp_net_layer_weights(sbp_net *net, int i, size_t *count);
/* Weights of layer i's 1×1 shortcut convolution (Cout, Cin, 1, 1), or NULL if it has none. */
float *sbp_net_shortcut_weights(sbp_net *net, int i, size_t *count);

/* Self-describing model file: magic, format version, network description, neuron constants,
 * named typed tensors and a CRC-32; written to a temporary file, fsynced and renamed. */
sbp_status sbp_net_save(const sbp_net *net, const char *path, sbp_error *err);
sbp_status sbp_net_load(sbp_net **out, const char *path, sbp_error *err);

/* Weights as a NumPy .npz archive in PyTorch layout, one array per tensor named
 * "layer<i>.<kind>.weight" / "layer<i>.shortcut.weight" (i 0-based). Import is strict (every
 * tensor present with its shape, float32 or float64, finite), all-or-nothing, and ignores
 * arrays the network does not have. */
sbp_status sbp_net_export_npz(const sbp_net *net, const char *path, sbp_error *err);
sbp_status sbp_net_import_npz(sbp_net *net, const char *path, sbp_error *err);

/* NIR, the Neuromorphic Intermediate Representation (an HDF5 graph that snnTorch, Norse,
 * Sinabs, Lava and neuromorphic hardware read; docs/nir.md): the network as Input, Conv2d,
 * AvgPool2d + IF, Flatten, Linear, LIF, LI and Output nodes with residual edges, spikebp's
 * discrete-time neuron constants mapped to NIR's time constants (dt in the metadata), and
 * what NIR cannot express (exact constants, dropout, the model's metadata) as metadata.
 * Export writes atomically (temporary file, fsync, rename). Import rebuilds the network
 * from the graph — weights bit-identical, constants exact for files spikebp wrote — and
 * refuses what spikebp cannot run, naming the file and the node. Both need a build with
 * HDF5: sbp_nir_supported() is 0 otherwise and they return SBP_ERR_UNSUPPORTED. */
int sbp_nir_supported(void);
sbp_status sbp_net_export_nir(const sbp_net *net, const char *path, sbp_error *err);
sbp_status sbp_net_import_nir(sbp_net **out, const char *path, sbp_error *err);

/* Free-form metadata saved with the model (e.g. "timesteps" → "100", "data" → "mnist").
 * Keys: [a-z0-9_]+ (< 32 characters), values: printable without newlines (< 1024
 * characters); at most 48 entries. set copies both
 * strings; get returns NULL for a missing key (the string is owned by the net). */
sbp_status sbp_net_set_meta(sbp_net *net, const char *key, const char *value, sbp_error *err);
const char *sbp_net_get_meta(const sbp_net *net, const char *key);

/* ---------------------------------------------------------------- training and inference */

typedef enum sbp_backward {
    SBP_BACKWARD_EXACT,     /* §3 reference-code backward through every step */
    SBP_BACKWARD_AGGREGATE, /* §3 paper-form backward from counts; memory independent of T */
    SBP_BACKWARD_COUNT
} sbp_backward;

const char *sbp_backward_name(sbp_backward b);

/* Where the computation runs (chosen once per run; results are a pure function of seed, data,
 * options, backend and thread count). */
typedef enum sbp_backend_id {
    SBP_BACKEND_CPU,       /* all steps of a layer at once: event-driven or im2col + BLAS
                              synapses, OpenMP over the batch, AVX-512 where present (default) */
    SBP_BACKEND_REFERENCE, /* plain loops, one step at a time: the oracle, slow */
    SBP_BACKEND_CUDA,      /* NVIDIA GPUs (docs/cuda.md): built where nvcc was found at configure
                              time; sbp_backend_check says whether a device answers here */
    SBP_BACKEND_COUNT
} sbp_backend_id;

/* "cpu", "reference", "cuda"; "?" for an id out of range. */
const char *sbp_backend_name(sbp_backend_id id);
/* The id of a backend name; SBP_ERR_INVALID_ARG naming the choices for an unknown one. */
sbp_status sbp_backend_parse(sbp_backend_id *out, const char *name, sbp_error *err);
/* SBP_OK if the backend can run here; else SBP_ERR_UNSUPPORTED with the reason (e.g. a build
 * without CUDA, or no GPU). Trainer and evaluation check it too. */
sbp_status sbp_backend_check(sbp_backend_id id, sbp_error *err);

/* ---- data parallelism across processes (MPI)
 *
 * A communicator joins the processes ("ranks") of one job. Given to the trainer or to
 * sbp_eval (opts.comm), every rank runs the same call on the same network, options and data:
 * training splits every mini-batch (opts.batch stays the GLOBAL batch, which must divide by the
 * rank count) into contiguous shards, sums the gradient sums of all ranks (one allreduce per
 * batch) and takes the same SGD step everywhere, so the weights stay identical on every rank;
 * evaluation splits the images and returns the same result as one process. A NULL comm is this
 * process alone. The first step (and sbp_eval) checks that the ranks agree on the library
 * version, the options, the data set and the weights, and fails naming the rank that differs.
 * Every collective call must be made by every rank, in the same order. */
typedef struct sbp_comm sbp_comm;

/* Joins the MPI job this process was started in (MPI_Init_thread, MPI_COMM_WORLD; OpenMP
 * threads never call MPI). SBP_ERR_UNSUPPORTED when the library was built without MPI. One per
 * process; sbp_comm_close ends it (MPI_Finalize). */
sbp_status sbp_comm_mpi_open(sbp_comm **out, sbp_error *err);
/* Whether this build has MPI (sbp_comm_mpi_open can succeed). */
int sbp_comm_mpi_built(void);
void sbp_comm_close(sbp_comm *c);
/* This process's rank and the job's rank count (0 and 1 for NULL). */
int sbp_comm_rank(const sbp_comm *c);
int sbp_comm_size(const sbp_comm *c);
/* Collective: *v = the largest of every rank's *v (e.g. "has any rank been signalled?"). */
sbp_status sbp_comm_max(const sbp_comm *c, int *v, sbp_error *err);
/* Collective: *crc = the CRC-32 of the net's weights (layer by layer, as `spikebp info` prints
 * it); SBP_ERR_NUMERIC naming every rank whose weights differ from rank 0's. */
sbp_status sbp_comm_check_weights(const sbp_comm *c, const sbp_net *net, uint32_t *crc,
                                  sbp_error *err);
/* Ends every process of the job with exit code `code` (MPI_Abort): for a tool whose rank failed
 * while the others may wait in a collective call. Returns (doing nothing) for NULL or a
 * single-process communicator. */
void sbp_comm_abort(const sbp_comm *c, int code);

typedef struct sbp_train_opts {
    int timesteps;          /* T (§4: 100) */
    int batch;              /* mini-batch size (§4: 64 for MNIST) */
    int epochs;             /* number of epochs to run */
    float lr;               /* initial learning rate (§4: 0.0085 for MNIST) */
    float weight_decay;     /* wd (§3: 5e-4) */
    float lr_factor;        /* multiply lr by this at every milestone (§4: 0.2) */
    int lr_milestones[8];   /* epochs (0-based) at which lr is multiplied; 0 entries unused */
    int n_milestones;
    sbp_backward backward;
    sbp_backend_id backend; /* SBP_BACKEND_CPU by default */
    uint64_t seed;          /* drives data order, encoding and dropout */
    int threads;            /* 0 = OpenMP default; per rank with a communicator */
    const sbp_comm *comm;   /* NULL: this process alone; else data-parallel over its ranks */
} sbp_train_opts;

/* The MNIST column of §4 with 1 epoch, exact backward, seed 1. */
void sbp_train_opts_default(sbp_train_opts *o);

typedef struct sbp_batch_result {
    double loss;         /* Σ over the batch and classes of (o − y)² (§2) */
    int correct;         /* samples whose argmax o equals the label */
    int samples;         /* samples in this batch */
    int epoch;           /* epoch of this batch (0-based) */
    size_t batch_index;  /* index of this batch within its epoch */
    size_t batches_per_epoch;
    double lr;           /* learning rate used for the update */
} sbp_batch_result;

typedef struct sbp_trainer sbp_trainer;

/* A trainer runs epochs of shuffled mini-batches over `train` (which must outlive it). */
sbp_status sbp_trainer_create(sbp_trainer **out, sbp_net *net, const sbp_dataset *train,
                              const sbp_train_opts *opts, sbp_error *err);
void sbp_trainer_free(sbp_trainer *tr);
int sbp_trainer_done(const sbp_trainer *tr);
/* Runs one mini-batch: forward over T steps, loss, backward, SGD update. A NaN or Inf in the
 * loss, a gradient or an updated weight stops it with SBP_ERR_NUMERIC naming the layer, epoch
 * and batch; the weights are then left as they were before the batch. */
sbp_status sbp_trainer_step(sbp_trainer *tr, sbp_batch_result *res, sbp_error *err);
/* Where the trainer stands: the next batch to run is `batch` (0-based) of epoch `epoch`. */
void sbp_trainer_position(const sbp_trainer *tr, int *epoch, size_t *batch);
/* Moves to a position, e.g. to resume from a checkpoint: every random draw is a pure function
 * of (seed, epoch, sample, …), so continuing from the same weights and position reproduces an
 * uninterrupted run bit for bit (same thread count). */
sbp_status sbp_trainer_seek(sbp_trainer *tr, int epoch, size_t batch, sbp_error *err);

typedef struct sbp_eval_opts {
    int timesteps;
    int batch;      /* samples per parallel chunk (memory only; results do not depend on it) */
    uint64_t seed;  /* encoding seed */
    sbp_backend_id backend;
    int threads;
    /* Optional progress: called after each chunk with images done so far. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
    const sbp_comm *comm;   /* NULL: this process alone; else the images split over its ranks */
} sbp_eval_opts;

void sbp_eval_opts_default(sbp_eval_opts *o);

typedef struct sbp_eval_result {
    size_t images;
    size_t correct;
    double loss;      /* Σ (o − y)² over all images */
    double accuracy;  /* correct / images */
} sbp_eval_result;

sbp_status sbp_eval(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                    sbp_eval_result *res, sbp_error *err);

/* The network's outputs o = M[T−1]/T (§1) of every sample of ds, as sbp_eval computes them
 * (same encoding, same bits): out (count(ds), classes), caller-owned, row-major, where
 * classes = the output layer's size. */
sbp_status sbp_predict(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                       float *out, sbp_error *err);

/* A reusable evaluator, for many small calls (one image at a time, a stream of batches).
 * sbp_eval and sbp_predict build, on every call, one engine per worker thread and a copy of the
 * weights in the backend's layout — on LeNet about as long as running one image; an evaluator
 * builds them once, with the options given (T, threads, backend, batch, seed, progress,
 * comm), and each call then gives exactly sbp_eval's / sbp_predict's result, bit for bit.
 *
 * It evaluates the weights net held when it was created or last reloaded: after they change
 * (training, writes through sbp_net_layer_weights, sbp_net_import_npz) call
 * sbp_evaluator_reload before the next call. net must outlive the evaluator. One call at a
 * time per evaluator (each call runs opts.threads workers). */
typedef struct sbp_evaluator sbp_evaluator;

sbp_status sbp_evaluator_create(sbp_evaluator **out, const sbp_net *net,
                                const sbp_eval_opts *opts, sbp_error *err);
/* Takes net's current weights. */
sbp_status sbp_evaluator_reload(sbp_evaluator *ev, sbp_error *err);
/* sbp_eval of ds with the evaluator's network, weights and options. */
sbp_status sbp_evaluator_eval(sbp_evaluator *ev, const sbp_dataset *ds, sbp_eval_result *res,
                              sbp_error *err);
/* sbp_predict of ds: out (count(ds), classes), caller-owned. */
sbp_status sbp_evaluator_predict(sbp_evaluator *ev, const sbp_dataset *ds, float *out,
                                 sbp_error *err);
void sbp_evaluator_free(sbp_evaluator *ev);

/* ---------------------------------------------------------------- spike statistics (§8) */

/* What one group of neurons does over the inference window, per image, averaged over the
 * images measured (the figures of `spikebp analyze`, src/analysis/analysis.h). */
typedef struct sbp_layer_stats {
    char name[32];       /* the paper's notation ("20C5", "P2", "200FC", "10 out") or "input" */
    const char *kind;    /* sbp_layer_kind_name(), or "input" (static string) */
    int spiking;         /* 0 for the non-spiking output layer (rate etc. are NAN there) */
    uint64_t neurons;    /* neurons of the layer (input: positions C·H·W) */
    double rate;         /* spikes per neuron per step */
    double silent;       /* fraction of neurons with no spike in the window */
    double saturated;    /* fraction of neurons spiking at ≥ 90 % of the steps */
    double acs;          /* synaptic accumulates per image (incl. its residual shortcut) */
    double macs_step;    /* dense multiply-accumulates of one ANN pass per image */
} sbp_layer_stats;

/* Runs the first `images` samples of ds (0 = all) with the evaluation encoding of opts->seed
 * and T = opts->timesteps and fills stats[0] (the encoded input) and stats[1 + l] for every
 * layer l: stats needs 1 + n_layers entries, caller-owned. Results do not depend on the thread
 * count. opts->backend and opts->batch are not used (the analysis runs its own probes). */
sbp_status sbp_spike_stats(const sbp_net *net, const sbp_dataset *ds, const sbp_eval_opts *opts,
                           size_t images, sbp_layer_stats *stats, sbp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SPIKEBP_H */
