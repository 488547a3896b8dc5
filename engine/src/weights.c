/* weights.c - releasing weights every program holds packed (weights.h). */
#include "weights.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ENG_CAN_RELEASE 1
#else
#define ENG_CAN_RELEASE 0
#endif

size_t eng_weights_released(const eng_weights *w) {
    size_t n = 0;
    for (size_t k = 0; k < w->n; ++k) n += w->recs[k].dropped ? w->recs[k].released : 0;
    return n;
}

/* Four independent multiply-xorshift lanes over 8-byte words (a few GB/s):
 * a check that a buffer still holds the bytes it was read with, not a
 * defence against anyone crafting a collision. */
uint64_t eng_hash64(const void *p, size_t n) {
    const unsigned char *b = p;
    const uint64_t K = 0x9E3779B97F4A7C15ull, M = 0xFF51AFD7ED558CCDull;
    uint64_t h[4] = {K ^ n, K * 3 ^ n, K * 5 ^ n, K * 7 ^ n};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; ++l) {
            uint64_t w;
            memcpy(&w, b + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * M;
            h[l] ^= h[l] >> 29;
        }
    uint64_t r = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
    for (; i < n; ++i) r = (r ^ b[i]) * M;
    r ^= r >> 32;
    return r * M ^ (r >> 29);
}

static int rec_cmp(const void *a, const void *b) {
    const uintptr_t x = (uintptr_t)((const eng_wrec *)a)->ptr, y = (uintptr_t)((const eng_wrec *)b)->ptr;
    return x < y ? -1 : x > y;
}

void eng_weights_init(eng_weights *w, int fd, eng_wrec *recs, size_t n) {
    memset(w, 0, sizeof *w);
    w->fd = recs ? fd : -1;
    w->recs = recs;
    w->n = recs ? n : 0;
    if (w->n > 1) qsort(w->recs, w->n, sizeof *w->recs, rec_cmp);
    w->enabled = ENG_CAN_RELEASE && fd >= 0 && w->n > 0;
#if ENG_CAN_RELEASE
    struct stat sb;
    if (w->enabled && fstat(fd, &sb) == 0) {
        w->size = (int64_t)sb.st_size;
        w->mtime_s = (int64_t)sb.st_mtim.tv_sec;
        w->mtime_ns = (int64_t)sb.st_mtim.tv_nsec;
    } else {
        w->enabled = 0;
    }
#endif
}

void eng_weights_unverify(eng_weights *w) {
    for (size_t k = 0; k < w->n; ++k) w->recs[k].verified = 0;
}

void eng_weights_free(engine_context *ctx, eng_weights *w) {
#if ENG_CAN_RELEASE
    if (w->recs && w->fd >= 0) close(w->fd); /* a file is kept only with records */
#endif
    eng_free(ctx, w->recs);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

/* The record whose buffer is ptr, holding exactly bytes bytes; -1: none. */
static int find_rec(const eng_weights *w, const void *ptr, size_t bytes) {
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)w->recs[mid].ptr < (uintptr_t)ptr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < w->n && w->recs[lo].ptr == ptr && w->recs[lo].len == bytes ? (int)lo : -1;
}

/* The interior whole pages of r's buffer: [*a, *e); 0 when none. */
static int interior(const eng_wrec *r, uintptr_t *a, uintptr_t *e) {
#if ENG_CAN_RELEASE
    const long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return 0;
    const uintptr_t P = (uintptr_t)ps;
    *a = ((uintptr_t)r->ptr + P - 1) & ~(P - 1);
    *e = ((uintptr_t)r->ptr + (uintptr_t)r->len) & ~(P - 1);
    return *e > *a;
#else
    (void)r, (void)a, (void)e;
    return 0;
#endif
}

/* Before reading a released buffer back: its pages faulted in at once
 * (transparent huge pages where the kernel gives them) rather than one
 * fault per 4 KiB page inside the read (ResNet-50's 94 MB: what a new
 * shape pays over --keep-weights, ~50 -> ~45 ms on the AMD EPYC of
 * docs/PERFORMANCE.md). Hints only: failures change nothing. */
