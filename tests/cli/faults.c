/*
 * faults.c — an LD_PRELOAD shim for tests/cli/safety.sh (built by it; not part of spikebp):
 * file-system faults without root, tmpfs mounts or real full disks. Each fault is chosen by
 * environment variables and applies to file descriptors whose path (from /proc/self/fd) starts
 * with a given prefix, however the file was opened (mkstemp included).
 *
 *   SBP_FAULT_DIR=PREFIX   the files concerned
 *   SBP_FAULT_ENOSPC=N     the disk "fills" at the N-th fsync() of such a regular file (1-based:
 *                          every file spikebp writes is fsynced once before its rename, so N
 *                          counts files): that fsync and every later write() or fsync() of such
 *                          files fail with ENOSPC — where a real file system reports a full disk
 *                          for buffered writes. N = 0: never; the count of file fsyncs is then
 *                          written to $SBP_FAULT_COUNT at exit, to size a test.
 *   SBP_FAULT_BLOCK=1      read() of such a file waits until a signal arrives, then fails with
 *                          EINTR: an input blocked on a slow device or a FIFO.
 *
 * Only the calls that go through the dynamic symbol table are seen: the library's own write(),
 * fsync() and zlib's read(), not stdio's internal writes (files written through a FILE* meet
 * the full disk at their fsync).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long writes;  /* fsync() calls of regular files under the prefix so far */
static int full;     /* the disk is full */

static int concerned(int fd)
{
    const char *dir = getenv("SBP_FAULT_DIR");
    if (!dir || !*dir)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return strncmp(path, dir, strlen(dir)) == 0;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (full && concerned(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, count);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    struct stat sb;
    if (concerned(fd) && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        long at = strtol(getenv("SBP_FAULT_ENOSPC") ? getenv("SBP_FAULT_ENOSPC") : "0", NULL, 10);
        writes++;
        if (at > 0 && writes >= at)
            full = 1;
    }
    if (full && concerned(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd);
}

ssize_t read(int fd, void *buf, size_t count)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real)
        real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    const char *block = getenv("SBP_FAULT_BLOCK");
    if (block && *block == '1' && concerned(fd)) {
        pause(); /* until a signal is caught: what a read on an empty FIFO does */
        errno = EINTR;
        return -1;
    }
    return real(fd, buf, count);
}

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("SBP_FAULT_COUNT");
    if (!out || !*out)
        return;
    FILE *f = fopen(out, "w");
    if (f) {
        fprintf(f, "%ld\n", writes);
        fclose(f);
    }
}
