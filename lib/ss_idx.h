/* ss_idx: streaming reader of IDX files (the MNIST and Fashion-MNIST format),
 * plain or gzip-compressed (detected from the content, not the name).
 *
 * IDX is big-endian: magic 0x00 0x00 type ndim, then ndim u32 dims, then the
 * items. Item i is the sub-tensor of dims[1..]. */
#ifndef SS_IDX_H
#define SS_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"

/* IDX element type codes. */
enum {
    SS_IDX_UINT8 = 0x08,
    SS_IDX_INT8 = 0x09,
    SS_IDX_INT16 = 0x0B,
    SS_IDX_INT32 = 0x0C,
    SS_IDX_FLOAT32 = 0x0D,
    SS_IDX_FLOAT64 = 0x0E
};

typedef struct ss_idx ss_idx;

/* Opens path and reads its header. Returns NULL with err set (naming the
 * file and what is wrong) on failure. */
ss_idx *ss_idx_open(const char *path, ss_error *err);
void ss_idx_close(ss_idx *x);

int ss_idx_type(const ss_idx *x);        /* SS_IDX_* */
int ss_idx_ndim(const ss_idx *x);        /* 1 ... 8 */
uint32_t ss_idx_dim(const ss_idx *x, int i);
uint64_t ss_idx_count(const ss_idx *x);  /* dims[0] */
size_t ss_idx_item_bytes(const ss_idx *x);

/* Reads the next n items into buf (n * item_bytes bytes), converting
 * multi-byte elements to host byte order. Fewer items than remain, or an
 * input that ends early, is an error naming the item index. */
ss_status ss_idx_read(ss_idx *x, void *buf, size_t n, ss_error *err);

#endif
