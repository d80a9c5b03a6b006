/* selfsup-tsf: inspect, convert and reshape tensor streams. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "ss_log.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"info", cmd_info, "print metadata, schema, record count and field statistics"},
    {"validate", cmd_validate, "check streams completely and report problems"},
    {"cat", cmd_cat, "concatenate streams, optionally recompressing"},
    {"head", cmd_head, "keep the first N records"},
    {"take", cmd_take, "keep a range of records"},
    {"shuffle", cmd_shuffle, "shuffle records in a seeded order"},
    {"split", cmd_split, "split into training and validation streams"},
    {"sample", cmd_sample, "draw a seeded subset, optionally K records per class"},
    {"import", cmd_import, "convert IDX, PNG, .npy or text into a stream"},
    {"export", cmd_export, "convert a stream into PNG, a PNG grid, .npy or CSV"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: selfsup-tsf COMMAND [OPTION]... [ARG]...\n"
                "Inspect, convert and reshape tensor streams (TSF).\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\nRun 'selfsup-tsf COMMAND --help' for the options of a command.\n"
                "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    tool_start("selfsup-tsf");
    if (argc < 2) {
        usage(stderr);
        return SS_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return tool_finish(SS_EXIT_OK);
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("selfsup-tsf %s\n", SS_VERSION);
        return tool_finish(SS_EXIT_OK);
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            static char prog[64];
            snprintf(prog, sizeof prog, "selfsup-tsf %s", name);
            ss_log_init(prog, 1);
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return tool_usage("selfsup-tsf", "unknown command '%s'", name);
}
