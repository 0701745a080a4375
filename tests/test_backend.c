/*
 * test_backend.c — the backend interface (src/backend/backend.h) end to end: tiny networks built
 * through the library API, the backend chosen at run time by name, and the cpu backend checked
 * against the reference backend (the oracle) on the outputs o = M[T−1]/T and on the weight
 * gradients of both backward modes, for plain, residual (all three shortcut kinds) and
 * multi-channel networks with dropout; then one trainer step and an evaluation through the public
 * options; then the tables themselves (every row filled) and the reserved cuda id.
 *
 * Tolerance: BC_TOL (backend_compare.h, shared with tests/test_cuda.c): 2e-5 of the largest
 * magnitude, as the two backends sum in different orders.
 */
#include <string.h>

#include "backend/backend.h"
#include "backend_compare.h"
#include "check.h"

static const bc_case cases[] = {
    {"plain", "10x10x1-6C3-P2-12FC-4", 0},
    {"rgb", "8x8x3-5C3-6C3/2-10FC-3", 0},
    {"residual", NULL, 0},
    /* the first layer's neurons and pooling in one pass (whole 16-neuron words of bits in both
     * layers), with margins that no current reaches */
    {"framed", "16x16x1-4C5-P2-6C3-P2-10FC-3", 1},
};

/* Every row of every table is filled: a missing operation would crash the engine. Then the
 * cuda id. */
static void check_tables(void)
{
    bc_check_table(&sbp_backend_reference);
    bc_check_table(&sbp_backend_cpu);
    sbp_error err = {0};
    sbp_backend_id id;
    CHECK(sbp_backend_parse(&id, "cuda", &err) == SBP_OK && id == SBP_BACKEND_CUDA, "cuda id");
#ifdef SBP_HAVE_CUDA
    /* a CUDA build: accepted where a device answers (tests/test_cuda.c tests it), else refused
     * with the runtime's reason; the plugin itself (libspikebp-cuda.so, built next to this
     * test) always loads */
    const sbp_status cst = sbp_backend_check(SBP_BACKEND_CUDA, &err);
    CHECK(cst == SBP_OK || (cst == SBP_ERR_UNSUPPORTED && strstr(err.msg, "CUDA")),
          "cuda in a CUDA build: usable, or refused with a reason: %s", err.msg);
    CHECK(cst == SBP_OK || strstr(err.msg, "no usable CUDA device"),
          "the cuda plugin is found next to the test: only the device may be missing: %s",
          err.msg);
#else
    CHECK(sbp_backend_check(SBP_BACKEND_CUDA, &err) == SBP_ERR_UNSUPPORTED &&
              strstr(err.msg, "CUDA"),
          "cuda without a CUDA build is refused with a reason: %s", err.msg);
#endif
    CHECK(sbp_backend_parse(&id, "gpu", &err) == SBP_ERR_INVALID_ARG && strstr(err.msg, "gpu"),
          "an unknown name is refused naming it: %s", err.msg);
    CHECK(!strcmp(sbp_backend_name(SBP_BACKEND_REFERENCE), "reference"), "names");
}

int main(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int m = 0; m < SBP_BACKWARD_COUNT; m++)
            bc_compare_engines("cpu", &cases[c], (sbp_backward)m, 0, cases[c].framed);
    bc_compare_trainers("cpu", 2, 0);
    check_tables();
    return check_finish("test_backend");
}
