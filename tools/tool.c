/* tool: the shared skeleton of the selfsup commands. */
#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_log.h"

void tool_start(const char *prog)
{
    ss_log_init(prog, 1);
    ss_out_install_cleanup();
}

int tool_usage(const char *name, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", name, msg, name);
    return SS_EXIT_USAGE;
}

int tool_parse(const ss_command *cmd, ss_common *common, int argc, char **argv, int *first_arg)
{
    ss_error err;
    ss_error_clear(&err);
    switch (ss_cli_parse(cmd, common, argc, argv, first_arg, &err)) {
    case SS_CLI_RUN:
        ss_log_init(ss_log_prog(), common->verbosity);
        return -1;
    case SS_CLI_HELP: {
        char *help = ss_cli_help(cmd);
        if (!help) {
            fprintf(stderr, "%s: out of memory\n", cmd->name);
            return SS_EXIT_FAILURE;
        }
        fputs(help, stdout);
        free(help);
        return tool_finish(SS_EXIT_OK);
    }
    case SS_CLI_VERSION:
        printf("%s %s\n", cmd->name, SS_VERSION);
        return tool_finish(SS_EXIT_OK);
    case SS_CLI_USAGE:
        break;
    }
    return tool_usage(cmd->name, "%s", err.msg);
}

int tool_fail(const ss_error *err)
{
    ss_log_error("%s", err->msg);
    return ss_status_exit_code(err->status);
}

int tool_finish(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE)
            ss_log_error("write error on standard output: %s", strerror(errno));
        return status ? status : SS_EXIT_FAILURE;
    }
    if (fclose(stdout) != 0) {
        ss_log_error("write error on standard output: %s", strerror(errno));
        return status ? status : SS_EXIT_FAILURE;
    }
    return status;
}

void tool_output_opts_default(tool_output_opts *o)
{
    o->path = "-";
    o->zstd = 0;
    o->level = 1;
}

ss_status tool_output_open(tool_output *t, const tool_output_opts *o, const ss_json *meta, ss_error *err)
{
    memset(t, 0, sizeof *t);
    ss_status st = ss_out_open(&t->out, o->path, 1, err);
    if (st != SS_OK)
        return st;
    tsf_writer_opts wo;
    tsf_writer_opts_default(&wo);
    wo.codec = o->zstd ? TSF_CODEC_ZSTD : TSF_CODEC_NONE;
    wo.level = o->level;
    t->w = tsf_writer_open_fd(t->out.fd, o->path, &wo, err);
    if (!t->w) {
        ss_out_discard(&t->out);
        return err->status;
    }
    t->open = 1;
    if (meta && tsf_writer_begin_json(t->w, meta) != SS_OK) {
        *err = *tsf_writer_error(t->w);
        tool_output_abort(t, err);
        return err->status;
    }
    return SS_OK;
}

ss_status tool_output_finish(tool_output *t, ss_error *err)
{
    if (!t->open)
        return SS_OK;
    if (tsf_writer_in_stream(t->w) && tsf_writer_end(t->w) != SS_OK) {
        *err = *tsf_writer_error(t->w);
        tool_output_abort(t, err);
        return err->status;
    }
    tsf_writer_close(t->w);
    t->w = NULL;
    t->open = 0;
    return ss_out_commit(&t->out, err);
}

void tool_output_abort(tool_output *t, const ss_error *why)
{
    if (!t->open)
        return;
    char msg[SS_ERROR_MAX + 64];
    snprintf(msg, sizeof msg, "%s: %s", ss_log_prog(), why->msg);
    if (why->status != SS_EPIPE)
        tsf_writer_abort(t->w, msg);
    tsf_writer_close(t->w);
    t->w = NULL;
    t->open = 0;
    ss_out_discard(&t->out);
}
