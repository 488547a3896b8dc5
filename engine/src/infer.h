/* infer.h - whole-graph shape inference with constant folding. */
#ifndef ENGINE_INFER_H
#define ENGINE_INFER_H

#include "graph.h"

/* Runs each node's shape function in topological order. After a node's
 * shapes are known, a node whose inputs are all constant (and a Shape node
 * whose input shape is known) is evaluated with the reference kernels and
 * its outputs become constants: this folds the Shape -> Gather -> Concat ->
 * Reshape chains of exported models, so the runtime graph has static shapes
 * and no shape arithmetic. Folded nodes stay in the graph until
 * eng_graph_remove_dead drops them. *folded (may be NULL) counts them. */
engine_status eng_graph_infer(eng_graph *g, int *folded);

/* Internal value flag: in a staged specialisation, a value whose shape or
 * contents wait for a later stage of the run (eng_graph_infer_staged). */
#define ENG_VALUE_DEFERRED (1u << 28)

/* eng_graph_infer for a graph that may need several stages: a node whose
 * output shape depends on data (NonZero, NonMaxSuppression), whose shape
 * parameter (a Reshape shape, TopK's k, an If condition ...) is computed
 * from data, or that reads a deferred value is not inferred: its outputs
 * are flagged ENG_VALUE_DEFERRED with rank -1, and *deferred counts such
 * nodes. Everything else is inferred and folded as eng_graph_infer does. */
engine_status eng_graph_infer_staged(eng_graph *g, int *folded, int *deferred);

/* The part of eng_graph_infer that needs no input shapes: nodes whose
 * inputs are all constant are inferred and folded (a dynamic model's
 * template, at load: every specialisation then shares the results, e.g.
 * the weights torch exports behind Identity nodes). */
engine_status eng_graph_fold_constants(eng_graph *g, int *folded);

/* Evaluates node n with the reference kernels into freshly allocated
 * constant outputs (used by the folder; exposed for passes). */
engine_status eng_fold_node(eng_graph *g, engine_node *n);

/* Control flow (control.c): non-zero for an If or Loop node; node k of g
 * expanded (If: the taken branch in its place; Loop: one iteration before
 * it, or its results when done). Inference then goes on at index k. */
int eng_is_control(const engine_node *n);
/* Non-zero when control node n's condition (If), or its trip count or
 * first condition (a Loop not yet started), is not a constant. */
int eng_control_on_data(const eng_graph *g, const engine_node *n);
engine_status eng_expand_control(eng_graph *g, int k);

#endif /* ENGINE_INFER_H */
