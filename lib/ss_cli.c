/* ss_cli: table-driven option parsing over getopt_long. */
#include "ss_cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OPTIONS 96

enum { OPT_SEED = 0x1000, OPT_THREADS, OPT_BASE };

ss_status ss_parse_int64(const char *s, int64_t min, int64_t max, const char *what,
                         int64_t *out, ss_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || s[0] == ' ' || s[0] == '\t')
        return ss_error_set(err, SS_EINVAL, "invalid %s '%s': not an integer", what, s);
    if (errno == ERANGE || v < min || v > max)
        return ss_error_set(err, SS_EINVAL, "invalid %s '%s': must be between %" PRId64 " and %" PRId64,
                            what, s, min, max);
    *out = v;
    return SS_OK;
}

ss_status ss_parse_double(const char *s, double min, double max, const char *what,
                          double *out, ss_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || s[0] == ' ' || s[0] == '\t' || !isfinite(v))
        return ss_error_set(err, SS_EINVAL, "invalid %s '%s': not a finite number", what, s);
    if (min < max && (v < min || v > max))
        return ss_error_set(err, SS_EINVAL, "invalid %s '%s': must be between %g and %g",
                            what, s, min, max);
    *out = v;
    return SS_OK;
}

static ss_status set_value(const ss_option *o, const char *arg, ss_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "value for --%s", o->long_name);
    int ranged = o->min < o->max;
    switch (o->type) {
    case SS_ARG_FLAG:
        *(int *)o->value = 1;
        break;
    case SS_ARG_INT: {
        int64_t v;
        ss_status st = ss_parse_int64(arg, ranged ? (int64_t)o->min : -2147483647 - 1,
                                      ranged ? (int64_t)o->max : 2147483647, what, &v, err);
        if (st != SS_OK)
            return st;
        *(int *)o->value = (int)v;
        break;
    }
    case SS_ARG_INT64: {
        int64_t v;
        ss_status st = ss_parse_int64(arg, ranged ? (int64_t)o->min : INT64_MIN,
                                      ranged ? (int64_t)o->max : INT64_MAX, what, &v, err);
        if (st != SS_OK)
            return st;
        *(int64_t *)o->value = v;
        break;
    }
    case SS_ARG_DOUBLE: {
        double v;
        ss_status st = ss_parse_double(arg, o->min, o->max, what, &v, err);
        if (st != SS_OK)
            return st;
        *(double *)o->value = v;
        break;
    }
    case SS_ARG_STRING:
        *(const char **)o->value = arg;
        break;
    case SS_ARG_CHOICE: {
        for (const char *const *c = o->choices; *c; c++) {
            if (strcmp(*c, arg) == 0) {
                *(const char **)o->value = *c;
                if (o->was_set)
                    *o->was_set = 1;
                return SS_OK;
            }
        }
        char list[256] = "";
        for (const char *const *c = o->choices; *c; c++) {
            if (c != o->choices)
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, *c, sizeof list - strlen(list) - 1);
        }
        return ss_error_set(err, SS_EINVAL, "invalid %s '%s': expected one of %s", what, arg, list);
    }
    }
    if (o->was_set)
        *o->was_set = 1;
    return SS_OK;
}

