/* select: the streaming subcommands validate, cat, head and take. They hold
 * one chunk at a time, whatever the input size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ss_log.h"

/* ---- validate ------------------------------------------------------------ */

int cmd_validate(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    const ss_option opts[] = {CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf validate", "[OPTION]... [FILE]...",
        "Read every stream of each FILE (standard input when none or '-') and check\n"
        "every checksum, size, record and field; print a summary line per file.",
        NULL, opts, 0, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);

    int status = SS_EXIT_OK;
    int n_files = argc - first;
    for (int i = 0; i < (n_files ? n_files : 1); i++) {
        const char *path = n_files ? argv[first + i] : "-";
        ss_error err;
        tsf_reader *r = tsf_reader_open_path(path, &limits, &err);
        if (!r) {
            status = tool_fail(&err);
            continue;
        }
        uint64_t records = 0;
        tsf_chunk c;
        int got;
        while ((got = tsf_reader_next_chunk(r, &c)) == 1)
            records += c.n_records;
        if (got < 0) {
            status = tool_fail(tsf_reader_error(r));
        } else if (common.verbosity > 0) {
            uint64_t streams = tsf_reader_stream_index(r) + 1;
            printf("%s: ok: %" PRIu64 " stream%s, %" PRIu64 " record%s\n", tsf_reader_name(r),
                   streams, streams == 1 ? "" : "s", records, records == 1 ? "" : "s");
        }
        tsf_reader_close(r);
    }
    return tool_finish(status);
}

/* ---- cat ----------------------------------------------------------------- */

int cmd_cat(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    cmd_sink sink;
    cmd_sink_init(&sink, argc, argv);
    const ss_option opts[] = {TOOL_OUTPUT_OPTIONS(sink.opts), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf cat", "[OPTION]... [FILE]...",
        "Concatenate the streams of each FILE (standard input when none or '-') into\n"
        "one stream, checking everything on the way. Chunks are copied as stored when\n"
        "the codec stays the same, and decoded or compressed otherwise (-z compresses,\n"
        "no -z stores uncompressed). Input streams whose kind, schema or classes\n"
        "differ from the previous one start a new output stream.",
        NULL, opts, 0, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);

    int n_files = argc - first;
    ss_error err;
    for (int i = 0; i < (n_files ? n_files : 1); i++) {
        const char *path = n_files ? argv[first + i] : "-";
        tsf_reader *r = tsf_reader_open_path(path, &limits, &err);
        if (!r) {
            cmd_sink_abort(&sink, &err);
            return tool_fail(&err);
        }
        int got = tsf_reader_start(r);
        if (got > 0 && cmd_sink_prepare(&sink, tsf_reader_meta(r), &err) != SS_OK)
            goto write_failed;
        tsf_chunk c;
        while (got > 0 && (got = tsf_reader_next_chunk(r, &c)) == 1) {
            if (cmd_sink_prepare(&sink, tsf_reader_meta(r), &err) != SS_OK)
                goto write_failed;
            if (tsf_writer_write_chunk(sink.out.w, &c) != SS_OK) {
                err = *tsf_writer_error(sink.out.w);
                goto write_failed;
            }
        }
        if (got < 0) {
            cmd_sink_abort(&sink, tsf_reader_error(r));
            int st = tool_fail(tsf_reader_error(r));
            tsf_reader_close(r);
            return tool_finish(st);
        }
        tsf_reader_close(r);
        continue;
    write_failed:
        tsf_reader_close(r);
        cmd_sink_abort(&sink, &err);
        return tool_finish(tool_fail(&err));
    }
    if (cmd_sink_finish(&sink, &err) != SS_OK)
        return tool_finish(tool_fail(&err));
    return tool_finish(SS_EXIT_OK);
}

/* ---- head and take ------------------------------------------------------- */

/* Copies records number skip, skip + every, skip + 2 every, ... (at most
 * count of them) from the inputs to the sink. Stops reading as soon as the
 * last wanted record is written. */
