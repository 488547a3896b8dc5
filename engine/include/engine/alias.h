/*
 * alias.h - resolving storage aliases (engine_value.alias_of, the contract
 * in ir.h) inside one partition, for backend modules.
 *
 * Header-only and free of libengine symbols, so every module can compile
 * it in (a module must load whatever the host exports).
 *
 * A backend that honours aliases stores a value v at its chain's root +
 * the summed offset only when v, every link after it and the root are all
 * written by nodes of the partition and none of them but the root is a
 * partition output; otherwise v keeps its own storage. The chain is
 * honoured wholly or not at all, which is what keeps the pass's safety
 * check (made with chains fully resolved) valid for every partitioning.
 */
#ifndef ENGINE_ALIAS_H
#define ENGINE_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/backend.h"
#include "engine/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the resolver asks about the partition. */
typedef struct engine_alias_query {
    /* Non-zero when v is written by a node of this partition (an
     * activation the partition computes, not a constant or an input). */
    int (*written_here)(void *user, const engine_value *v);
    /* Non-zero when v is a partition output (read outside it). */
    int (*is_output)(void *user, const engine_value *v);
    void *user;
} engine_alias_query;

/* The query for a whole partition as backend.h hands it over: a value is
 * written here when a node of the partition produces it (constants never
 * are), an output when it is in part->outputs. Modules with more storage
 * rules of their own add them around engine_alias_resolve. */
static inline int engine_alias_partition_writes(void *user, const engine_value *v) {
    const engine_partition *part = (const engine_partition *)user;
    if (v->data || !v->producer) return 0;
    for (int k = 0; k < part->n_nodes; ++k)
        if (part->nodes[k] == v->producer) return 1;
    return 0;
}

static inline int engine_alias_partition_output(void *user, const engine_value *v) {
    const engine_partition *part = (const engine_partition *)user;
    for (int k = 0; k < part->n_outputs; ++k)
        if (part->outputs[k] == v) return 1;
    return 0;
}

static inline engine_alias_query engine_alias_partition_query(const engine_partition *part) {
    engine_alias_query q = {engine_alias_partition_writes, engine_alias_partition_output, (void *)part};
    return q;
}

/* Bytes of v without libengine (0 for an unknown dtype or a bad shape). */
static inline size_t engine_alias_nbytes(const engine_value *v) {
    size_t elem = 0;
    switch (v->dtype) {
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_BOOL: elem = 1; break;
    case ENGINE_DTYPE_F16: elem = 2; break;
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_I32: elem = 4; break;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: elem = 8; break;
    default: return 0;
    }
    if (v->rank < 0 || v->rank > ENGINE_MAX_RANK) return 0;
    size_t total = elem;
    for (int d = 0; d < v->rank; ++d) {
        if (v->dims[d] < 0) return 0;
        if (v->dims[d] != 0 && total > SIZE_MAX / 4 / (size_t)v->dims[d]) return 0;
        total *= (size_t)v->dims[d];
    }
    return total;
}

/* The value whose storage holds v in this partition, with v's byte offset
 * in it (*offset); v itself and 0 when v is not aliased or its chain is
 * not honoured here. Links that do not fit inside their target (a
 * malformed graph) end the chain unhonoured; so does a chain longer than
 * any graph could make (a cycle). */
static inline const engine_value *engine_alias_resolve(const engine_value *v, const engine_alias_query *q,
                                                       size_t *offset) {
    *offset = 0;
    if (!v || !v->alias_of) return v;
    size_t off = 0;
    const engine_value *at = v;
    for (int depth = 0; at->alias_of; ++depth) {
        const engine_value *to = at->alias_of;
        size_t size = engine_alias_nbytes(at), room = engine_alias_nbytes(to);
        if (depth > (1 << 20) || !q->written_here(q->user, at) || q->is_output(q->user, at) || size == 0 ||
            at->alias_offset > room || size > room - at->alias_offset)
            return v;
        off += at->alias_offset;
        at = to;
    }
    if (!q->written_here(q->user, at)) return v;
    *offset = off;
    return at;
}

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_ALIAS_H */
