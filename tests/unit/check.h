/* check.h: the harness of the C unit tests.
 *
 * A test file defines functions `static void test_NAME(void)` and lists them
 * in main() with RUN(test_NAME). Each RUN prints one TAP line; a failed CHECK
 * prints the file, line and condition and marks the running test failed. The
 * program exits 1 when any test failed. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed_now;
static int check_failures;
static int check_count;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stdout, "# %s:%d: check failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                        \
            check_failed_now = 1;                                            \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stdout, "# %s:%d: check failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                        \
            fprintf(stdout, __VA_ARGS__);                                    \
            fputc('\n', stdout);                                             \
            check_failed_now = 1;                                            \
        }                                                                    \
    } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                 \
    CHECK_MSG(strstr((haystack), (needle)) != NULL,                          \
              "'%s' does not contain '%s'", (haystack), (needle))

#define RUN(fn)                                                              \
    do {                                                                     \
        check_failed_now = 0;                                                \
        fn();                                                                \
        check_count++;                                                       \
        if (check_failed_now)                                                \
            check_failures++;                                                \
        printf("%s %d - %s %s\n", check_failed_now ? "not ok" : "ok",        \
               check_count, __FILE__, #fn);                                  \
        fflush(stdout);                                                      \
    } while (0)

#define CHECK_DONE() (check_failures ? 1 : 0)

#endif
