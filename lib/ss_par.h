/* ss_par: a fixed pool of worker threads running one function in SPMD
 * style, with a barrier for the steps that need every thread's results.
 *
 * The pool owns T - 1 threads; the caller is thread 0. Code that runs in a
 * pool calls BLAS single-threaded (the pool sets OpenBLAS to one thread),
 * so that T is the total number of busy threads and cores are never
 * oversubscribed. */
#ifndef SS_PAR_H
#define SS_PAR_H

#include "ss_error.h"

typedef struct ss_par ss_par;

/* The function run by every thread: tid in 0..n_threads-1. */
typedef void (*ss_par_fn)(void *arg, int tid, int n_threads);

/* Starts a pool of n_threads threads in all (1 runs everything on the
 * caller). Returns NULL with err set on failure. */
ss_par *ss_par_create(int n_threads, ss_error *err);
void ss_par_destroy(ss_par *p);
int ss_par_threads(const ss_par *p);

/* Runs fn(arg, tid, n) on every thread and returns when all have returned. */
void ss_par_run(ss_par *p, ss_par_fn fn, void *arg);

/* Waits until every thread of the running ss_par_run() has reached it. */
void ss_par_barrier(ss_par *p);

/* Splits n items into n_threads nearly equal ranges; sets [*lo, *hi). */
void ss_par_range(long n, int tid, int n_threads, long *lo, long *hi);

/* Sets the number of OpenBLAS threads (where the library supports it). */
void ss_blas_set_threads(int n);

#endif
