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

/* Helpers control.c shares with sequence.c. A fresh value named
 * "prefix/name" (made unique); nodes appended from index `from` moved to
 * position `at`; a node `op`(in...) -> out appended, with an optional INT
 * or INTS (one element) attribute; a constant scalar's value (bool, u8,
 * i32, i64; f32 as 0/1), non-zero when v is one. */
engine_status eng_ctl_fresh_value(eng_graph *g, const char *prefix, const char *name, engine_value **out);
void eng_ctl_move_appended(eng_graph *g, int from, int at);
engine_status eng_ctl_add_simple(eng_graph *g, const char *prefix, const char *op, engine_value *const *in, int n_in,
                                 engine_value *out, const char *attr, int64_t attr_value, int attr_is_list);
int eng_ctl_const_scalar(const engine_value *v, int64_t *out);

/* Tensor sequences (sequence.c), resolved during inference like control
 * flow: a sequence value is a list of graph values kept beside the graph
 * (flag ENG_VALUE_SEQUENCE, no shape of its own). SequenceEmpty,
 * SequenceConstruct, SequenceInsert, SequenceErase and Identity of a
 * sequence build lists and go; SequenceLength becomes a constant;
 * SequenceAt an Identity of the element; ConcatFromSequence Unsqueeze and
 * Concat nodes; SplitToSequence a Split (and Squeeze) node. Positions and
 * split sizes must be constants by then, as shape parameters are. No
 * sequence reaches a backend: a sequence model output, or a sequence read
 * by a part of the graph that waits for run-time data, is an error. */
#define ENG_VALUE_SEQUENCE (1u << 27)
/* Non-zero for a sequence op, or an Identity of a sequence. */
int eng_is_sequence_node(const engine_node *n);
/* Resolves node k of g as above; inference goes on at index k. */
engine_status eng_expand_sequence(eng_graph *g, int k);
/* Forgets g's sequence lists (at the end of inference). */
void eng_sequences_clear(eng_graph *g);

#endif /* ENGINE_INFER_H */
