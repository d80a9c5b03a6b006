/* common: helpers shared by the selfsup-tsf subcommands. */
#include "cmd.h"

#include <string.h>

#include "ss_log.h"
#include "ss_meta.h"

void cmd_limits_default(cmd_limits *l)
{
    l->max_meta_mib = 1;
    l->max_chunk_mib = 1024;
}

void cmd_limits_apply(const cmd_limits *l, tsf_limits *out)
{
    tsf_limits_default(out);
    out->max_meta = (uint64_t)l->max_meta_mib << 20;
    out->max_chunk = (uint64_t)l->max_chunk_mib << 20;
}

ss_json *cmd_derive_meta(tsf_reader *r, int argc, char **argv)
{
    return ss_meta_derive(tsf_reader_meta(r), ss_log_prog(), argc - 1, argv + 1);
}

int cmd_reader_fail(tsf_reader *r, tool_output *out)
{
    const ss_error *err = tsf_reader_error(r);
    if (out)
        tool_output_abort(out, err);
    return tool_fail(err);
}

void cmd_sink_init(cmd_sink *s, int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    tool_output_opts_default(&s->opts);
    s->argc = argc;
    s->argv = argv;
}

ss_status cmd_sink_prepare(cmd_sink *s, const ss_json *meta, ss_error *err)
{
    if (s->out.open && s->source && ss_meta_compatible(s->source, meta))
        return SS_OK;
    ss_json *derived = ss_meta_derive(meta, ss_log_prog(), s->argc - 1, s->argv + 1);
    ss_json *source = ss_json_clone(meta);
    if (!derived || !source) {
        ss_json_free(derived);
        ss_json_free(source);
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    ss_status st;
    if (!s->out.open) {
        st = tool_output_open(&s->out, &s->opts, derived, err);
    } else {
        st = tsf_writer_end(s->out.w);
        if (st == SS_OK)
            st = tsf_writer_begin_json(s->out.w, derived);
        if (st != SS_OK)
            *err = *tsf_writer_error(s->out.w);
    }
    ss_json_free(derived);
    ss_json_free(s->source);
    s->source = source;
    return st;
}

ss_status cmd_sink_finish(cmd_sink *s, ss_error *err)
{
    ss_json_free(s->source);
    s->source = NULL;
    return tool_output_finish(&s->out, err);
}

void cmd_sink_abort(cmd_sink *s, const ss_error *why)
{
    ss_json_free(s->source);
    s->source = NULL;
    tool_output_abort(&s->out, why);
}
