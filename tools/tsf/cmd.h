/* cmd: the subcommands of selfsup-tsf. Each takes the arguments from its
 * own name on and returns the exit status. */
#ifndef TSF_CMD_H
#define TSF_CMD_H

#include "tool.h"

int cmd_info(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_head(int argc, char **argv);
int cmd_take(int argc, char **argv);
int cmd_shuffle(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Reader limits every subcommand accepts. */
typedef struct {
    int64_t max_meta_mib;
    int64_t max_chunk_mib;
} cmd_limits;

#define CMD_LIMIT_OPTIONS(l)                                                            \
    {"max-meta", 0, SS_ARG_INT64, &(l).max_meta_mib, "MIB",                              \
     "largest metadata accepted, in MiB (default 1)", 1, 64, NULL, NULL},                \
    {"max-chunk", 0, SS_ARG_INT64, &(l).max_chunk_mib, "MIB",                            \
     "largest chunk accepted, in MiB (default 1024)", 1, 65536, NULL, NULL}

void cmd_limits_default(cmd_limits *l);
void cmd_limits_apply(const cmd_limits *l, tsf_limits *out);

/* Runs fn over the records of a reader, writing each kept record to out.
 * Used by the filters that keep metadata and re-frame the stream. */
ss_json *cmd_derive_meta(tsf_reader *r, int argc, char **argv);

/* Reports a reader error and aborts the output if it is open. Returns the
 * exit status. */
int cmd_reader_fail(tsf_reader *r, tool_output *out);


/* An output that follows the streams of its inputs: records of inputs with
 * compatible metadata (kind, schema, classes) share one output stream, and
 * an incompatible input stream starts a new output stream. */
typedef struct {
    tool_output out;
    tool_output_opts opts;
    ss_json *source;   /* metadata of the input that began the output stream */
    int argc;
    char **argv;
} cmd_sink;

void cmd_sink_init(cmd_sink *s, int argc, char **argv);
/* Makes the output ready for records of a stream with metadata meta. */
ss_status cmd_sink_prepare(cmd_sink *s, const ss_json *meta, ss_error *err);
ss_status cmd_sink_finish(cmd_sink *s, ss_error *err);
void cmd_sink_abort(cmd_sink *s, const ss_error *why);

#endif
