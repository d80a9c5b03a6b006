/* selfsup: runs `selfsup STAGE ARG...` as `selfsup-STAGE ARG...`, looking
 * first beside this executable and then on PATH, so that a user's own
 * selfsup-NAME program joins the family. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: selfsup STAGE [ARG]...\n"
                "Run the selfsup stage STAGE, that is the program selfsup-STAGE found beside\n"
                "this one or on PATH. Stages include tsf, augment, pretrain, embed, probe,\n"
                "finetune and eval; any program named selfsup-NAME on PATH is a stage too.\n"
                "\n"
                "  -h, --help     print this help and exit\n"
                "  -V, --version  print the version and exit\n"
                "\n"
                "Exit status: that of the stage; 2 when STAGE is missing or not found.\n");
}

int main(int argc, char **argv)
{
    tool_start("selfsup");
    if (argc < 2) {
        usage(stderr);
        return SS_EXIT_USAGE;
    }
    const char *stage = argv[1];
    if (strcmp(stage, "-h") == 0 || strcmp(stage, "--help") == 0) {
        usage(stdout);
        return tool_finish(SS_EXIT_OK);
    }
    if (strcmp(stage, "-V") == 0 || strcmp(stage, "--version") == 0) {
        printf("selfsup %s\n", SS_VERSION);
        return tool_finish(SS_EXIT_OK);
    }
    if (stage[0] == '-' || strchr(stage, '/') || strlen(stage) > 64)
        return tool_usage("selfsup", "invalid stage name '%s'", stage);

    char name[96];
    snprintf(name, sizeof name, "selfsup-%s", stage);
    argv[1] = name;

    /* Beside this executable first, so an installed family stays together. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + 1 + strlen(name) < sizeof self) {
            strcpy(slash + 1, name);
            if (access(self, X_OK) == 0) {
                execv(self, argv + 1);
                fprintf(stderr, "selfsup: cannot run %s: %s\n", self, strerror(errno));
                return SS_EXIT_FAILURE;
            }
        }
    }
    execvp(name, argv + 1);
    if (errno == ENOENT)
        return tool_usage("selfsup", "unknown stage '%s': no %s beside %s or on PATH", stage, name,
                          n > 0 ? "this program" : "selfsup");
    fprintf(stderr, "selfsup: cannot run %s: %s\n", name, strerror(errno));
    return SS_EXIT_FAILURE;
}
