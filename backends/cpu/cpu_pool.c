/* cpu_pool.c - the cpu backend's thread pool; the contract and the reasons
 * are in cpu_pool.h, the measurements in docs/PERFORMANCE.md.
 *
 * The claim words: one 64-bit atomic per thread, on a cache line of its
 * own, holding the loop's sequence number (high 24 bits) and a
 * range of units not yet claimed, [front, back) (20 bits each). A
 * cpu_parallel_for loop puts all its units in thread 0's word and every
 * thread claims from its front: units go out in arrival order. A
 * cpu_parallel_for_home loop splits them into one contiguous home range per
 * thread; a thread claims the front unit of its own range, and once that
 * is empty takes units from the back of the others' ranges (stealing).
 * Either way a worker the OS deschedules holds at most the unit it runs,
 * and the caller never waits for a worker to arrive. Home ranges keep each
 * thread on the same part of every such loop (the pixel columns of a 1x1
 * conv that the thread's previous 1x1 conv wrote are in its own cache) and
 * its claims on a line no other core writes: in arrival order the two
 * threads took alternate panels, on this VM a line moving between the two
 * vCPUs costs about a microsecond, and SqueezeNet's 1x1 convs at 55x55 ran
 * slower on two threads than on one. Not every loop gains: see
 * docs/PERFORMANCE.md ("Home ranges in the pool").
 *
 * A claim is a compare-and-swap on the word loaded, so a claim made
 * against a loop that has since ended fails instead of taking a unit of
 * the next loop. The loop's fields (fn, ctx, n, ...) are written before
 * any word carries the loop's number, and that before `seq` does; a thread
 * reads them after it saw the number in `seq`, and its claim on a word of
 * that number succeeds only while units of the loop are left, when no
 * later loop can have begun rewriting them: a successful claim runs the
 * fields of its own loop. All atomics are sequentially consistent.
 *
 * Sleeping: a worker that has spun its budget registers in `sleepers`
 * (under the mutex) and re-checks the loop number before waiting; the
 * caller publishes the loop number, then reads `sleepers` and broadcasts
 * only when someone sleeps. Both sides use seq_cst operations, so at least
 * one of them sees the other (no lost wake-up). The caller's wait for the
 * last units uses the same scheme with `caller_waits`. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "cpu_pool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A claim word: seq (24 bits) | front (20) | back (20). */
#define CLAIM_BITS 20
#define CLAIM_MAX_UNITS (1u << CLAIM_BITS)
#define CLAIM_MASK ((uint_least64_t)CLAIM_MAX_UNITS - 1u)
#define CLAIM_SEQ_MASK 0xffffffu

static inline uint_least64_t claim_word(unsigned seq, unsigned front, unsigned back) {
    return ((uint_least64_t)(seq & CLAIM_SEQ_MASK) << (2 * CLAIM_BITS)) | ((uint_least64_t)front << CLAIM_BITS) |
           (uint_least64_t)back;
}

typedef struct claim_slot {
    alignas(64) atomic_uint_least64_t w;
} claim_slot;

typedef struct pool_worker {
    cpu_pool *pool;
    int tid;
    pthread_t thread;
} pool_worker;

struct cpu_pool {
    engine_allocator a;
    int threads;      /* requested, caller included */
    long long spin_ns;
    int yield;        /* spin-waits call sched_yield (ENGINE_CPU_SPIN_YIELD, experiment) */

    pthread_mutex_t start_mu; /* guards starting the workers */
    int started;              /* workers running (0: not yet tried) */
    int n_workers;            /* under start_mu */
    atomic_int usable;        /* n_workers + 1, read by loops */

    /* The hot words sit on cache lines of their own, grouped by who
     * writes them how often: a line written by one thread and read by
     * another moves between the cores at every write, which costs little
     * between cores that share a cache and a microsecond or more between
     * cores that do not (a VM's vCPUs land on either, and change). */
    alignas(64) pthread_mutex_t mu; /* the sleep/wake condition */
    pthread_cond_t wake, done_cv;

