/* ss_par: the thread pool behind data-parallel training. */
#include "ss_par.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ss_par {
    int n;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    pthread_barrier_t barrier;
    unsigned long generation;   /* incremented for each ss_par_run */
    int running;                /* workers still inside the current run */
    int quit;
    ss_par_fn fn;
    void *arg;
};

typedef struct {
    ss_par *pool;
    int tid;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *wa = p;
    ss_par *pool = wa->pool;
    int tid = wa->tid;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        seen = pool->generation;
        ss_par_fn fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->lock);

        fn(arg, tid, pool->n);

        pthread_mutex_lock(&pool->lock);
        if (--pool->running == 0)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

ss_par *ss_par_create(int n_threads, ss_error *err)
{
    if (n_threads < 1)
        n_threads = 1;
    ss_par *p = calloc(1, sizeof *p);
    if (!p || !(p->threads = calloc((size_t)n_threads, sizeof *p->threads))) {
        free(p);
        ss_error_set(err, SS_ENOMEM, "out of memory for the thread pool");
        return NULL;
    }
    p->n = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_barrier_init(&p->barrier, NULL, (unsigned)n_threads);
    for (int t = 1; t < n_threads; t++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = p;
            wa->tid = t;
        }
        if (!wa || pthread_create(&p->threads[t], NULL, worker, wa) != 0) {
            free(wa);
            p->n = t;
            ss_par_destroy(p);
            ss_error_set(err, SS_ENOMEM, "cannot start thread %d of %d", t + 1, n_threads);
            return NULL;
        }
    }
    ss_blas_set_threads(1);
    return p;
}

void ss_par_destroy(ss_par *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (int t = 1; t < p->n; t++)
        pthread_join(p->threads[t], NULL);
    pthread_barrier_destroy(&p->barrier);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

int ss_par_threads(const ss_par *p)
{
    return p->n;
}

void ss_par_run(ss_par *p, ss_par_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->running = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);

    fn(arg, 0, p->n);

    pthread_mutex_lock(&p->lock);
    while (p->running > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void ss_par_barrier(ss_par *p)
{
    if (p->n > 1)
        pthread_barrier_wait(&p->barrier);
}

void ss_par_range(long n, int tid, int n_threads, long *lo, long *hi)
{
    *lo = n * tid / n_threads;
    *hi = n * (tid + 1) / n_threads;
}

/* OpenBLAS exports this; other BLAS libraries do not, hence the weak link. */
void openblas_set_num_threads(int n) __attribute__((weak));

void ss_blas_set_threads(int n)
{
    if (openblas_set_num_threads)
        openblas_set_num_threads(n);
}
