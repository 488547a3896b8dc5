/* backends/opencl/resize.c - the resize family: Resize and Upsample on
 * f_resize (resize.cl). The per-dimension tap tables are computed here, on
 * the host, in double, by the reference's own rule (engine/resize_taps.h):
 * tap indices go into the meta buffer, tap weights into the weight buffer,
 * so the kernel only sums weighted taps. GridSample on f_gridsample (its
 * sample points come from data, so the kernel computes them). */
#include "engine/resize_taps.h"
#include "ocl_builder.h"

int ocl_supports_resize(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    switch (n->op) {
    case ENGINE_OP_Resize: case ENGINE_OP_Upsample: {
        const engine_resize_params *p = n->params;
        if (!ocl_all_f32(n, 1) || x->rank != y->rank) return 0;
        if (n->op == ENGINE_OP_Upsample && p->mode == ENGINE_RESIZE_CUBIC) return 0;
        return p->mode <= ENGINE_RESIZE_CUBIC;
    }
    case ENGINE_OP_GridSample: {
        const engine_gridsample_params *p = n->params;
        return ocl_all_f32(n, 2) && (p->spatial == 2 || p->spatial == 3) && x->rank == p->spatial + 2;
    }
    default: return 0;
    }
}

/* GridSample: f_gridsample, one work item per output element. */
static void emit_gridsample(ocl_builder *b, const engine_node *n) {
    const engine_gridsample_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    const int r = p->spatial;
    int g[5 + 3 + 1];
    g[0] = r;
    g[1] = (int)x->dims[1];
    g[2] = (int)p->mode;
    g[3] = p->padding;
    g[4] = p->align_corners;
    int64_t opos = 1;
    for (int d = 0; d < r; ++d) {
        g[5 + d] = (int)x->dims[2 + d];
        opos *= y->dims[2 + d];
    }
    g[5 + r] = (int)opos;
    int mo = ocl_meta_add(b, g, 6 + r);
    int xs = IN(0), gs = IN(1), ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, "f_gridsample", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(gs, 0), A_T(ys, 0));
}

void ocl_emit_resize(ocl_builder *b, const engine_node *n) {
    if (n->op == ENGINE_OP_GridSample) {
        emit_gridsample(b, n);
        return;
    }
    if (n->op != ENGINE_OP_Resize && n->op != ENGINE_OP_Upsample) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    engine_resize_params p = *(const engine_resize_params *)n->params;
    if (n->op == ENGINE_OP_Upsample) {
        p.coord = ENGINE_COORD_ASYMMETRIC;
        p.nearest = ENGINE_NEAREST_FLOOR;
    }
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int r = x->rank, head[1 + 5 * OCL_MAX_RANK];
    int64_t ist[ENGINE_MAX_RANK];
    c_strides(x, ist);
    head[0] = r;
    int xs = IN(0), ys = OUT(0);
    if (b->st) return;
    /* The weights go into the weight buffer as a pseudo-constant slot. */
    for (int d = 0; d < r; ++d) {
        int64_t li = x->dims[d], lo = y->dims[d];
        double scale = (double)p.scales[d];
        /* every position gets the same number of slots, the most any
         * takes (antialias varies it); unused slots weigh 0 */
        int cap = engine_resize_tap_cap(&p, scale, li);
        int nt = 1;
        int64_t *ti = cap > 0 ? ocl_xalloc(b->s, (size_t)lo * (size_t)cap * sizeof *ti + 8) : NULL;
        double *tw = cap > 0 ? ocl_xalloc(b->s, (size_t)lo * (size_t)cap * sizeof *tw + 8) : NULL;
        int *tn = cap > 0 ? ocl_xalloc(b->s, (size_t)lo * sizeof *tn + 8) : NULL;
        int *ix = NULL;
        if (cap > 0 && (!ti || !tw || !tn)) goto oom;
        for (int64_t o = 0; o < lo; ++o) {
            size_t at = (size_t)o * (size_t)cap;
            tn[o] = engine_resize_taps(&p, d, o, scale, li, lo, ti + at, tw + at, cap);
            if (tn[o] == 0) {
                ocl_xfree(b->s, ti);
                ocl_xfree(b->s, tw);
                ocl_xfree(b->s, tn);
                ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "bad scale or coordinate mode");
                return;
            }
            if (tn[o] > nt) nt = tn[o];
        }
        head[1 + d] = (int)lo;
        head[1 + r + d] = (int)ist[d];
        head[1 + 2 * r + d] = nt;
        size_t cnt = (size_t)lo * (size_t)nt;
        ix = ocl_xalloc(b->s, cnt * sizeof(int) + 4);
        if (!ix) goto oom;
        if (!ocl_grow(b, (void **)&b->wts, &b->cap_wts, b->n_wts + cnt + 64, sizeof(float))) {
            ocl_xfree(b->s, ix);
            ocl_xfree(b->s, ti);
            ocl_xfree(b->s, tw);
            ocl_xfree(b->s, tn);
            return;
        }
        b->n_wts = (b->n_wts + 31) / 32 * 32;
        head[1 + 4 * r + d] = (int)b->n_wts;
        for (int64_t o = 0; o < lo; ++o) {
            size_t at = (size_t)o * (size_t)cap;
            for (int k = 0; k < nt; ++k) {
                /* index -1 (tf_crop_and_resize outside the input) is kept:
                 * the kernel writes extrapolation_value there */
                ix[o * nt + k] = k < tn[o] ? (int)ti[at + k] : 0;
                b->wts[b->n_wts + (size_t)o * nt + k] = k < tn[o] ? (float)tw[at + k] : 0.0f;
            }
        }
        ocl_xfree(b->s, ti);
        ocl_xfree(b->s, tw);
        ocl_xfree(b->s, tn);
        b->n_wts += cnt;
        head[1 + 3 * r + d] = ocl_meta_add(b, ix, (int)cnt);
        ocl_xfree(b->s, ix);
        if (b->st) return;
        continue;
    oom:
        ocl_xfree(b->s, ti);
        ocl_xfree(b->s, tw);
        ocl_xfree(b->s, tn);
        ocl_oom(b);
        return;
    }
    int mo = ocl_meta_add(b, head, 1 + 5 * r);
    OCL_LAUNCH(b, "f_resize", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_W(), A_T(ys, 0),
               A_F(p.extrapolation_value));
}
