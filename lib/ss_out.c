/* ss_out: atomic output files and their cleanup on signals. */
#include "ss_out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TEMPS 32

/* Temporary paths to unlink from a signal handler; written only outside it. */
static char *volatile temp_paths[MAX_TEMPS];

static void cleanup_handler(int sig)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_paths[i])
            unlink(temp_paths[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void ss_out_install_cleanup(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = cleanup_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static int register_temp(char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++) {
        if (!temp_paths[i]) {
            temp_paths[i] = path;
            return i;
        }
    }
    return -1;
}

ss_status ss_out_open(ss_out *o, const char *path, int binary, ss_error *err)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    o->fd = -1;
    if (strcmp(path, "-") == 0) {
        if (binary && isatty(STDOUT_FILENO))
            return ss_error_set(err, SS_EINVAL, "refusing to write binary data to a terminal; "
                                "redirect standard output or use -o FILE");
        o->path = strdup("-");
        o->fd = STDOUT_FILENO;
        return o->path ? SS_OK : ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    /* A FIFO, device or other special file is written directly: renaming
     * over it would replace it with a regular file. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode))
            return ss_error_set(err, SS_EIO, "%s: is a directory", path);
        o->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (o->fd < 0)
            return ss_error_set(err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));
        o->path = strdup(path);
        o->direct = 1;
        return o->path ? SS_OK : ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    o->path = strdup(path);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    o->tmp = malloc(strlen(path) + 16);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    }
    memcpy(o->tmp, path, dir_len);
    strcpy(o->tmp + dir_len, ".");
    strcat(o->tmp, path + dir_len);
    strcat(o->tmp, ".tmp.XXXXXX");
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        ss_error_set(err, SS_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(o->path);
        free(o->tmp);
        o->path = o->tmp = NULL;
        return SS_EIO;
    }
    /* mkstemp creates mode 0600; give the file the usual 0666 & ~umask. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(o->fd, 0666 & ~mask);
    o->slot = register_temp(o->tmp);
    return SS_OK;
}

static void release(ss_out *o)
{
    if (o->slot >= 0)
        temp_paths[o->slot] = NULL;
    o->slot = -1;
    o->direct = 0;
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->fd = -1;
}

ss_status ss_out_commit(ss_out *o, ss_error *err)
{
    if (o->direct) {
        ss_status st = SS_OK;
        if (close(o->fd) != 0)
            st = ss_error_set(err, SS_EIO, "%s: write failed: %s", o->path, strerror(errno));
        release(o);
        return st;
    }
    if (!o->tmp) {
        release(o);
        return SS_OK;
    }
    ss_status st = SS_OK;
    if (close(o->fd) != 0)
        st = ss_error_set(err, SS_EIO, "%s: write failed: %s", o->path, strerror(errno));
    else if (rename(o->tmp, o->path) != 0)
        st = ss_error_set(err, SS_EIO, "%s: cannot rename the finished file into place: %s",
                          o->path, strerror(errno));
    if (st != SS_OK)
        unlink(o->tmp);
    release(o);
    return st;
}

void ss_out_discard(ss_out *o)
{
    if (o->direct)
        close(o->fd);
    if (o->tmp) {
        close(o->fd);
        unlink(o->tmp);
    }
    release(o);
}