static int copy_range(int argc, char **argv, int first, cmd_sink *sink, const tsf_limits *limits,
                      uint64_t skip, uint64_t count, uint64_t every)
{
    int n_files = argc - first;
    uint64_t index = 0, written = 0;
    ss_json *first_meta = NULL;
    ss_error err;
    tsf_record *rec = malloc(sizeof *rec);
    if (!rec) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        return tool_finish(tool_fail(&err));
    }
    int status = SS_EXIT_OK;
    for (int i = 0; i < (n_files ? n_files : 1) && status == SS_EXIT_OK; i++) {
        const char *path = n_files ? argv[first + i] : "-";
        tsf_reader *r = tsf_reader_open_path(path, limits, &err);
        if (!r) {
            cmd_sink_abort(sink, &err);
            status = tool_fail(&err);
            break;
        }
        int got = tsf_reader_start(r);
        if (got > 0 && !first_meta && !(first_meta = ss_json_clone(tsf_reader_meta(r)))) {
            ss_error_set(&err, SS_ENOMEM, "out of memory");
            got = -2;
        }
        while (got > 0 && written < count && (got = tsf_reader_next(r, rec)) == 1) {
            uint64_t k = index++;
            if (k < skip || (k - skip) % every != 0)
                continue;
            if (cmd_sink_prepare(sink, tsf_reader_meta(r), &err) != SS_OK) {
                got = -2;
                break;
            }
            if (tsf_writer_write_record(sink->out.w, rec) != SS_OK) {
                err = *tsf_writer_error(sink->out.w);
                got = -2;
                break;
            }
            written++;
        }
        if (got == -1) {
            cmd_sink_abort(sink, tsf_reader_error(r));
            status = tool_fail(tsf_reader_error(r));
        } else if (got == -2) {
            cmd_sink_abort(sink, &err);
            status = tool_fail(&err);
        }
        tsf_reader_close(r);
        if (written >= count)
            break;
    }
    free(rec);
    /* With no record selected, the output is an empty stream like the first input. */
    if (status == SS_EXIT_OK && !sink->out.open && first_meta && cmd_sink_prepare(sink, first_meta, &err) != SS_OK)
        status = tool_fail(&err);
    ss_json_free(first_meta);
    if (status == SS_EXIT_OK && cmd_sink_finish(sink, &err) != SS_OK)
        status = tool_fail(&err);
    return tool_finish(status);
}

int cmd_head(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    cmd_sink sink;
    cmd_sink_init(&sink, argc, argv);
    int64_t count = 10;
    const ss_option opts[] = {
        {"lines", 'n', SS_ARG_INT64, &count, "N", "number of records to keep (default 10)", 0, 1e18, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(sink.opts), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf head", "[OPTION]... [FILE]...",
        "Write the first N records of the input as a complete stream.",
        NULL, opts, 0, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    return copy_range(argc, argv, first, &sink, &limits, 0, (uint64_t)count, 1);
}

int cmd_take(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    cmd_sink sink;
    cmd_sink_init(&sink, argc, argv);
    int64_t skip = 0, count = INT64_MAX, every = 1;
    const ss_option opts[] = {
        {"skip", 's', SS_ARG_INT64, &skip, "K", "skip the first K records (default 0)", 0, 1e18, NULL, NULL},
        {"count", 'n', SS_ARG_INT64, &count, "N", "keep at most N records (default all)", 0, 1e18, NULL, NULL},
        {"every", 'e', SS_ARG_INT64, &every, "M", "keep every M-th record after the skip (default 1)", 1, 1e18, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(sink.opts), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf take", "[OPTION]... [FILE]...",
        "Write records K, K+M, K+2M, ... of the input (at most N of them) as a\n"
        "complete stream. Record numbers count across all inputs from 0.",
        NULL, opts, 0, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    return copy_range(argc, argv, first, &sink, &limits, (uint64_t)skip, (uint64_t)count, (uint64_t)every);
}