static void populate(const eng_wrec *r) {
#if ENG_CAN_RELEASE
    uintptr_t a, e;
    if (!interior(r, &a, &e)) return;
#if defined(MADV_HUGEPAGE)
    const uintptr_t H = (uintptr_t)2 << 20, ha = (a + H - 1) & ~(H - 1), he = e & ~(H - 1);
    if (he > ha) (void)madvise((void *)ha, he - ha, MADV_HUGEPAGE);
#endif
#if defined(MADV_POPULATE_WRITE)
    (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#endif
#else
    (void)r;
#endif
}

static void release(eng_wrec *r) {
#if ENG_CAN_RELEASE
    if (r->dropped || r->modified) return;
    if (!r->verified && eng_hash64(r->ptr, (size_t)r->len) != r->hash) { /* rewritten in place since the load */
        r->modified = 1;
        return;
    }
    r->verified = 1;
    uintptr_t a, e;
    if (!interior(r, &a, &e)) return;
    /* only the buffer's own whole pages: zero-filled on the next touch */
    if (madvise((void *)a, e - a, MADV_DONTNEED) == 0) {
        r->dropped = 1;
        r->released = (size_t)(e - a);
    }
#else
    (void)r;
#endif
}

engine_status eng_weights_resident(engine_context *ctx, eng_weights *w) {
#if ENG_CAN_RELEASE
    /* The file as it was at the load (size and modification time): its
     * bytes are the ones hashed then. Otherwise each is checked. */
    struct stat sb;
    int same = 0;
    for (size_t k = 0; k < w->n && !same; ++k)
        if (w->recs[k].dropped)
            same = 1 + (fstat(w->fd, &sb) == 0 && (int64_t)sb.st_size == w->size &&
                        (int64_t)sb.st_mtim.tv_sec == w->mtime_s && (int64_t)sb.st_mtim.tv_nsec == w->mtime_ns);
    for (size_t k = 0; k < w->n; ++k) {
        eng_wrec *r = &w->recs[k];
        if (!r->dropped) continue;
        unsigned char *p = r->ptr;
        uint64_t done = 0;
        populate(r);
        while (done < r->len) {
            ssize_t got = pread(w->fd, p + done, (size_t)(r->len - done), (off_t)(r->offset + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                return eng_error(ctx, ENGINE_ERR_IO,
                                 "cannot read back the weights at byte %llu of the model file (released after packing): %s",
                                 (unsigned long long)r->offset, got < 0 ? strerror(errno) : "the file is shorter now");
            done += (uint64_t)got;
        }
        if (same != 2 && eng_hash64(p, (size_t)r->len) != r->hash)
            return eng_error(ctx, ENGINE_ERR_IO,
                             "the model file changed since it was loaded: the %llu bytes of weights at byte %llu differ "
                             "(they were released after packing and cannot be read back)",
                             (unsigned long long)r->len, (unsigned long long)r->offset);
        r->dropped = 0;
        r->released = 0;
        r->verified = 1;
    }
#else
    (void)ctx, (void)w;
#endif
    return ENGINE_OK;
}

static int use_cmp(const void *a, const void *b) {
    const eng_wuse *x = a, *y = b;
    if (x->node != y->node) return (uintptr_t)x->node < (uintptr_t)y->node ? -1 : 1;
    return (x->input > y->input) - (x->input < y->input);
}

void eng_weights_end(engine_context *ctx, eng_weights *w, eng_wuses *u) {
    for (int k = 0; k < u->n; ++k)
        if (!u->u[k].consumed) w->recs[u->u[k].rec].pins--;
    eng_free(ctx, u->u);
    u->u = NULL;
    u->n = 0;
}

static int value_bytes(const engine_value *v, size_t *bytes) {
    size_t n = engine_dtype_size(v->dtype);
    for (int d = 0; d < v->rank; ++d) {
        if (v->dims[d] < 0) return 0;
        if (!eng_mul_size(n, (size_t)v->dims[d], &n)) return 0;
    }
    *bytes = n;
    return 1;
}

static int rec_of(const eng_weights *w, const engine_value *v) {
    size_t bytes;
    return v && v->data && value_bytes(v, &bytes) ? find_rec(w, v->data, bytes) : -1;
}

engine_status eng_weights_begin(engine_context *ctx, eng_weights *w, const eng_graph *model, const eng_graph *g,
                                eng_wuses *u) {
    eng_weights_end(ctx, w, u);
    if (!w->enabled) return ENGINE_OK;
    engine_status st = eng_weights_resident(ctx, w);
    if (st) return st;
    /* Only buffers the model's graph holds now: a record's buffer may have
     * been freed since the load (a dead or folded initializer), and its
     * address taken by anything, a specialisation's own constants too. */
    for (size_t k = 0; k < w->n; ++k) w->recs[k].live = 0;
    for (int k = 0; k < model->n_values; ++k) {
        const engine_value *v = model->values[k];
        int r = v->flags & ENGINE_VALUE_CONST ? rec_of(w, v) : -1;
        if (r >= 0) w->recs[r].live = 1;
    }
    int n = g->n_outputs;
    for (int k = 0; k < g->n_nodes; ++k) n += g->nodes[k]->n_inputs;
    if (!n) return ENGINE_OK;
    eng_wuse *list = eng_calloc(ctx, (size_t)n, sizeof *list);
    if (!list) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory listing the model's weights");
    int m = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *nd = g->nodes[k];
        for (int j = 0; j < nd->n_inputs; ++j) {
            int r = rec_of(w, nd->inputs[j]);
            if (r >= 0 && w->recs[r].live) list[m++] = (eng_wuse){nd, j, r, 0};
        }
    }
    for (int k = 0; k < g->n_outputs; ++k) {
        int r = rec_of(w, g->outputs[k]);
        if (r >= 0 && w->recs[r].live) list[m++] = (eng_wuse){NULL, -1 - k, r, 0};
    }
    qsort(list, (size_t)m, sizeof *list, use_cmp);
    for (int k = 0; k < m; ++k) w->recs[list[k].rec].pins++;
    u->u = list;
    u->n = m;
    return ENGINE_OK;
}

/* The compile in progress on this thread (a context is used from one
 * thread at a time; distinct contexts may compile at once). */
static _Thread_local eng_weights *cur_w;
static _Thread_local eng_wuses *cur_u;

void eng_weights_compiling(eng_weights *w, eng_wuses *u) {
    cur_w = w && w->enabled ? w : NULL;
    cur_u = u;
}

void eng_weights_compiled(void) {
    cur_w = NULL;
    cur_u = NULL;
}

void eng_constant_consumed(const engine_node *node, int input) {
    eng_weights *w = cur_w;
    eng_wuses *u = cur_u;
    if (!w || !u || !u->u || !node || input < 0) return;
    const eng_wuse key = {node, input, 0, 0};
    eng_wuse *e = bsearch(&key, u->u, (size_t)u->n, sizeof *u->u, use_cmp);
    if (!e || e->consumed) return;
    e->consumed = 1;
    eng_wrec *r = &w->recs[e->rec];
    if (--r->pins == 0) release(r);
}

void eng_weights_settle(eng_weights *w) {
    if (!w->enabled) return;
    for (size_t k = 0; k < w->n; ++k)
        if (w->recs[k].pins == 0 && w->recs[k].live) release(&w->recs[k]);
}
