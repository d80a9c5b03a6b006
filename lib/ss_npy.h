/* ss_npy: reading and writing NumPy .npy files (format versions 1.0, 2.0
 * and 3.0 on read, 1.0 or 2.0 on write as the header needs).
 *
 * Only little-endian or byte-order-free dtypes in C order are accepted;
 * Fortran order, object arrays and structured dtypes are rejected with a
 * message that says so. */
#ifndef SS_NPY_H
#define SS_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ss_error.h"

typedef struct {
    int dtype;                 /* a tsf_dtype code */
    int ndim;                  /* 0 ... 8 */
    uint64_t dims[8];
    uint64_t data_offset;      /* bytes from the start of the file to the data */
} ss_npy_header;

/* Reads and checks the header from fp, which is left at the first data
 * byte. name is used in messages. */
ss_status ss_npy_read_header(FILE *fp, const char *name, ss_npy_header *h, ss_error *err);

/* Writes a header for a C-order array of this dtype and shape. */
ss_status ss_npy_write_header(FILE *fp, const char *name, int dtype, int ndim,
                              const uint64_t *dims, ss_error *err);

#endif
