/* tool: the skeleton every selfsup command shares: option handling with
 * help, version and usage messages, error reporting, stream output through
 * a temporary file, and the final check of standard output. */
#ifndef TOOL_H
#define TOOL_H

#include "ss_cli.h"
#include "ss_error.h"
#include "ss_out.h"
#include "tsf.h"

/* Sets the program name for messages and installs signal handling. */
void tool_start(const char *prog);

/* Parses options. Returns -1 when the tool should run, or the exit status
 * after printing help, version or a usage error. */
int tool_parse(const ss_command *cmd, ss_common *common, int argc, char **argv, int *first_arg);

/* Prints "prog: message" for err and returns its exit status. */
int tool_fail(const ss_error *err);

/* Prints a usage error with the --help hint and returns 2. */
int tool_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Flushes and closes standard output, so that a write error (full disk,
 * closed pipe) fails the command. Returns status, or 1 when the check
 * fails. */
int tool_finish(int status);

/* A TSF stream written to a file or standard output. */
typedef struct {
    ss_out out;
    tsf_writer *w;
    int open;
} tool_output;

/* Options for stream output every writing tool accepts. */
typedef struct {
    const char *path;   /* -o FILE, default "-" */
    int zstd;           /* -z/--zstd */
    int level;          /* --level N */
} tool_output_opts;

#define TOOL_OUTPUT_OPTIONS(o)                                                           \
    {"output", 'o', SS_ARG_STRING, &(o).path, "FILE",                                    \
     "write the stream to FILE, replaced atomically (default: standard output)", 0, 0, NULL, NULL}, \
    {"zstd", 'z', SS_ARG_FLAG, &(o).zstd, NULL, "compress chunks with zstd", 0, 0, NULL, NULL}, \
    {"level", 0, SS_ARG_INT, &(o).level, "N", "zstd level, 1 to 19 (default 1)", 1, 19, NULL, NULL}

void tool_output_opts_default(tool_output_opts *o);

/* Opens the output and writes a stream header with meta. */
ss_status tool_output_open(tool_output *t, const tool_output_opts *o, const ss_json *meta, ss_error *err);

/* Ends the stream and commits the file. */
ss_status tool_output_finish(tool_output *t, ss_error *err);

/* After a failure: writes ABRT with the message so that the next stage
 * fails too, and removes a temporary file. */
void tool_output_abort(tool_output *t, const ss_error *why);

#endif
