/* ss_out: output files that appear only when complete.
 *
 * ss_out_open() creates a temporary file beside the destination
 * (".NAME.tmp.XXXXXX" in the same directory, so rename() is atomic) and
 * ss_out_commit() renames it into place after a successful close. A run that
 * fails calls ss_out_discard(); one killed by SIGINT, SIGTERM, SIGHUP or
 * SIGPIPE removes its temporary files in the signal handler. A run killed by
 * SIGKILL leaves the temporary file behind but never a partial destination.
 * The path "-" means standard output, which is written directly, and so is
 * an existing FIFO, device or other file that is not a regular file. */
#ifndef SS_OUT_H
#define SS_OUT_H

#include <stdio.h>

#include "ss_error.h"

typedef struct {
    char *path;     /* destination, or "-" */
    char *tmp;      /* temporary path, NULL for standard output */
    int fd;
    int slot;       /* index in the cleanup table, -1 when none */
    int direct;     /* 1 when path is a special file written in place */
} ss_out;

/* Opens the output. With binary set and path "-", standard output must not
 * be a terminal (SS_EINVAL with a message otherwise). */
ss_status ss_out_open(ss_out *o, const char *path, int binary, ss_error *err);

/* Closes the file and renames it into place. On failure the temporary file
 * is removed. */
ss_status ss_out_commit(ss_out *o, ss_error *err);

/* Closes and removes the temporary file; does nothing for standard output. */
void ss_out_discard(ss_out *o);

/* Installs the signal handlers that remove temporary files. */
void ss_out_install_cleanup(void);

#endif
