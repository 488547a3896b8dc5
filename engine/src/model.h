/* model.h - the engine_model and engine_session handles. */
#ifndef ENGINE_MODEL_H
#define ENGINE_MODEL_H

#include "graph.h"
#include "passes.h"
#include "weights.h"

struct engine_model {
    engine_context *ctx;
    eng_graph *graph;
    int folded;    /* nodes folded into constants at load */
    int optimized; /* passes have run */
    eng_pass_stat passes[ENG_MAX_PASS_STATS]; /* node counts around each pass */
    int n_passes;
    /* Shapes at run time (spec.c): an input has a symbolic dim, or a graph
     * input's values decide shapes (value_input[k], n_value_inputs of them).
     * graph is then the template as imported, neither inferred nor folded;
     * sessions specialise it per run signature. */
    int dynamic;
    unsigned char *value_input;
    int n_value_inputs;
    int data_dependent; /* an op's output shape depends on data: runs in stages */
    eng_weights weights; /* file-backed weights a session may release (weights.h) */
};

/* A graph specialised for one run signature, with what was done to it. */
typedef struct eng_spec_graph {
    eng_graph *graph;
    int folded;
    eng_pass_stat passes[ENG_MAX_PASS_STATS];
    int n_passes;
    int deferred; /* nodes left for later stages (eng_graph_infer_staged): graph is
                     then inferred up to them, not yet optimised */
} eng_spec_graph;

/* spec.c */
/* Non-zero when shape inference needs input k of n constant. */
int eng_param_slot(const engine_node *n, int k);
/* Sets m->dynamic, value_input and n_value_inputs from the template. */
engine_status eng_model_classify(engine_model *m);
/* Copies the template with input k bound to dims[k] (every dim >= 0) and,
 * for the value inputs, constant data copied from values[k]; then infers,
 * folds and (when the model was optimised) runs the passes. When some
 * nodes must wait for data (out->deferred > 0), out->graph is returned
 * inferred up to them and the caller cuts it into stages. */
engine_status eng_specialise(const engine_model *m, const int64_t (*dims)[ENGINE_MAX_RANK],
                             const void *const *values, eng_spec_graph *out);

#endif /* ENGINE_MODEL_H */
