/*===- pool.c - The instance's threads: persistent workers, rnnc_parallel -===*
 *
 * Each instance owns up to threads - 1 worker threads, started the first time
 * a call needs them and kept until the instance is destroyed (or the thread
 * count drops), so that no call creates a thread. A worker sleeps on its
 * condition variable until a task is posted to it.
 *
 * The workers serve two kinds of tasks: the chunks of rows of a batch split
 * (threads.c), and, when the batch has fewer rows than threads, the second
 * of two kernels a symbolic program may run at once (rnnc_parallel in
 * rnnc/plan.h: the two directions of a bidirectional layer).
 *===----------------------------------------------------------------------===*/
#include "instance.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct rnnc_worker {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* a task is posted, or quit */
  pthread_cond_t done; /* the posted task finished */
  rnnc_task_fn fn;
  void *args;
  int32_t status;
  int pending; /* posted and not yet finished */
  int quit;
  pid_t owner; /* the process that started the thread (a forked child has none) */
};

static void *worker_main(void *arg) {
  rnnc_worker *w = (rnnc_worker *)arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->pending && !w->quit)
      pthread_cond_wait(&w->wake, &w->lock);
    if (!w->pending)
      break; /* quit, nothing left to run */
    rnnc_task_fn fn = w->fn;
    void *args = w->args;
    pthread_mutex_unlock(&w->lock);
    const unsigned mode = flush_denormals(); /* MXCSR is per thread */
    const int32_t status = fn(args);
    restore_denormals(mode);
    pthread_mutex_lock(&w->lock);
    w->status = status;
    w->pending = 0;
    pthread_cond_signal(&w->done);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static void stop_worker(rnnc_worker *w) {
  if (w->owner == getpid()) {
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
  }
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->done);
}

/* Worker k (1 <= k < RNNC_MAX_THREADS), started if need be; NULL if no
 * thread can be had. */
static rnnc_worker *worker(rnnc_instance *inst, int32_t k) {
  rnnc_worker *w = inst->workers[k];
  if (w && w->owner == getpid())
    return w;
  if (w) { /* started by the parent of a fork: the thread is not here */
    stop_worker(w);
    free(w);
    inst->workers[k] = NULL;
  }
  w = (rnnc_worker *)calloc(1, sizeof *w);
  if (!w)
    return NULL;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
  pthread_cond_init(&w->done, NULL);
  w->owner = getpid();
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
    w->owner = 0; /* nothing to join */
    stop_worker(w);
    free(w);
    return NULL;
  }
  inst->workers[k] = w;
  return w;
}

int rnnc_rt_post(rnnc_instance *inst, int32_t k, rnnc_task_fn fn, void *args) {
  if (k < 1 || k >= inst->threads)
    return 0;
  rnnc_worker *w = worker(inst, k);
  if (!w)
    return 0;
  pthread_mutex_lock(&w->lock);
  w->fn = fn, w->args = args, w->pending = 1;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  return 1;
}

int32_t rnnc_rt_wait(rnnc_instance *inst, int32_t k) {
  rnnc_worker *w = inst->workers[k];
  pthread_mutex_lock(&w->lock);
  while (w->pending)
    pthread_cond_wait(&w->done, &w->lock);
  const int32_t status = w->status;
  pthread_mutex_unlock(&w->lock);
  return status;
}

void rnnc_rt_stop_workers(rnnc_instance *inst, int32_t from) {
  for (int32_t k = from < 1 ? 1 : from; k < RNNC_MAX_THREADS; ++k)
    if (inst->workers[k]) {
      stop_worker(inst->workers[k]);
      free(inst->workers[k]);
      inst->workers[k] = NULL;
    }
}

/* rnnc_parallel for one chunk: the worker it may lend the second kernel to. */
static int32_t run2(const rnnc_parallel *self, rnnc_task_fn a, void *a_args, rnnc_task_fn b, void *b_args) {
  const rnnc_lent_thread *lent = (const rnnc_lent_thread *)self;
  if (lent->worker > 0 && rnnc_rt_post(lent->inst, lent->worker, b, b_args)) {
    __atomic_fetch_add(&lent->inst->lent_runs, 1, __ATOMIC_RELAXED); /* chunks may count at once */
    const int32_t first = a(a_args);
    const int32_t second = rnnc_rt_wait(lent->inst, lent->worker);
    return first != RNNC_OK ? first : second;
  }
  const int32_t first = a(a_args);
  return first != RNNC_OK ? first : b(b_args);
}

void rnnc_rt_lend_thread(rnnc_lent_thread *lent, rnnc_instance *inst, int32_t worker) {
  lent->base.run2 = run2;
  lent->inst = inst;
  lent->worker = worker;
}
