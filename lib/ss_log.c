/* ss_log: levelled messages and rate-limited progress on standard error. */
#include "ss_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "selfsup";
static int log_level = 1;

void ss_log_init(const char *prog, int verbosity)
{
    log_prog = prog;
    log_level = verbosity;
}

int ss_log_level(void)
{
    return log_level;
}

const char *ss_log_prog(void)
{
    return log_prog;
}

__attribute__((format(printf, 3, 0)))
static void vlog(int level, const char *kind, const char *fmt, va_list ap)
{
    if (log_level < level)
        return;
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s: %s%s\n", log_prog, kind, line);
}

void ss_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(0, "", fmt, ap);
    va_end(ap);
}

void ss_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(1, "warning: ", fmt, ap);
    va_end(ap);
}

void ss_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(1, "", fmt, ap);
    va_end(ap);
}

void ss_log_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(2, "", fmt, ap);
    va_end(ap);
}

double ss_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ss_progress_start(ss_progress *p, const char *what)
{
    p->what = what;
    p->start = p->last = ss_now();
    p->enabled = log_level >= 1 && isatty(STDERR_FILENO);
    p->drawn = 0;
}

void ss_progress_update(ss_progress *p, uint64_t done, uint64_t total)
{
    if (!p->enabled)
        return;
    double t = ss_now();
    if (t - p->last < 0.25)
        return;
    p->last = t;
    double rate = (double)done / (t - p->start > 1e-9 ? t - p->start : 1e-9);
    if (total > 0 && rate > 0)
        fprintf(stderr, "\r%s: %llu/%llu %s, %.0f/s, ETA %.0f s   ", log_prog,
                (unsigned long long)done, (unsigned long long)total, p->what, rate,
                (double)(total - (done < total ? done : total)) / rate);
    else
        fprintf(stderr, "\r%s: %llu %s, %.0f/s   ", log_prog, (unsigned long long)done, p->what, rate);
    p->drawn = 1;
}

void ss_progress_end(ss_progress *p)
{
    if (p->enabled && p->drawn)
        fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}
