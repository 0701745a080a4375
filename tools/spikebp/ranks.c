/*
 * ranks.c — the tool's side of data parallelism (docs/mpi.md): joining the MPI job when mpirun
 * (or another MPI launcher) started this process, keeping every rank but 0 quiet, and ending the
 * whole job when one rank fails, so that no rank waits forever in a collective call for a rank
 * that has given up.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, MPICH/Hydra and Intel MPI PMI_SIZE, PMIx
 * launchers (e.g. srun --mpi=pmix) PMIX_SIZE or at least PMIX_RANK; a rank without a size
 * counts as one. */
long cli_ranks_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strtol(v, NULL, 10) > 0 ? strtol(v, NULL, 10) : 1;
    }
    if (getenv("PMIX_RANK") || getenv("PMI_RANK"))
        return 1;
    return 0;
}

int cli_ranks_start(const char *cmd, sbp_comm **comm, int *quiet)
{
    *comm = NULL;
    const long ranks = cli_ranks_launched();
    if (ranks == 0)
        return CLI_OK; /* a plain process: no MPI at all */
    sbp_error err = {0};
    if (!sbp_comm_mpi_built()) {
        if (ranks == 1)
            return CLI_OK; /* one rank is one process: nothing to coordinate */
        /* R independent copies would each train everything and overwrite each other's files. */
        fprintf(stderr,
                "spikebp %s: started as one of %ld MPI ranks, but this build has no MPI (install "
                "libopenmpi-dev and rebuild; CMake reports MPI ✓)\n",
                cmd, ranks);
        return CLI_FAIL;
    }
    if (sbp_comm_mpi_open(comm, &err) != SBP_OK) {
        fprintf(stderr, "spikebp %s: %s\n", cmd, err.msg);
        return CLI_FAIL;
    }
    if (sbp_comm_rank(*comm) != 0) {
        /* Rank 0 alone reports; the others speak only on stderr, and only when they fail. */
        *quiet = 1;
        if (!freopen("/dev/null", "w", stdout)) {
            fprintf(stderr, "spikebp %s (rank %d): cannot silence stdout\n", cmd,
                    sbp_comm_rank(*comm));
            sbp_comm_abort(*comm, CLI_FAIL);
        }
    }
    return CLI_OK;
}

int cli_ranks_lead(const sbp_comm *comm)
{
    return sbp_comm_rank(comm) == 0;
}

void cli_ranks_fail(const sbp_comm *comm, const char *cmd, const char *msg)
{
    if (sbp_comm_size(comm) > 1) {
        fprintf(stderr, "spikebp %s (rank %d of %d): %s\n", cmd, sbp_comm_rank(comm),
                sbp_comm_size(comm), msg);
        fflush(stderr);
        sbp_comm_abort(comm, CLI_FAIL); /* the other ranks may be waiting for this one */
    } else {
        fprintf(stderr, "spikebp %s: %s\n", cmd, msg);
    }
}
