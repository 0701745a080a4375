/* model_file.c — a model by content: spikebp's own file or a NIR graph (HDF5), see cli.h. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_is_nir(const char *path)
{
    /* HDF5's format signature; NIR files are HDF5 files whose superblock is at offset 0 (a
     * user block would move it, which no NIR writer does) */
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    struct stat sb; /* a FIFO or device is never opened here (it could block): the loader
                       refuses it with its own message */
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, sig, sizeof sig) == 0;
}

sbp_status cli_load_model(sbp_net **net, const char *path, sbp_error *err)
{
    return cli_is_nir(path) ? sbp_net_import_nir(net, path, err) : sbp_net_load(net, path, err);
}
