/* passes.c - the default pass pipeline and its node counts. */
#include "passes.h"

typedef engine_status (*pass_fn)(eng_graph *g, int *changed);

static const struct {
    const char *name;
    pass_fn fn;
} default_passes[] = {
    /* Order matters: BN folding needs the no-ops gone; branch merging needs
     * every BN folded or turned into a conv, and must run before residual
     * fusion (which would take the Add of two branches as a sum); the
     * activation goes last so that Conv -> Add -> Relu becomes one node with
     * the Relu after the sum. */
    {"noop", eng_pass_noop},
    {"fold_pad", eng_pass_fold_pad},
    {"fold_batchnorm", eng_pass_fold_batchnorm},
    {"fold_bn_next", eng_pass_fold_bn_next},
    {"batchnorm_to_conv", eng_pass_batchnorm_to_conv},
    {"merge_branches", eng_pass_merge_branches},
    {"fuse_residual", eng_pass_fuse_residual},
    {"fuse_matmul_bias", eng_pass_fuse_matmul_bias},
    /* after it: the layer scale is folded into the Gemm it makes */
    {"fold_layer_scale", eng_pass_fold_layer_scale},
    /* before the activation fusion, which takes the Gelu it makes */
    {"fuse_gelu", eng_pass_fuse_gelu},
    {"fuse_activation", eng_pass_fuse_activation},
    {"fuse_flatten_gemm", eng_pass_fuse_flatten_gemm},
    {"fuse_layernorm", eng_pass_fuse_layernorm},
    /* After the fusions: a Conv then feeds its QuantizeLinear directly. */
    {"mark_exact_rounding", eng_pass_mark_exact_rounding},
    /* Last: it only marks storage, and every rewrite before it may rewire
     * or remove a Concat's inputs. */
    {"concat_alias", eng_pass_concat_alias},
};

engine_status eng_passes_run(eng_graph *g, eng_pass_stat *stats, int max, int *n_stats) {
    int n = 0;
    int count = (int)(sizeof default_passes / sizeof default_passes[0]);
    for (int k = 0; k < count; ++k) {
        int before = g->n_nodes, changed = 0;
        engine_status st = default_passes[k].fn(g, &changed);
        if (st) {
            *n_stats = n;
            return st;
        }
        if (n < max) stats[n++] = (eng_pass_stat){default_passes[k].name, before, g->n_nodes, changed};
    }
    int before = g->n_nodes;
    int removed = eng_graph_remove_dead(g);
    if (n < max) stats[n++] = (eng_pass_stat){"remove_dead", before, g->n_nodes, removed};
    *n_stats = n;
    return ENGINE_OK;
}
