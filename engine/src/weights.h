/* weights.h - releasing a model's copy of the weights that every compiled
 * program holds packed (issue 19: memory no greater than ONNX Runtime's).
 *
 * A model loaded from a file keeps, for each large initializer read
 * straight from the file (eng_onnx_load_file), where its bytes lie there
 * and a hash of them. While sessions compile, a backend reports each
 * constant node input it has packed and will never read again
 * (engine_host_services.constant_consumed); once no live specialisation
 * of any session reads a buffer any more, its whole pages are handed back
 * to the operating system (madvise MADV_DONTNEED: the address stays ours
 * and reads zeros until refilled). Before anything reads the model's
 * constants again (a new specialisation, another session, the passes) the
 * released buffers are read back from the file, checked against their
 * hashes when the file's size or modification time changed: a file changed
 * since the load is an error naming it, never wrong weights.
 *
 * Released only where that is sound: the buffer still holds exactly the
 * file's bytes (a pass that rewrote it in place keeps it), the model runs
 * in one piece (no data-dependent stages, no If/Loop bodies, whose
 * sessions borrow the model's constants without counting) and the
 * platform has madvise (Linux). Everything here is a no-op otherwise. */
#ifndef ENGINE_WEIGHTS_H
#define ENGINE_WEIGHTS_H

#include <stdint.h>

#include "graph.h"

/* Payloads under this many bytes are not recorded (a page or two). */
#define ENG_WEIGHT_MIN_BYTES ((uint64_t)64 << 10)

typedef struct eng_wrec {
    void *ptr;            /* the tensor's buffer, as the loader filled it */
    uint64_t offset, len; /* the payload in the file */
    uint64_t hash;        /* eng_hash64 of the payload */
    int pins;             /* uses by live specialisations not yet consumed */
    unsigned char dropped;  /* its pages are released: refill before reading */
    size_t released;        /* the bytes of whole pages handed back while dropped */
    unsigned char modified; /* no longer the file's bytes: never released */
    unsigned char live;     /* the model's graph holds it now (else the load or a pass freed it) */
    unsigned char verified; /* its bytes were hashed equal to the file's since the passes last ran */
} eng_wrec;

/* A model's record of its file-backed weights. */
typedef struct eng_weights {
    int fd;        /* the model file, kept open (-1: none) */
    int64_t size, mtime_s, mtime_ns; /* the file as loaded: unchanged, a read back needs no hash */
    eng_wrec *recs; /* sorted by ptr */
    size_t n;
    int enabled;
} eng_weights;

/* One specialisation's uses of recorded buffers: (node, input) pairs. */
typedef struct eng_wuse {
    const engine_node *node;
    int input; /* -1: a graph output (read by the engine at run time) */
    int rec;
    int consumed;
} eng_wuse;

typedef struct eng_wuses {
    eng_wuse *u;
    int n;
} eng_wuses;

uint64_t eng_hash64(const void *p, size_t n);

/* Sorts recs and takes them and fd (both released by eng_weights_free). */
void eng_weights_init(eng_weights *w, int fd, eng_wrec *recs, size_t n);
void eng_weights_free(engine_context *ctx, eng_weights *w);
/* Refills every released buffer from the file (checked); an error names
 * the file offset that no longer matches. */
engine_status eng_weights_resident(engine_context *ctx, eng_weights *w);
/* The passes may have rewritten buffers in place: hash before releasing. */
void eng_weights_unverify(eng_weights *w);
/* Before compiling graph g (the model's graph, or a specialisation of it,
 * model): refills, marks the records model still holds, then pins every
 * use g makes of those into *u (replacing what it held). */
engine_status eng_weights_begin(engine_context *ctx, eng_weights *w, const eng_graph *model, const eng_graph *g,
                                eng_wuses *u);
/* Around the backends' compile calls: consumed reports go to (w, u). */
void eng_weights_compiling(eng_weights *w, eng_wuses *u);
void eng_weights_compiled(void);
/* After a successful build: releases every buffer no live use pins. */
void eng_weights_settle(eng_weights *w);
/* Unpins what *u still pins and frees it (a specialisation going). */
void eng_weights_end(engine_context *ctx, eng_weights *w, eng_wuses *u);
/* The bytes handed back at present. */
size_t eng_weights_released(const eng_weights *w);
/* engine_host_services.constant_consumed */
void eng_constant_consumed(const engine_node *node, int input);

#endif /* ENGINE_WEIGHTS_H */
