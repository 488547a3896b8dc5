/*
 * cpu_pool.h - the cpu backend's own thread pool (replaces OpenMP).
 *
 * Why our own: on a machine shared with other busy processes, libgomp
 * (static schedules, spin-waits sized by process-wide environment
 * variables) made two threads 20-90x slower than one (issue 21). This pool
 * is built for that case:
 *   - the calling thread is thread 0 and takes part in every loop;
 *   - items are claimed dynamically in small units, so a worker that the OS
 *     deschedules holds at most one unit, never a share of the loop;
 *   - a worker that arrives after the loop is over finds nothing to claim
 *     and goes back to waiting: the caller never waits for a worker to
 *     arrive, only for the units that were actually claimed to finish;
 *   - idle workers (and a caller waiting for the last units) spin for a
 *     bounded time (the spin budget, microseconds), then block on a
 *     condition variable, so they give their core away.
 *
 * One loop at a time per pool: a loop started while another thread runs
 * one on the same pool, or from inside a loop body, runs on its calling
 * thread alone (never more threads than the pool has, never a deadlock).
 *
 * Kernels do not see the pool: the module binds it to the calling thread
 * for the length of a run (cpu_pool_bind); cpu_parallel_for uses the pool
 * bound to the calling thread, and with none bound runs on the caller.
 */
#ifndef ENGINE_CPU_POOL_H
#define ENGINE_CPU_POOL_H

#include <stdint.h>

#include "engine/engine.h"

typedef struct cpu_pool cpu_pool;

/* The body of a loop: items [i0, i1) on thread tid (0 = the caller;
 * tid < the threads the loop was started with). */
typedef void (*cpu_task_fn)(void *ctx, int tid, int64_t i0, int64_t i1);

/* The most threads a pool has (more are clamped). */
#define POOL_THREADS_MAX 256

/* The default spin budget in microseconds. */
#define CPU_POOL_SPIN_DEFAULT_US 100

/* A pool of `threads` threads: the caller plus threads - 1 workers, started
 * lazily by the first cpu_pool_start. spin_us: the spin budget (0: block at
 * once); spin-waits yield the CPU every 16 pauses unless
 * ENGINE_CPU_SPIN_YIELD=0. ENGINE_ERR_OUT_OF_MEMORY when the allocator
 * fails (the pool's memory is taken from `a`; the worker threads' stacks
 * are the C library's). */
engine_status cpu_pool_create(const engine_allocator *a, int threads, int spin_us, cpu_pool **out);
/* Stops and joins the workers and frees the pool. NULL is a no-op. The pool
 * must not be running a loop. */
void cpu_pool_destroy(cpu_pool *p);
/* Starts the workers if they are not running (thread-safe, idempotent).
 * Returns the number of threads the pool can use (1 when no worker could
 * be started: loops then run on the caller, still correct). */
int cpu_pool_start(cpu_pool *p);
int cpu_pool_threads(const cpu_pool *p);

/* The process-wide pool (ENGINE_CPU_POOL=shared): every backend state
 * that asks for it shares one pool of cpu_available_cpus() threads, so
 * several contexts running at once from several threads of a server never
 * have more pool workers than the process has CPUs: each loop takes the
 * workers if they are free, else runs on its caller. Reference-counted;
 * its memory comes from malloc (it outlives any one context's
 * allocator). ENGINE_ERR_OUT_OF_MEMORY when that fails. */
engine_status cpu_pool_acquire_shared(int spin_us, cpu_pool **out);
void cpu_pool_release_shared(cpu_pool *p);
/* 1 when ENGINE_CPU_POOL asks for the shared pool ("shared"). */
int cpu_pool_shared_from_env(void);

/* Binds p (may be NULL) to the calling thread; returns the previous one. */
cpu_pool *cpu_pool_bind(cpu_pool *p);

/* Runs fn over items [0, n) in units of `grain` items (grain <= 0: about
 * four units per thread) on at most `threads` threads of the pool bound to
 * the calling thread. Returns when every item is done. */
void cpu_parallel_for(int threads, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx);
/* cpu_parallel_for where each thread first takes the units of its own
 * contiguous home range (thread t: the t-th of `threads` equal shares, in
 * order), then the others' from their far end. For loops whose threads
 * should stay on the same part of every loop (the columns of a 1x1 conv
 * that the thread's previous layer wrote): cpu_pool.c says why. */
void cpu_parallel_for_home(int threads, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx);

/* The spin budget from ENGINE_CPU_SPIN: a number of microseconds, or
 * "latency" (2000), "default" (CPU_POOL_SPIN_DEFAULT_US), "shared" or
 * "none" (0). Unset, empty or unreadable: the default. */
int cpu_pool_spin_from_env(void);
/* The same from a setting (engine_session_options.spin): NULL or bad: the default. */
int cpu_pool_spin_parse(const char *setting);

/* The number of CPUs this process may use: its affinity mask, lowered to
 * the cgroup v2 CPU quota (/sys/fs/cgroup/cpu.max, rounded up); at least
 * 1. */
int cpu_available_cpus(void);

#endif /* ENGINE_CPU_POOL_H */