    /* once per loop by the caller; spun on by idle workers */
    alignas(64) atomic_uint seq; /* the loop number workers wait on */
    atomic_int stop;
    /* the current loop (written while the claim word is closed), read by
     * every claim: changes once per loop */
    _Atomic(cpu_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_int nthr;
    atomic_int home;                   /* home ranges (cpu_parallel_for_home), else one shared range */
    atomic_uint units;                 /* the loop's units: ceil(n / grain) */
    atomic_int_least64_t n, grain;

    claim_slot *slots; /* one claim word per thread (after workers[]) */

    /* once per thread and loop (a thread adds the units it ran when it
     * finds none left), spun on by the waiting caller */
    alignas(64) atomic_uint done; /* units finished */
    atomic_int caller_waits;

    alignas(64) atomic_int busy; /* a loop owns the pool */
    atomic_int sleepers;

    alignas(64) pool_worker workers[];
};

static _Thread_local cpu_pool *bound_pool;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of a spin-wait. Every 16th step yields the CPU: on an idle
 * core sched_yield returns at once (a microsecond of latency), on a busy
 * one the thread that the spinner would have kept off the core runs. */
static inline void spin_pause(const cpu_pool *p, int i) {
    cpu_relax();
    if (p->yield && (i & 15) == 0) sched_yield();
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Claims the next unit of loop want_seq: the front of tid's home range,
 * else the back of another thread's. -1 when none is left. */
static int64_t claim_unit(cpu_pool *p, int tid, int nthr, int home, unsigned want_seq) {
    const unsigned seq = want_seq & CLAIM_SEQ_MASK;
    if (!home) { /* one range in slot 0, claimed from the front by all */
        atomic_uint_least64_t *slot = &p->slots[0].w;
        uint_least64_t w = atomic_load(slot);
        for (;;) {
            const unsigned front = (unsigned)((w >> CLAIM_BITS) & CLAIM_MASK), back = (unsigned)(w & CLAIM_MASK);
            if ((unsigned)(w >> (2 * CLAIM_BITS)) != seq || front >= back) return -1;
            if (atomic_compare_exchange_weak(slot, &w, claim_word(seq, front + 1u, back))) return (int64_t)front;
        }
    }
    for (int k = 0; k < nthr; ++k) {
        const int v = (tid + k) % nthr;
        atomic_uint_least64_t *slot = &p->slots[v].w;
        uint_least64_t w = atomic_load(slot);
        for (;;) {
            const unsigned front = (unsigned)((w >> CLAIM_BITS) & CLAIM_MASK), back = (unsigned)(w & CLAIM_MASK);
            if ((unsigned)(w >> (2 * CLAIM_BITS)) != seq || front >= back) break;
            const uint_least64_t nw = k == 0 ? claim_word(seq, front + 1u, back) : claim_word(seq, front, back - 1u);
            if (atomic_compare_exchange_weak(slot, &w, nw)) return k == 0 ? (int64_t)front : (int64_t)back - 1;
        }
    }
    return -1;
}

/* Claims and runs units of the current loop until none is left (or the
 * loop is not the one in `want_seq`, or tid is beyond the loop's threads). */
static void run_units(cpu_pool *p, int tid, unsigned want_seq) {
    unsigned mine = 0, loop_units = 0; /* units this thread ran; the loop's count */
    for (;;) {
        if (atomic_load(&p->seq) != want_seq) break;
        const int nthr = atomic_load(&p->nthr);
        if (tid >= nthr) break;
        const unsigned units = atomic_load(&p->units);
        const int64_t n = atomic_load(&p->n), grain = atomic_load(&p->grain);
        cpu_task_fn fn = atomic_load(&p->fn);
        void *ctx = atomic_load(&p->ctx);
        /* the fields above are want_seq's if the claim (of want_seq's
         * words) succeeds: they were written before those words */
        const int64_t idx = claim_unit(p, tid, nthr, atomic_load(&p->home), want_seq);
        if (idx < 0) break;
        const int64_t i0 = idx * grain, i1 = n - i0 < grain ? n : i0 + grain;
        fn(ctx, tid, i0, i1);
        ++mine;
        loop_units = units;
    }
    /* Publish once: the loop cannot end before these units are counted,
     * and the claims this thread made were all of loop want_seq. */
    if (mine && atomic_fetch_add(&p->done, mine) + mine == loop_units && atomic_load(&p->caller_waits)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *worker_main(void *arg) {
    pool_worker *w = arg;
    cpu_pool *p = w->pool;
    unsigned seen = atomic_load(&p->seq);
    for (;;) {
        /* spin for the budget, then sleep until the loop number moves */
        unsigned cur = atomic_load(&p->seq);
        if (cur == seen && !atomic_load(&p->stop) && p->spin_ns > 0) {
            const long long end = now_ns() + p->spin_ns;
            for (int i = 1;; ++i) {
                spin_pause(p, i);
                cur = atomic_load(&p->seq);
                if (cur != seen || atomic_load(&p->stop)) break;
                if ((i & 63) == 0 && now_ns() >= end) break;
            }
        }
        if (cur == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((cur = atomic_load(&p->seq)) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = cur;
        run_units(p, w->tid, cur);
    }
    return NULL;
}

engine_status cpu_pool_create(const engine_allocator *a, int threads, int spin_us, cpu_pool **out) {
    if (!a || !a->alloc || !a->free || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (threads < 1) threads = 1;
    if (threads > POOL_THREADS_MAX) threads = POOL_THREADS_MAX;
    if (spin_us < 0) spin_us = 0;
    const size_t head = (sizeof(cpu_pool) + (size_t)(threads - 1) * sizeof(pool_worker) + 63u) / 64u * 64u;
    const size_t bytes = head + (size_t)threads * sizeof(claim_slot);
    cpu_pool *p = a->alloc(a->user, bytes, 64);
    if (!p) return ENGINE_ERR_OUT_OF_MEMORY;
    memset(p, 0, bytes);
    p->slots = (claim_slot *)((char *)p + head);
    for (int t = 0; t < threads; ++t) atomic_init(&p->slots[t].w, claim_word(0, 0, 0));
    p->a = *a;
    p->threads = threads;
    p->spin_ns = (long long)spin_us * 1000LL;
    const char *y = getenv("ENGINE_CPU_SPIN_YIELD");
    p->yield = !y || strcmp(y, "0") != 0;
    if (pthread_mutex_init(&p->start_mu, NULL)) goto err0;
    if (pthread_mutex_init(&p->mu, NULL)) goto err1;
    if (pthread_cond_init(&p->wake, NULL)) goto err2;
    if (pthread_cond_init(&p->done_cv, NULL)) goto err3;
    atomic_init(&p->usable, 1);
    atomic_init(&p->busy, 0);
    atomic_init(&p->seq, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_waits, 0);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->ctx, NULL);
    atomic_init(&p->n, 0);
    atomic_init(&p->grain, 1);
    atomic_init(&p->units, 0);
    atomic_init(&p->nthr, 1);
    atomic_init(&p->home, 0);
    atomic_init(&p->done, 0);
    *out = p;
    return ENGINE_OK;
err3:
    pthread_cond_destroy(&p->wake);
err2:
    pthread_mutex_destroy(&p->mu);
err1:
    pthread_mutex_destroy(&p->start_mu);
err0:
    a->free(a->user, p);
    return ENGINE_ERR_OUT_OF_MEMORY;
}

int cpu_pool_start(cpu_pool *p) {
    if (!p) return 1;
    pthread_mutex_lock(&p->start_mu);
    if (!p->started) {
        p->started = 1;
        for (int i = 0; i < p->threads - 1; ++i) {
            pool_worker *w = &p->workers[i];
            w->pool = p;
            w->tid = i + 1;
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0) break;
            p->n_workers = i + 1;
        }
        atomic_store(&p->usable, p->n_workers + 1);
    }
    const int n = p->n_workers + 1;
    pthread_mutex_unlock(&p->start_mu);
    return n;
}

int cpu_pool_threads(const cpu_pool *p) {
    return p ? p->threads : 1;
}

void cpu_pool_destroy(cpu_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; ++i) pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->start_mu);
    p->a.free(p->a.user, p);
}

cpu_pool *cpu_pool_bind(cpu_pool *p) {
    cpu_pool *old = bound_pool;
    bound_pool = p;
    return old;
}

static void parallel_for(int threads, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx, int home) {
    if (n <= 0) return;
    cpu_pool *p = bound_pool;
    if (p) {
        const int u = atomic_load(&p->usable);
        if (threads > u) threads = u;
    }
    if (grain <= 0) {
        const int64_t t = threads > 1 ? threads : 1;
        grain = (n + 4 * t - 1) / (4 * t);
    }
    if (grain < n / CLAIM_MAX_UNITS) grain = n / CLAIM_MAX_UNITS + 1; /* units fit the claim words */
    if (grain < 1) grain = 1;
    if (!p || threads <= 1 || n <= grain || atomic_exchange(&p->busy, 1)) {
        fn(ctx, 0, 0, n);
        return;
    }
    const unsigned units = (unsigned)((n + grain - 1) / grain);
    const unsigned seq = atomic_load(&p->seq) + 1u;
    /* write the loop, then the claim words under its number (one home
     * range per thread, as even as the units allow; or every unit in slot
     * 0), then the number */
    atomic_store(&p->fn, fn);
    atomic_store(&p->ctx, ctx);
    atomic_store(&p->n, n);
    atomic_store(&p->grain, grain);
    atomic_store(&p->units, units);
    atomic_store(&p->nthr, threads);
    atomic_store(&p->done, 0u);
    atomic_store(&p->home, home);
    /* (a shared-order loop claims from slot 0 alone: the others keep an
     * older number, which no claim of this loop takes) */
    if (!home) atomic_store(&p->slots[0].w, claim_word(seq, 0u, units));
    for (int t = 0; home && t < threads; ++t)
        atomic_store(&p->slots[t].w, claim_word(seq, (unsigned)((uint64_t)units * (unsigned)t / (unsigned)threads),
                                                (unsigned)((uint64_t)units * (unsigned)(t + 1) / (unsigned)threads)));
    atomic_store(&p->seq, seq);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_units(p, 0, seq);
    /* wait for the units the workers claimed: spin, then block */
    if (atomic_load(&p->done) != units) {
        const long long end = p->spin_ns > 0 ? now_ns() + p->spin_ns : 0;
        for (int i = 1; p->spin_ns > 0 && atomic_load(&p->done) != units; ++i) {
            spin_pause(p, i);
            if ((i & 63) == 0 && now_ns() >= end) break;
        }
        if (atomic_load(&p->done) != units) {
            pthread_mutex_lock(&p->mu);
            atomic_store(&p->caller_waits, 1);
            while (atomic_load(&p->done) != units) pthread_cond_wait(&p->done_cv, &p->mu);
            atomic_store(&p->caller_waits, 0);
            pthread_mutex_unlock(&p->mu);
        }
    }
    atomic_store(&p->busy, 0);
}

void cpu_parallel_for(int threads, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx) {
    parallel_for(threads, n, grain, fn, ctx, 0);
}

void cpu_parallel_for_home(int threads, int64_t n, int64_t grain, cpu_task_fn fn, void *ctx) {
    parallel_for(threads, n, grain, fn, ctx, 1);
}

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static cpu_pool *shared_pool;
static int shared_refs;

static void *heap_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align < sizeof(void *)) align = sizeof(void *);
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void heap_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

engine_status cpu_pool_acquire_shared(int spin_us, cpu_pool **out) {
    if (!out) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_status st = ENGINE_OK;
    pthread_mutex_lock(&shared_mu);
    if (!shared_pool) {
        const engine_allocator a = {heap_alloc, heap_free, NULL};
        st = cpu_pool_create(&a, cpu_available_cpus(), spin_us, &shared_pool);
    }
    if (st == ENGINE_OK) ++shared_refs;
    *out = st == ENGINE_OK ? shared_pool : NULL;
    pthread_mutex_unlock(&shared_mu);
    return st;
}

void cpu_pool_release_shared(cpu_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&shared_mu);
    cpu_pool *dead = NULL;
    if (p == shared_pool && --shared_refs == 0) {
        dead = shared_pool;
        shared_pool = NULL;
    }
    pthread_mutex_unlock(&shared_mu);
    cpu_pool_destroy(dead);
}

int cpu_pool_shared_from_env(void) {
    const char *e = getenv("ENGINE_CPU_POOL");
    return e && strcmp(e, "shared") == 0;
}

int cpu_pool_spin_from_env(void) {
    return cpu_pool_spin_parse(getenv("ENGINE_CPU_SPIN"));
}

int cpu_pool_spin_parse(const char *e) {
    if (!e || !*e || strcmp(e, "default") == 0) return CPU_POOL_SPIN_DEFAULT_US;
    if (strcmp(e, "latency") == 0) return 2000;
    if (strcmp(e, "shared") == 0 || strcmp(e, "none") == 0) return 0;
    char *end = NULL;
    const long v = strtol(e, &end, 10);
    if (end == e || *end || v < 0) return CPU_POOL_SPIN_DEFAULT_US;
    return v > 1000000 ? 1000000 : (int)v;
}

/* The quota of one cgroup v2 folder's cpu.max in CPUs (rounded up), or 0
 * for "max" / no file. */
static int cgroup_quota(const char *dir) {
    char path[PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char q[32] = "";
    long long period = 0;
    const int got = fscanf(f, "%31s %lld", q, &period);
    fclose(f);
    if (got != 2 || strcmp(q, "max") == 0 || period <= 0) return 0;
    const long long quota = atoll(q);
    if (quota <= 0) return 0;
    return (int)((quota + period - 1) / period);
}

int cpu_available_cpus(void) {
    int n = 0;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (n <= 0) {
        const long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    /* cgroup v2: this process's group (/proc/self/cgroup "0::/path") and
     * every parent up to the root; the smallest quota wins. */
    char rel[PATH_MAX + 8] = "";
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        char line[PATH_MAX + 8];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "0::", 3) == 0) {
                snprintf(rel, sizeof rel, "%s", line + 3);
                rel[strcspn(rel, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    char dir[PATH_MAX + 16];
    if (snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", strcmp(rel, "/") == 0 ? "" : rel) >= (int)sizeof dir)
        snprintf(dir, sizeof dir, "/sys/fs/cgroup");
    for (;;) {
        const int q = cgroup_quota(dir);
        if (q > 0 && q < n) n = q;
        char *slash = strrchr(dir, '/');
        if (!slash || strcmp(dir, "/sys/fs/cgroup") == 0) break;
        *slash = 0;
    }
    return n > 0 ? n : 1;
}
