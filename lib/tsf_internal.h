/* tsf_internal: byte-order helpers and constants shared by tsf_read.c and
 * tsf_write.c. Not part of the public API. */
#ifndef TSF_INTERNAL_H
#define TSF_INTERNAL_H

#include <stdint.h>
#include <string.h>

static const unsigned char tsf_signature[8] = {0x89, 'T', 'S', 'F', '\r', '\n', 0x1A, '\n'};

#define TSF_MAJOR 1
#define TSF_MINOR 0
#define TSF_ENDS_PAYLOAD 16
#define TSF_ZSTD_WINDOW_LOG_MAX 27
#define TSF_ZSTD_WINDOW_LOG_WRITE 23

/* Bytes of zero padding that follow n bytes to reach a multiple of 8. */
static inline uint64_t tsf_pad8(uint64_t n)
{
    return (8 - (n & 7)) & 7;
}

static inline uint16_t tsf_get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t tsf_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t tsf_get64(const unsigned char *p)
{
    return (uint64_t)tsf_get32(p) | (uint64_t)tsf_get32(p + 4) << 32;
}

static inline void tsf_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void tsf_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void tsf_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Raises the kernel buffer of a pipe to 1 MiB (the usual unprivileged
 * maximum), so that a 1 MiB chunk crosses it in one write instead of
 * sixteen 64 KiB rounds of wake-ups. Does nothing for other files or when
 * the system refuses. */
void tsf_pipe_grow(int fd);

/* Returns 1 when a field name is 1..255 bytes of UTF-8 without control
 * characters. */
int tsf_name_valid(const unsigned char *name, size_t len);

#endif
