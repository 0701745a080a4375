/*
 * nir_h5.h — what the NIR writer (nir_write.c) and reader (nir_read.c) share about libhdf5:
 * silencing its error printing for the length of a call, and closing any kind of handle.
 * Included only when SBP_HAVE_HDF5 is defined.
 */
#ifndef SBP_IO_NIR_H5_H
#define SBP_IO_NIR_H5_H

#include <hdf5.h>

/* HDF5 prints its error stack to stderr unless told not to; the library never prints, so
 * every entry point silences it and puts the caller's handler back on the way out. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static inline void h5_quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static inline void h5_quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static inline void h5_close(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

#endif
