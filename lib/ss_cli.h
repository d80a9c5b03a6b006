/* ss_cli: command-line parsing shared by every tool.
 *
 * A tool describes its options in a table of ss_option and its command in an
 * ss_command; ss_cli_parse() fills the option variables through getopt_long,
 * parses numbers strictly (whole string, range, overflow) and returns what the
 * tool must do next. It never prints and never exits: the tool prints help,
 * version or the usage message and exits with the matching status.
 *
 * Options common to all tools are parsed here too: -h/--help, -V/--version,
 * -q/--quiet, -v/--verbose, and where the command asks for them --seed and
 * --threads. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <stdint.h>

#include "ss_error.h"

typedef enum {
    SS_ARG_FLAG,    /* no argument; sets an int to 1 */
    SS_ARG_INT,     /* int */
    SS_ARG_INT64,   /* int64_t */
    SS_ARG_DOUBLE,  /* double, finite */
    SS_ARG_STRING,  /* const char * pointing into argv */
    SS_ARG_CHOICE   /* const char * that must be one of choices */
} ss_arg_type;

typedef struct {
    const char *long_name;
    int short_name;         /* 0 when the option has no short form */
    ss_arg_type type;
    void *value;
    const char *metavar;    /* argument name in help, such as "N" */
    const char *help;       /* one line; states the default */
    double min, max;        /* inclusive range for numbers; ignored when equal */
    const char *const *choices; /* NULL-terminated, for SS_ARG_CHOICE */
    int *was_set;           /* set to 1 when the option was given; may be NULL */
} ss_option;

enum {
    SS_CLI_SEED = 1,        /* accept --seed N */
    SS_CLI_THREADS = 2,     /* accept --threads N (default 1) */
    SS_CLI_THREADS_ALL = 4, /* accept --threads N, defaulting to every online processor */
    SS_CLI_TRAINS = 8       /* the command trains, so exit status 3 can occur */
};

typedef struct {
    const char *name;        /* as invoked in messages, e.g. "selfsup-tsf info" */
    const char *synopsis;    /* e.g. "[OPTION]... [FILE]..." */
    const char *summary;     /* one sentence */
    const char *details;     /* further text for --help, may be NULL */
    const ss_option *options;/* terminated by an entry with long_name NULL */
    int common;              /* SS_CLI_SEED | SS_CLI_THREADS */
    int min_args, max_args;  /* operands allowed; max_args -1 for any */
} ss_command;

typedef struct {
    int verbosity;           /* 0 quiet, 1 default, 2 and more with -v */
    uint64_t seed;           /* default 0 */
    int seed_set;
    int threads;             /* default 1 */
    int threads_set;
} ss_common;

typedef enum {
    SS_CLI_RUN,              /* proceed; operands start at argv[*first_arg] */
    SS_CLI_HELP,             /* print ss_cli_help() on stdout, exit 0 */
    SS_CLI_VERSION,          /* print the version on stdout, exit 0 */
    SS_CLI_USAGE             /* print err on stderr with a --help hint, exit 2 */
} ss_cli_action;

/* Parses argv[0..argc) (argv[0] is the command name). */
ss_cli_action ss_cli_parse(const ss_command *cmd, ss_common *common, int argc, char **argv,
                           int *first_arg, ss_error *err);

/* Returns the --help text (malloc'd, caller frees), or NULL when out of
 * memory. */
char *ss_cli_help(const ss_command *cmd);

/* Parses a whole string as a number within [min, max]; used for option
 * values and for numbers inside option strings. The message names what. */
ss_status ss_parse_int64(const char *s, int64_t min, int64_t max, const char *what,
                         int64_t *out, ss_error *err);
ss_status ss_parse_double(const char *s, double min, double max, const char *what,
                          double *out, ss_error *err);

#endif
