/*
 * storage.h - where a host-memory backend keeps each value of a partition:
 * the storage planner the ref and cpu modules share.
 *
 * Header-only and free of libengine symbols, like alias.h, so that every
 * module can compile it in (a module must load whatever the host exports).
 *
 * At compile a module walks its nodes in order and asks, for each node
 * input, engine_storage_input, and for each output, engine_storage_output.
 * Each answer is a slot:
 *   - CONST:  a constant (value->data), read in place;
 *   - INPUT:  a partition input (the caller's buffer, bound at run);
 *   - OUTPUT: a partition output (the caller's buffer), at alias_off;
 *   - ARENA:  a buffer of the module's arena, at offset.
 * Arena buffers live from the node that writes them to the last node that
 * reads them; engine_storage_plan places them with the host's liveness
 * planner (engine_host_services.plan_arena), so buffers whose lifetimes do
 * not overlap share bytes. A value whose Concat-alias chain (ir.h,
 * alias.h) is honoured lives in its root's storage at alias_off: the root's
 * buffer is made at the first write of any member and lives to the last
 * read of any member. engine_storage_scratch adds a buffer of the module's
 * own (a kernel's scratch) live during one node. Partition outputs that no
 * node writes (a constant, or an input passed through) become copies,
 * engine_storage_copies. engine_slot_in / engine_slot_out turn a slot into
 * a pointer at run.
 */
#ifndef ENGINE_STORAGE_H
#define ENGINE_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/alias.h"
#include "engine/backend.h"
#include "engine/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ENGINE_SLOT_NONE, ENGINE_SLOT_CONST, ENGINE_SLOT_INPUT, ENGINE_SLOT_OUTPUT, ENGINE_SLOT_ARENA };

typedef struct engine_slot {
    int kind;
    int index;         /* INPUT/OUTPUT: partition position; ARENA: buffer id */
    size_t offset;     /* ARENA: byte offset in the arena (engine_storage_plan) */
    const void *cdata; /* CONST */
    size_t alias_off;  /* ARENA/OUTPUT: byte offset inside the alias root's storage */
} engine_slot;

/* A buffer of the arena plan. */
typedef struct engine_storage_buf {
    const engine_value *value; /* NULL: scratch, or a constant output's */
    size_t size;
    int def, last;
    size_t offset;
} engine_storage_buf;

/* A partition output no node writes: copied from a constant or an input. */
typedef struct engine_storage_copy {
    int out_index;
    int in_index; /* -1: from cdata */
    const void *cdata;
    size_t nbytes;
} engine_storage_copy;

typedef struct engine_storage {
    const engine_partition *part;
    const engine_allocator *a;
    engine_alias_query aq;
    size_t align;
    engine_storage_buf *bufs;
    int n_bufs, cap_bufs;
    int *produced; /* per partition output: a node writes it */
    /* engine_storage_input's failure: the value and the reading node */
    const engine_value *missing;
    int missing_k;
} engine_storage;

/* ---- helpers ---- */

static inline size_t engine_storage_dtype_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_BOOL: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_I32: return 4;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    case ENGINE_DTYPE_UNDEFINED: break;
    }
    return 0;
}

/* Bytes of a value; 0 with *ok = 0 on overflow or a bad shape. */
static inline size_t engine_storage_value_bytes(const engine_value *v, int *ok) {
    size_t total = engine_storage_dtype_size(v->dtype);
    *ok = total != 0 && v->rank >= 0 && v->rank <= ENGINE_MAX_RANK;
    for (int d = 0; *ok && d < v->rank; ++d) {
        if (v->dims[d] < 0) *ok = 0;
        else if (v->dims[d] != 0 && total > SIZE_MAX / 2 / (size_t)v->dims[d]) *ok = 0;
        else total *= (size_t)v->dims[d];
    }
    return *ok ? total : 0;
}

static inline int engine_storage_find(engine_value *const *list, int n, const engine_value *v) {
    for (int k = 0; k < n; ++k)
        if (list[k] == v) return k;
    return -1;
}

/* The arena buffer of value r (an alias root or a plain value), or -1. */
static inline int engine_storage_buf_of(const engine_storage *st, const engine_value *r) {
    for (int b = st->n_bufs - 1; b >= 0; --b)
        if (st->bufs[b].value == r) return b;
    return -1;
}

/* ---- building ---- */

/* max_bufs: an upper bound on the buffers the module will add (a buffer
 * per node output plus its scratch buffers is always enough). */
