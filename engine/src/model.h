/* model.h - the engine_model and engine_session handles. */
#ifndef ENGINE_MODEL_H
#define ENGINE_MODEL_H

#include "graph.h"
#include "passes.h"

struct engine_model {
    engine_context *ctx;
    eng_graph *graph;
    int folded;    /* nodes folded into constants at load */
    int optimized; /* passes have run */
    eng_pass_stat passes[ENG_MAX_PASS_STATS]; /* node counts around each pass */
    int n_passes;
};

#endif /* ENGINE_MODEL_H */
