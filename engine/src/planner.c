/* planner.c - the shared liveness-based memory planner (contract in
 * backend.h, engine_host_services.plan_arena).
 *
 * Buffers are placed largest first (ties: earliest first step, then input
 * order, so the plan is deterministic). Each one goes into the smallest gap
 * between the already-placed buffers whose lifetimes overlap its own that
 * can hold it, or after the last of them. Largest-first best-fit is the
 * usual greedy for this NP-hard packing; on CNN graphs it comes within a
 * few percent of the lower bound (the largest sum of sizes live at one
 * step). O(n^2 log n) for n buffers, fine at the few thousand of a model.
 *
 * Scratch comes from the caller's allocator, so the out-of-memory sweeps
 * reach it. */
#include <stdlib.h>

#include "internal.h"

typedef struct span {
    size_t begin, end;
} span;

static int by_begin(const void *pa, const void *pb) {
    const span *x = pa, *y = pb;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Non-zero when buffer u goes after buffer v in placement order. */
static int goes_after(const engine_plan_buffer *bufs, int u, int v) {
    const engine_plan_buffer *x = &bufs[u], *y = &bufs[v];
    if (x->size != y->size) return x->size < y->size;
    if (x->first != y->first) return x->first > y->first;
    return u > v;
}

/* Insertion sort: runs once per compile over at most a few thousand
 * buffers, and needs no comparator state (qsort has no user pointer). */
static void sort_indices(int *order, int n, const engine_plan_buffer *bufs) {
    for (int i = 1; i < n; ++i) {
        int v = order[i], j = i;
        while (j > 0 && goes_after(bufs, order[j - 1], v)) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = v;
    }
}

static size_t align_up(size_t v, size_t a, int *ok) {
    size_t r = (v + a - 1) & ~(a - 1);
    if (r < v) *ok = 0;
    return r;
}

engine_status eng_plan_arena(const engine_allocator *a, engine_plan_buffer *bufs, int n, size_t alignment,
                             size_t *arena_size) {
    if (!a || !a->alloc || !a->free || !arena_size || n < 0 || (n > 0 && !bufs)) return ENGINE_ERR_INVALID_ARGUMENT;
    if (alignment == 0) alignment = 1;
    if (alignment & (alignment - 1)) return ENGINE_ERR_INVALID_ARGUMENT;
    *arena_size = 0;
    if (n == 0) return ENGINE_OK;
    for (int k = 0; k < n; ++k)
        if (bufs[k].first < 0 || bufs[k].last < bufs[k].first) return ENGINE_ERR_INVALID_ARGUMENT;

    if ((size_t)n > SIZE_MAX / 4 / sizeof(span)) return ENGINE_ERR_INVALID_ARGUMENT;
    int *order = a->alloc(a->user, sizeof *order * (size_t)n, _Alignof(int));
    int *placed = a->alloc(a->user, sizeof *placed * (size_t)n, _Alignof(int));
    span *live = a->alloc(a->user, sizeof *live * (size_t)n, _Alignof(span));
    if (!order || !placed || !live) {
        if (order) a->free(a->user, order);
        if (placed) a->free(a->user, placed);
        if (live) a->free(a->user, live);
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    for (int k = 0; k < n; ++k) order[k] = k;
    sort_indices(order, n, bufs);

    int ok = 1, n_placed = 0;
    size_t total = 0;
    for (int i = 0; i < n && ok; ++i) {
        engine_plan_buffer *b = &bufs[order[i]];
        size_t need = align_up(b->size ? b->size : 1, alignment, &ok);
        int n_live = 0;
        for (int j = 0; j < n_placed; ++j) {
            const engine_plan_buffer *o = &bufs[placed[j]];
            if (o->first > b->last || b->first > o->last) continue;
            live[n_live].begin = o->offset;
            live[n_live].end = o->offset + align_up(o->size ? o->size : 1, alignment, &ok);
            ++n_live;
        }
        qsort(live, (size_t)n_live, sizeof *live, by_begin);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, at = 0;
        for (int j = 0; j < n_live; ++j) {
            if (live[j].begin > at && live[j].begin - at >= need && live[j].begin - at < best_gap) {
                best = at;
                best_gap = live[j].begin - at;
            }
            if (live[j].end > at) at = live[j].end;
        }
        if (best == SIZE_MAX) best = at;
        if (best > SIZE_MAX - need) ok = 0;
        b->offset = best;
        if (ok && best + need > total) total = best + need;
        placed[n_placed++] = order[i];
    }
    a->free(a->user, order);
    a->free(a->user, placed);
    a->free(a->user, live);
    if (!ok) return ENGINE_ERR_INVALID_ARGUMENT;
    *arena_size = total;
    return ENGINE_OK;
}