ss_cli_action ss_cli_parse(const ss_command *cmd, ss_common *common, int argc, char **argv,
                           int *first_arg, ss_error *err)
{
    struct option longs[MAX_OPTIONS + 8];
    char shorts[2 * MAX_OPTIONS + 16] = ":hVqv";
    size_t ns = strlen(shorts);
    int n = 0, n_opts = 0;

    common->verbosity = 1;
    common->seed = 0;
    common->seed_set = 0;
    common->threads = 1;
    common->threads_set = 0;
    if (cmd->common & SS_CLI_THREADS_ALL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        common->threads = cpus > 0 ? (int)(cpus < 1024 ? cpus : 1024) : 1;
    }

    for (const ss_option *o = cmd->options; o && o->long_name; o++, n_opts++) {
        if (n_opts >= MAX_OPTIONS)
            return ss_error_set(err, SS_EINVAL, "too many options"), SS_CLI_USAGE;
        longs[n++] = (struct option){o->long_name, o->type == SS_ARG_FLAG ? no_argument : required_argument,
                                     NULL, OPT_BASE + n_opts};
        if (o->short_name) {
            shorts[ns++] = (char)o->short_name;
            if (o->type != SS_ARG_FLAG)
                shorts[ns++] = ':';
        }
    }
    shorts[ns] = '\0';
    longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n++] = (struct option){"version", no_argument, NULL, 'V'};
    longs[n++] = (struct option){"quiet", no_argument, NULL, 'q'};
    longs[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
    if (cmd->common & SS_CLI_SEED)
        longs[n++] = (struct option){"seed", required_argument, NULL, OPT_SEED};
    if (cmd->common & (SS_CLI_THREADS | SS_CLI_THREADS_ALL))
        longs[n++] = (struct option){"threads", required_argument, NULL, OPT_THREADS};
    longs[n] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* 0 makes GNU getopt start afresh, as each subcommand parses anew */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == 'h')
            return SS_CLI_HELP;
        if (c == 'V')
            return SS_CLI_VERSION;
        if (c == 'q') {
            common->verbosity = 0;
            continue;
        }
        if (c == 'v') {
            common->verbosity++;
            continue;
        }
        const char *bad = argv[optind - 1];
        if (c == '?') {
            if (optopt && optopt < 256)
                ss_error_set(err, SS_EINVAL, "unknown option '-%c'", optopt);
            else
                ss_error_set(err, SS_EINVAL, "unknown or ambiguous option '%s'", bad);
            return SS_CLI_USAGE;
        }
        if (c == ':') {
            if (optopt && optopt < 256)
                ss_error_set(err, SS_EINVAL, "option '-%c' requires a value", optopt);
            else
                ss_error_set(err, SS_EINVAL, "option '%s' requires a value", bad);
            return SS_CLI_USAGE;
        }
        if (c == OPT_SEED) {
            int64_t v;
            if (ss_parse_int64(optarg, 0, INT64_MAX, "value for --seed", &v, err) != SS_OK)
                return SS_CLI_USAGE;
            common->seed = (uint64_t)v;
            common->seed_set = 1;
            continue;
        }
        if (c == OPT_THREADS) {
            int64_t v;
            if (ss_parse_int64(optarg, 1, 1024, "value for --threads", &v, err) != SS_OK)
                return SS_CLI_USAGE;
            common->threads = (int)v;
            common->threads_set = 1;
            continue;
        }
        const ss_option *o = NULL;
        if (c >= OPT_BASE && c < OPT_BASE + n_opts)
            o = &cmd->options[c - OPT_BASE];
        for (int i = 0; !o && i < n_opts; i++)
            if (cmd->options[i].short_name == c)
                o = &cmd->options[i];
        if (!o)
            return ss_error_set(err, SS_EINVAL, "unknown option '%s'", bad), SS_CLI_USAGE;
        if (set_value(o, optarg, err) != SS_OK)
            return SS_CLI_USAGE;
    }
    int n_args = argc - optind;
    if (n_args < cmd->min_args)
        return ss_error_set(err, SS_EINVAL, "missing operand (expected %s)", cmd->synopsis), SS_CLI_USAGE;
    if (cmd->max_args >= 0 && n_args > cmd->max_args)
        return ss_error_set(err, SS_EINVAL, "unexpected operand '%s'", argv[optind + cmd->max_args]),
               SS_CLI_USAGE;
    *first_arg = optind;
    return SS_CLI_RUN;
}

/* Appends formatted text to a growing buffer. */
static void buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    if (!*buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (*len + (size_t)n + 1 > *cap) {
        size_t nc = (*cap + (size_t)n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = nb;
        *cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

static void add_option_line(char **b, size_t *len, size_t *cap, int short_name,
                            const char *long_name, const char *metavar, const char *help)
{
    char left[96];
    if (short_name)
        snprintf(left, sizeof left, "  -%c, --%s%s%s", short_name, long_name,
                 metavar ? " " : "", metavar ? metavar : "");
    else
        snprintf(left, sizeof left, "      --%s%s%s", long_name, metavar ? " " : "",
                 metavar ? metavar : "");
    if (strlen(left) >= 28)
        buf_add(b, len, cap, "%s\n%28s%s\n", left, "", help);
    else
        buf_add(b, len, cap, "%-28s%s\n", left, help);
}

char *ss_cli_help(const ss_command *cmd)
{
    size_t len = 0, cap = 1024;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    b[0] = '\0';
    buf_add(&b, &len, &cap, "Usage: %s %s\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
    if (cmd->details)
        buf_add(&b, &len, &cap, "\n%s\n", cmd->details);
    buf_add(&b, &len, &cap, "\nOptions:\n");
    for (const ss_option *o = cmd->options; o && o->long_name; o++)
        add_option_line(&b, &len, &cap, o->short_name, o->long_name,
                        o->type == SS_ARG_FLAG ? NULL : o->metavar, o->help);
    if (cmd->common & SS_CLI_SEED)
        add_option_line(&b, &len, &cap, 0, "seed", "N", "random seed (default 0)");
    if (cmd->common & SS_CLI_THREADS_ALL)
        add_option_line(&b, &len, &cap, 0, "threads", "N", "worker threads (default: every online processor)");
    else if (cmd->common & SS_CLI_THREADS)
        add_option_line(&b, &len, &cap, 0, "threads", "N", "worker threads (default 1)");
    add_option_line(&b, &len, &cap, 'q', "quiet", NULL, "print errors only");
    add_option_line(&b, &len, &cap, 'v', "verbose", NULL, "print more detail; repeat for more");
    add_option_line(&b, &len, &cap, 'h', "help", NULL, "print this help and exit");
    add_option_line(&b, &len, &cap, 'V', "version", NULL, "print the version and exit");
    if (cmd->common & SS_CLI_TRAINS)
        buf_add(&b, &len, &cap, "\nExit status: 0 success, 1 failure (bad data, I/O, failed upstream "
                                "stage),\n2 usage error, 3 training stopped on a non-finite value.\n");
    else
        buf_add(&b, &len, &cap, "\nExit status: 0 success, 1 failure (bad data, I/O, failed upstream "
                                "stage),\n2 usage error.\n");
    return b;
}