static inline engine_status engine_storage_init(engine_storage *st, const engine_allocator *a,
                                                const engine_partition *part, size_t align, int max_bufs) {
    memset(st, 0, sizeof *st);
    st->part = part;
    st->a = a;
    st->aq = engine_alias_partition_query(part);
    st->align = align ? align : 1;
    st->cap_bufs = max_bufs > 0 ? max_bufs : 1;
    st->bufs = (engine_storage_buf *)a->alloc(a->user, sizeof *st->bufs * (size_t)st->cap_bufs,
                                              _Alignof(engine_storage_buf));
    st->produced = (int *)a->alloc(a->user, sizeof *st->produced * (size_t)(part->n_outputs + 1), _Alignof(int));
    if (!st->bufs || !st->produced) return ENGINE_ERR_OUT_OF_MEMORY;
    memset(st->produced, 0, sizeof *st->produced * (size_t)(part->n_outputs + 1));
    return ENGINE_OK;
}

static inline void engine_storage_free(engine_storage *st) {
    if (st->bufs) st->a->free(st->a->user, st->bufs);
    if (st->produced) st->a->free(st->a->user, st->produced);
    st->bufs = NULL;
    st->produced = NULL;
}

/* A new arena buffer of `size` bytes (rounded up to the alignment, at
 * least one unit) live at node k; -1 when the bound is reached. */
static inline int engine_storage_add(engine_storage *st, const engine_value *value, size_t size, int k) {
    if (st->n_bufs >= st->cap_bufs) return -1;
    size = (size + st->align - 1) / st->align * st->align;
    if (size == 0) size = st->align;
    engine_storage_buf *b = &st->bufs[st->n_bufs];
    b->value = value;
    b->size = size;
    b->def = b->last = k;
    b->offset = 0;
    return st->n_bufs++;
}

/* Fills *sl for value v (NULL: an absent optional input) read by node k,
 * at byte offset voff inside v's storage (a module's copy-free view). A
 * skipped node does not extend a buffer's life. 0 when v is not produced
 * before node k (st->missing, st->missing_k say which). */
static inline int engine_storage_input(engine_storage *st, const engine_value *v, size_t voff, int k, int skip,
                                       engine_slot *sl) {
    const engine_partition *part = st->part;
    memset(sl, 0, sizeof *sl);
    int idx;
    if (!v) {
        sl->kind = ENGINE_SLOT_NONE;
    } else if (v->data) {
        sl->kind = ENGINE_SLOT_CONST;
        sl->cdata = v->data;
    } else if ((idx = engine_storage_find(part->inputs, part->n_inputs, v)) >= 0) {
        sl->kind = ENGINE_SLOT_INPUT;
        sl->index = idx;
    } else {
        size_t aoff;
        const engine_value *r = engine_alias_resolve(v, &st->aq, &aoff);
        const int b = engine_storage_buf_of(st, r);
        if (b >= 0) {
            sl->kind = ENGINE_SLOT_ARENA;
            sl->index = b;
            sl->alias_off = aoff + voff;
            if (!skip) st->bufs[b].last = k;
        } else if ((idx = engine_storage_find(part->outputs, part->n_outputs, r)) >= 0 &&
                   (st->produced[idx] || r != v)) {
            sl->kind = ENGINE_SLOT_OUTPUT;
            sl->index = idx;
            sl->alias_off = aoff + voff;
        } else {
            st->missing = v;
            st->missing_k = k;
            return 0;
        }
    }
    return 1;
}

/* Fills *sl for output v of node k (NULL or a skipped node: no slot).
 * size: the bytes a new buffer needs, 0 for the value's own size (a module
 * storing the value in another layout passes its own). ENGINE_ERR_SHAPE
 * when the size overflows or the shape is bad; ENGINE_ERR_INTERNAL when
 * max_bufs was too small. */
static inline engine_status engine_storage_output(engine_storage *st, const engine_value *v, int k, int skip,
                                                  size_t size, engine_slot *sl) {
    const engine_partition *part = st->part;
    memset(sl, 0, sizeof *sl);
    if (!v || skip) {
        sl->kind = ENGINE_SLOT_NONE;
        return ENGINE_OK;
    }
    size_t aoff = 0;
    int idx;
    const engine_value *r = v->data ? v : engine_alias_resolve(v, &st->aq, &aoff);
    if (!r->data && (idx = engine_storage_find(part->outputs, part->n_outputs, r)) >= 0) {
        sl->kind = ENGINE_SLOT_OUTPUT;
        sl->index = idx;
        sl->alias_off = aoff;
        if (r == v) st->produced[idx] = 1;
        return ENGINE_OK;
    }
    if (!v->data) {
        const int b = engine_storage_buf_of(st, r);
        if (b >= 0) { /* another member of the chain made the root's buffer */
            sl->kind = ENGINE_SLOT_ARENA;
            sl->index = b;
            sl->alias_off = aoff;
            if (st->bufs[b].last < k) st->bufs[b].last = k;
            return ENGINE_OK;
        }
    }
    /* An internal value (or the root of its chain), or scratch for a
     * constant output (never read: readers use data). */
    int ok = 1;
    if (!size) size = engine_storage_value_bytes(r, &ok);
    if (!ok || size > SIZE_MAX / 4) return ENGINE_ERR_SHAPE;
    const int b = engine_storage_add(st, v->data ? NULL : r, size, k);
    if (b < 0) return ENGINE_ERR_INTERNAL;
    sl->kind = ENGINE_SLOT_ARENA;
    sl->index = b;
    sl->alias_off = aoff;
    return ENGINE_OK;
}

