/*
 * graph.h - the IR container: owns values, nodes, attributes and constant
 * data; name lookup; validation and topological ordering.
 *
 * Ownership: everything reachable from a graph (names, attribute arrays,
 * constant data, node params) is allocated with the graph's context
 * allocator and freed by eng_graph_free. Constant data set with
 * eng_value_set_data is owned by the graph from then on.
 */
#ifndef ENGINE_GRAPH_H
#define ENGINE_GRAPH_H

#include "internal.h"

typedef struct eng_name_map eng_name_map;

/* An output's type as the model file declares it: rank -1 when not
 * declared, a dim -1 when symbolic or unknown. */
typedef struct eng_decl {
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
} eng_decl;

typedef struct eng_graph {
    engine_context *ctx;
    engine_value **values; /* every value, constants included */
    int n_values, cap_values;
    engine_node **nodes;   /* topological order once eng_graph_sort succeeded */
    int n_nodes, cap_nodes;
    engine_value **inputs; /* non-initializer graph inputs, in model order */
    int n_inputs;
    engine_value **outputs; /* graph outputs, in model order */
    int n_outputs;
    int opset;             /* opset of the default ONNX domain */
    char *name;
    eng_name_map *map;     /* value name -> value */
    int unnamed_counter;
    /* Symbolic dims of the graph inputs as the file names them:
     * input_syms[k * ENGINE_MAX_RANK + axis] is the dim_param of input k at
     * that axis ("" for an unnamed free dim), NULL where the dim is fixed.
     * Such dims are -1 in the input's dims. NULL when every dim is fixed. */
    char **input_syms;
    /* Control flow (engine/src/control.c). subs: the bodies of this graph's
     * If and Loop nodes (borrowed: they live in `bodies` of the graph that
     * imported them, or of the template a clone was made from). bodies:
     * the subgraphs this graph owns, freed with it. outer: in a body, the
     * values it reads from an enclosing scope (flag ENG_VALUE_OUTER), in
     * the order of the node's implicit inputs. */
    struct eng_subgraph *subs;
    int n_subs, cap_subs;
    struct eng_graph **bodies;
    int n_bodies;
    engine_value **outer;
    int n_outer;
    /* The file's declared output types, one per output (onnx.c; NULL when
     * not imported from a file). */
    eng_decl *out_decl;
    /* Tensor sequences being resolved by inference (sequence.c); empty
     * outside it. */
    struct eng_seq *seqs;
    int n_seqs, cap_seqs;
} eng_graph;

/* One body of an If (branch 0: then, 1: else) or Loop (branch 0) node.
 * The node's inputs are its n_explicit ONNX inputs, then the body's outer
 * values in the body's `outer` order (implicit inputs: so sorting, liveness
 * and dependencies see them). Loop expansion keeps its progress here. */
typedef struct eng_subgraph {
    engine_node *node;
    int branch;
    int n_explicit;
    struct eng_graph *body;
    /* Loop unrolling state (control.c). */
    int started;
    int64_t iter, remaining;
    engine_value **scans; /* per iteration, per scan output */
    int n_scans, cap_scans;
} eng_subgraph;

/* Registers a body of node n (the graph does not own it). */
engine_status eng_graph_add_sub(eng_graph *g, engine_node *n, int branch, int n_explicit, struct eng_graph *body);
/* The body `branch` of n, or NULL. */
eng_subgraph *eng_graph_find_sub(const eng_graph *g, const engine_node *n, int branch);
/* Makes g own body (freed with g). On failure body is freed. */
engine_status eng_graph_own_body(eng_graph *g, struct eng_graph *body);

/* Internal value flag: a body's reference to a value of an enclosing scope. */
#define ENG_VALUE_OUTER (1u << 29)

/* Internal value flag: `data` belongs to another graph (a clone shares the
 * template's constants, eng_graph_clone); never freed through this one. */
#define ENG_VALUE_BORROWED (1u << 30)

engine_status eng_graph_create(engine_context *ctx, eng_graph **out);
void eng_graph_free(eng_graph *g);

/* A copy of src (values, nodes, attributes, input and output lists) for
 * specialising at other input shapes. Constant data is shared, not copied
 * (ENG_VALUE_BORROWED): src must outlive the copy. Node params and plugin
 * resolution are copied as pointers only when src has none (a template is
 * not inferred); input_syms is not copied. */
engine_status eng_graph_clone(const eng_graph *src, eng_graph **out);

/* Looks a value up by name; NULL if absent. */
engine_value *eng_graph_find(const eng_graph *g, const char *name);
/* Adds a new value with this name (rank -1, dtype undefined). Fails with
 * ENGINE_ERR_INVALID_MODEL if the name exists. name may be NULL or "" for a
 * fresh unique name. */
engine_status eng_graph_add_value(eng_graph *g, const char *name, engine_value **out);
/* The value with this name, created if absent. */
engine_status eng_graph_get_value(eng_graph *g, const char *name, engine_value **out);
/* Sets dtype and shape. rank <= ENGINE_MAX_RANK. */
engine_status eng_value_set_shape(eng_graph *g, engine_value *v, engine_dtype dtype, int rank, const int64_t *dims);
/* Makes v constant with `data` (which must have been allocated with the
 * graph's context allocator; ownership moves to the graph). */
void eng_value_set_data(eng_graph *g, engine_value *v, void *data);

/* Appends a node with n_inputs/n_outputs slots (all NULL). The op enum is
 * looked up from (domain, op_type). name may be NULL/"": one is made up. */
engine_status eng_graph_add_node(eng_graph *g, const char *name, const char *op_type, const char *domain,
                                 int n_inputs, int n_outputs, engine_node **out);
/* Sets input/output slot k (value may be NULL for an omitted optional one).
 * Setting an output makes the node the value's producer. */
void eng_node_set_input(engine_node *n, int k, engine_value *v);
engine_status eng_node_set_output(eng_graph *g, engine_node *n, int k, engine_value *v);
/* Appends an attribute (zeroed but for name and type) and returns it for
 * the caller to fill with eng_alloc'd arrays. */
engine_status eng_node_add_attr(eng_graph *g, engine_node *n, const char *name, engine_attr_type type,
                                engine_attr **out);
/* Allocates zeroed node params of `size` bytes (freed with the graph). */
void *eng_node_params(eng_graph *g, engine_node *n, size_t size);

/* Removes node n from the graph (its outputs lose their producer). */
void eng_graph_remove_node(eng_graph *g, engine_node *n);
/* Removes nodes whose outputs nobody uses (transitively) and values that
 * are neither used nor graph inputs/outputs. Returns the number removed. */
int eng_graph_remove_dead(eng_graph *g);

/* Checks structure and sorts nodes topologically (stable for graphs that
 * are already ordered): every input has a producer, is a graph input or is
 * constant; no value has two producers; no cycles. Errors name the node. */
engine_status eng_graph_sort(eng_graph *g);

/* Number of nodes that read value v (counting graph outputs as one use). */
int eng_graph_use_count(const eng_graph *g, const engine_value *v);

#endif /* ENGINE_GRAPH_H */
