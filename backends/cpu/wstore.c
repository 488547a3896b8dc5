/* wstore.c - the packed-weight store of a cpu backend instance
 * (cpu_internal.h, cpu_prep_shared). */
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cpu_internal.h"

/* Asks Linux for transparent huge pages on the whole 2 MiB pages inside a
 * packed block, before it is first written (THP in "madvise" mode, as
 * Debian ships it): at batch 1 a run streams every weight once, and with
 * 4 KiB pages a large model's weights miss the TLB once per page (VGG-16,
 * 2 threads: 83.2-85.1 -> 81.6-83.8 ms). Only a hint: an allocator whose
 * memory cannot take it makes madvise fail, which changes nothing. */
static void hint_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t H = (uintptr_t)2 << 20, a = ((uintptr_t)p + H - 1) & ~(H - 1), e = ((uintptr_t)p + bytes) & ~(H - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

/* Entries are reference counted by the steps that use them and freed with
 * the last one. A key's source pointers stay valid while an entry exists:
 * the entry is held by a live program, whose partition's constants the
 * engine keeps alive and unchanged (the model outlives its sessions, a
 * specialised graph outlives its programs). A short list: a model has a
 * few hundred weights at most. */
typedef struct cpu_wentry {
    cpu_wkey key;
    void *data;
    size_t bytes;
    int refs;
    struct cpu_wentry *next;
} cpu_wentry;

struct cpu_wstore {
    const engine_allocator *a;
    cpu_wentry *head;
};

engine_status cpu_prep_shared(const cpu_prep_ctx *c, cpu_step *s, const cpu_wkey *key, size_t bytes,
                              void (*pack)(const void *pack_ctx, void *dst), const void *pack_ctx) {
    cpu_wstore *w = c->store;
    if (w)
        for (cpu_wentry *e = w->head; e; e = e->next)
            if (e->bytes == bytes && memcmp(&e->key, key, sizeof *key) == 0) {
                e->refs++;
                s->prep = e->data;
                s->prep_bytes = bytes;
                s->prep_shared = 1;
                return ENGINE_OK;
            }
    void *data = c->a->alloc(c->a->user, bytes ? bytes : 1, 64);
    if (!data) return ENGINE_ERR_OUT_OF_MEMORY;
    hint_huge(data, bytes);
    pack(pack_ctx, data);
    if (c->fresh_bytes) *c->fresh_bytes += bytes;
    s->prep = data;
    s->prep_bytes = bytes;
    if (!w) return ENGINE_OK; /* owned by the step */
    cpu_wentry *e = c->a->alloc(c->a->user, sizeof *e, _Alignof(cpu_wentry));
    if (!e) {
        c->a->free(c->a->user, data);
        s->prep = NULL;
        s->prep_bytes = 0;
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    e->key = *key;
    e->data = data;
    e->bytes = bytes;
    e->refs = 1;
    e->next = w->head;
    w->head = e;
    s->prep_shared = 1;
    return ENGINE_OK;
}

void cpu_wstore_unref(cpu_wstore *w, void *data) {
    for (cpu_wentry **pe = &w->head; *pe; pe = &(*pe)->next) {
        cpu_wentry *e = *pe;
        if (e->data != data) continue;
        if (--e->refs == 0) {
            *pe = e->next;
            w->a->free(w->a->user, e->data);
            w->a->free(w->a->user, e);
        }
        return;
    }
}

cpu_wstore *cpu_wstore_new(const engine_allocator *a) {
    cpu_wstore *w = a->alloc(a->user, sizeof *w, _Alignof(cpu_wstore));
    if (!w) return NULL;
    w->a = a;
    w->head = NULL;
    return w;
}

void cpu_wstore_free(cpu_wstore *w) {
    if (!w) return;
    /* Every program has been released by now: normally nothing is left. */
    while (w->head) {
        cpu_wentry *e = w->head;
        w->head = e->next;
        w->a->free(w->a->user, e->data);
        w->a->free(w->a->user, e);
    }
    w->a->free(w->a->user, w);
}
