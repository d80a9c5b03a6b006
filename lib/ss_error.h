/* ss_error: the status codes and messages that lib/ functions return.
 *
 * Every fallible function in lib/ returns an ss_status and, on failure, writes
 * a one-line message into an ss_error that the caller owns. The library never
 * prints and never exits; tools print the message and map the status to an
 * exit code with ss_status_exit_code(). */
#ifndef SS_ERROR_H
#define SS_ERROR_H

#include <stdarg.h>

typedef enum {
    SS_OK = 0,
    SS_EIO,        /* a system call failed: read, write, open, rename */
    SS_EDATA,      /* malformed or inconsistent input data */
    SS_ELIMIT,     /* input exceeds a configured limit */
    SS_ENOMEM,     /* allocation failed */
    SS_EABORT,     /* an upstream producer wrote an ABRT chunk */
    SS_EINVAL,     /* invalid argument from the caller (a usage error) */
    SS_EPIPE,      /* the consumer closed the output pipe */
    SS_ENONFINITE  /* a numerical computation produced NaN or infinity */
} ss_status;

/* Exit codes shared by every tool. */
enum {
    SS_EXIT_OK = 0,
    SS_EXIT_FAILURE = 1,   /* bad data, I/O error, failed upstream stage */
    SS_EXIT_USAGE = 2,     /* invalid command line */
    SS_EXIT_NONFINITE = 3  /* training stopped on a non-finite value */
};

#define SS_ERROR_MAX 1024

typedef struct {
    ss_status status;
    char msg[SS_ERROR_MAX];
} ss_error;

/* Sets *err to status and a printf-style message, and returns status, so
 * that callers can write `return ss_error_set(err, SS_EDATA, "...")`. A NULL
 * err is allowed and only the status is returned. */
ss_status ss_error_set(ss_error *err, ss_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ss_status ss_error_vset(ss_error *err, ss_status status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prepends "prefix: " to the message already in err, keeping its status. */
void ss_error_prefix(ss_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears err to SS_OK and an empty message. */
void ss_error_clear(ss_error *err);

/* Returns a short name for a status, such as "I/O error". */
const char *ss_status_name(ss_status status);

/* Maps a status to the exit code a tool returns for it. */
int ss_status_exit_code(ss_status status);

#endif