/* A scratch buffer of `bytes` live during node k: its id, or -1 with
 * *status set (ENGINE_ERR_SHAPE: too large; ENGINE_ERR_INTERNAL: max_bufs). */
static inline int engine_storage_scratch(engine_storage *st, size_t bytes, int k, engine_status *status) {
    if (bytes > SIZE_MAX / 4) {
        *status = ENGINE_ERR_SHAPE;
        return -1;
    }
    const int b = engine_storage_add(st, NULL, bytes, k);
    *status = b < 0 ? ENGINE_ERR_INTERNAL : ENGINE_OK;
    return b;
}

/* After every node: the partition outputs no node wrote, as copies into
 * copies[] (room for part->n_outputs). The index of the first output that
 * is neither a constant nor a partition input (nothing can fill it), or -1. */
static inline int engine_storage_copies(const engine_storage *st, engine_storage_copy *copies, int *n_copies) {
    const engine_partition *part = st->part;
    *n_copies = 0;
    for (int j = 0; j < part->n_outputs; ++j) {
        const engine_value *v = part->outputs[j];
        if (st->produced[j]) continue;
        int ok = 0, idx = -1;
        const size_t nbytes = v ? engine_storage_value_bytes(v, &ok) : 0;
        if (ok && !v->data) idx = engine_storage_find(part->inputs, part->n_inputs, v);
        if (!ok || (!v->data && idx < 0)) return j;
        engine_storage_copy *c = &copies[(*n_copies)++];
        c->out_index = j;
        c->in_index = v->data ? -1 : idx;
        c->cdata = v->data;
        c->nbytes = nbytes;
    }
    return -1;
}

/* Places every buffer (bufs[b].offset) with the host's liveness planner;
 * *arena_size: the bytes the arena needs. Then engine_storage_place gives
 * each ARENA slot its offset. */
static inline engine_status engine_storage_plan(engine_storage *st, const engine_host_services *host,
                                                size_t *arena_size) {
    const engine_allocator *a = st->a;
    engine_plan_buffer *plan = (engine_plan_buffer *)a->alloc(
        a->user, sizeof *plan * (size_t)(st->n_bufs + 1), _Alignof(engine_plan_buffer));
    if (!plan) return ENGINE_ERR_OUT_OF_MEMORY;
    for (int b = 0; b < st->n_bufs; ++b) {
        plan[b].size = st->bufs[b].size;
        plan[b].first = st->bufs[b].def;
        plan[b].last = st->bufs[b].last;
        plan[b].offset = 0;
    }
    engine_status s = host->plan_arena(a, plan, st->n_bufs, st->align, arena_size);
    if (s == ENGINE_OK)
        for (int b = 0; b < st->n_bufs; ++b) st->bufs[b].offset = plan[b].offset;
    a->free(a->user, plan);
    return s;
}

/* After engine_storage_plan: an ARENA slot's byte offset in the arena. */
static inline void engine_storage_place(const engine_storage *st, engine_slot *sl) {
    if (sl->kind == ENGINE_SLOT_ARENA) sl->offset = st->bufs[sl->index].offset + sl->alias_off;
}

/* ---- at run ---- */

static inline const void *engine_slot_in(const engine_slot *sl, const void *const *inputs, void *const *outputs,
                                         uint8_t *arena) {
    switch (sl->kind) {
    case ENGINE_SLOT_CONST: return sl->cdata;
    case ENGINE_SLOT_INPUT: return inputs[sl->index];
    case ENGINE_SLOT_OUTPUT: return (const uint8_t *)outputs[sl->index] + sl->alias_off;
    case ENGINE_SLOT_ARENA: return arena + sl->offset;
    default: return NULL;
    }
}

static inline void *engine_slot_out(const engine_slot *sl, void *const *outputs, uint8_t *arena) {
    switch (sl->kind) {
    case ENGINE_SLOT_OUTPUT: return (uint8_t *)outputs[sl->index] + sl->alias_off;
    case ENGINE_SLOT_ARENA: return arena + sl->offset;
    default: return NULL;
    }
}

/* The copies of engine_storage_copies, at the end of a run. */
static inline void engine_storage_run_copies(const engine_storage_copy *copies, int n, const void *const *inputs,
                                             void *const *outputs) {
    for (int c = 0; c < n; ++c) {
        const engine_storage_copy *cp = &copies[c];
        const void *src = cp->in_index >= 0 ? inputs[cp->in_index] : cp->cdata;
        if (cp->nbytes && src != outputs[cp->out_index]) memmove(outputs[cp->out_index], src, cp->nbytes);
    }
}

#ifdef __cplusplus
}
#endif

#endif
