/*
 * passes.h - graph rewrites run by engine_model_optimize (docs/PASSES.md).
 *
 * A pass reads and rewrites the IR and nothing else. It runs on a graph
 * that is sorted and shape-inferred (every value has a static shape, every
 * built-in node its params), and leaves it so: rewired nodes keep their
 * topological order, new constants get shapes. Values and nodes a pass
 * orphans are left for eng_graph_remove_dead. *changed (never NULL) is set
 * to the number of rewrites the pass made.
 */
#ifndef ENGINE_PASSES_H
#define ENGINE_PASSES_H

#include "graph.h"

/* Before/after node counts of one pass, for the model dump. */
typedef struct eng_pass_stat {
    const char *name; /* static string */
    int before, after;
} eng_pass_stat;

#define ENG_MAX_PASS_STATS 8

/* Drops nodes that copy their input: Identity, inference Dropout (mask
 * unused), Reshape/Flatten/Squeeze/Unsqueeze to the same shape, Cast to the
 * same dtype, Pad with all-zero pads (passes/noop.c). */
engine_status eng_pass_noop(eng_graph *g, int *changed);

/* Folds a BatchNormalization into the Conv, ConvTranspose or Gemm that
 * alone feeds it, when their weights are constant (passes/fold_batchnorm.c). */
engine_status eng_pass_fold_batchnorm(eng_graph *g, int *changed);

/* Runs every default pass in order, then eng_graph_remove_dead, recording
 * the node counts of each step in stats (up to max entries; *n_stats
 * entries written). */
engine_status eng_passes_run(eng_graph *g, eng_pass_stat *stats, int max, int *n_stats);

#endif /* ENGINE_PASSES_H */
