/*
 * table.c — the cuda backend's table (backend.h, cuda.h): every operation on the GPU, rows
 * channel-first like the reference backend (the simplest order for a GPU: pool, shortcuts and
 * im2col index maps directly), weights in PyTorch layout, chunks of many steps per call.
 * Built only when CMake finds nvcc (SBP_HAVE_CUDA), into the plugin libspikebp-cuda.so, which
 * hands it to the library (plugin.h); sbp_backend_get hands it out only when a device answers.
 */
#include "backend/cuda/cuda.h"

static size_t channel_first(const sbp_layer *L, size_t i)
{
    return i;
}

static int no_staging(const sbp_layer *L0)
{
    return 0;
}

#define CUDA_DENSE                                                                             \
    {.forward = sbp_cuda_dense_forward,                                                        \
     .backward = sbp_cuda_dense_backward,                                                      \
     .scratch = sbp_cuda_no_scratch,                                                           \
     .weights_in = sbp_cuda_weights_in,                                                        \
     .grad_out = sbp_cuda_grad_out}

const sbp_backend sbp_backend_cuda = {
    .name = "cuda",
    .alloc = sbp_cuda_alloc,
    .release = sbp_cuda_release,
    .zero = sbp_cuda_zero,
    .copy = sbp_cuda_copy,
    .chunk_steps = sbp_cuda_chunk_steps,
    .neuron_index = channel_first,
    .input_staging = no_staging,
    .synapse =
        {
            [SBP_LAYER_CONV] = {.forward = sbp_cuda_conv_forward,
                                .backward = sbp_cuda_conv_backward,
                                .scratch = sbp_cuda_conv_scratch,
                                .weights_in = sbp_cuda_weights_in,
                                .grad_out = sbp_cuda_grad_out},
            [SBP_LAYER_POOL] = {.forward = sbp_cuda_pool_forward,
                                .backward = sbp_cuda_pool_backward,
                                .scratch = sbp_cuda_no_scratch},
            [SBP_LAYER_DENSE] = CUDA_DENSE,
            [SBP_LAYER_OUTPUT] = CUDA_DENSE,
        },
    .shortcut_add = sbp_cuda_shortcut_add,
    .shortcut_add_backward = sbp_cuda_shortcut_add_backward,
    .neuron_reset = sbp_cuda_neuron_reset,
    .neuron_forward = sbp_cuda_neuron_forward,
    .neuron_surrogate = sbp_cuda_neuron_surrogate,
    .neuron_backward = sbp_cuda_neuron_backward,
    .neuron_backward_aggregate = sbp_cuda_mul,
    .spikes_unpack = sbp_cuda_spikes_unpack,
    .encode_values = sbp_cuda_encode_values,
    .encode = sbp_cuda_encode,
    .spikes_keep8 = sbp_cuda_spikes_keep8,
    .spikes_load8 = sbp_cuda_spikes_load8,
    .dropout_mask = sbp_cuda_dropout_mask,
    .add = sbp_cuda_add,
    .add_rows = sbp_cuda_add_rows,
    .fill_rows = sbp_cuda_fill_rows,
    .read_output = sbp_cuda_read_output,
    .reduce = sbp_cuda_reduce,
    .sgd = sbp_cuda_sgd,
};
