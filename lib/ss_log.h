/* ss_log: messages and progress on standard error.
 *
 * Levels follow -q/-v: 0 prints errors only, 1 (the default) adds warnings
 * and notices, 2 adds details, 3 debugging. Progress lines are drawn only
 * when standard error is a terminal and the level is at least 1, and are
 * redrawn at most four times a second. */
#ifndef SS_LOG_H
#define SS_LOG_H

#include <stdint.h>

/* Sets the program name that prefixes every message and the level. */
void ss_log_init(const char *prog, int verbosity);
int ss_log_level(void);
const char *ss_log_prog(void);

void ss_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ss_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ss_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ss_log_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct {
    const char *what;   /* e.g. "records" */
    double start, last;
    int enabled, drawn;
} ss_progress;

void ss_progress_start(ss_progress *p, const char *what);
/* Redraws "done of total what, rate/s, ETA" when due; total 0 is unknown. */
void ss_progress_update(ss_progress *p, uint64_t done, uint64_t total);
/* Clears the progress line. */
void ss_progress_end(ss_progress *p);

/* Seconds on a monotonic clock. */
double ss_now(void);

#endif
