/* ss_error: status codes, messages and their exit codes. */
#include "ss_error.h"

#include <stdio.h>
#include <string.h>

ss_status ss_error_vset(ss_error *err, ss_status status, const char *fmt, va_list ap)
{
    if (err) {
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return status;
}

ss_status ss_error_set(ss_error *err, ss_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ss_error_vset(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void ss_error_prefix(ss_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[SS_ERROR_MAX];
    char old[SS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof err->msg) {
        size_t room = sizeof err->msg - (size_t)n - 1, len = strlen(old);
        if (len > room)
            len = room;
        memcpy(err->msg + n, old, len);
        err->msg[(size_t)n + len] = '\0';
    }
}

void ss_error_clear(ss_error *err)
{
    if (err) {
        err->status = SS_OK;
        err->msg[0] = '\0';
    }
}

const char *ss_status_name(ss_status status)
{
    switch (status) {
    case SS_OK: return "success";
    case SS_EIO: return "I/O error";
    case SS_EDATA: return "invalid data";
    case SS_ELIMIT: return "limit exceeded";
    case SS_ENOMEM: return "out of memory";
    case SS_EABORT: return "upstream stage failed";
    case SS_EINVAL: return "invalid argument";
    case SS_EPIPE: return "broken pipe";
    case SS_ENONFINITE: return "non-finite value";
    }
    return "unknown error";
}

int ss_status_exit_code(ss_status status)
{
    switch (status) {
    case SS_OK: return SS_EXIT_OK;
    case SS_EINVAL: return SS_EXIT_USAGE;
    case SS_ENONFINITE: return SS_EXIT_NONFINITE;
    default: return SS_EXIT_FAILURE;
    }
}
