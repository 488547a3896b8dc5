/* backends/opencl/resize.c - the resize family: Resize and Upsample on
 * f_resize (resize.cl). The per-dimension tap tables are computed here, on
 * the host, in double, by the reference's own rule (engine/resize_taps.h):
 * tap indices go into the meta buffer, tap weights into the weight buffer,
 * so the kernel only sums weighted taps. */
#include "engine/resize_taps.h"
#include "ocl_builder.h"

int ocl_supports_resize(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    switch (n->op) {
    case ENGINE_OP_Resize: case ENGINE_OP_Upsample: {
        const engine_resize_params *p = n->params;
        if (!ocl_all_f32(n, 1) || p->coord == ENGINE_COORD_TF_CROP_AND_RESIZE || x->rank != y->rank) return 0;
        if (n->op == ENGINE_OP_Upsample && p->mode == ENGINE_RESIZE_CUBIC) return 0;
        return p->mode <= ENGINE_RESIZE_CUBIC;
    }
    default: return 0;
    }
}

void ocl_emit_resize(ocl_builder *b, const engine_node *n) {
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
        int nt = 1;
        int64_t li = x->dims[d], lo = y->dims[d];
        double scale = (double)p.scales[d];
        int identity = scale == 1.0 && li == lo;
        if (!identity) nt = p.mode == ENGINE_RESIZE_NEAREST ? 1 : p.mode == ENGINE_RESIZE_LINEAR ? 2 : 4;
        head[1 + d] = (int)lo;
        head[1 + r + d] = (int)ist[d];
        head[1 + 2 * r + d] = nt;
        size_t cnt = (size_t)lo * (size_t)nt;
        int *ix = ocl_xalloc(b->s, cnt * sizeof(int) + 4);
        if (!ix) {
            ocl_oom(b);
            return;
        }
        if (!ocl_grow(b, (void **)&b->wts, &b->cap_wts, b->n_wts + cnt + 64, sizeof(float))) {
            ocl_xfree(b->s, ix);
            return;
        }
        b->n_wts = (b->n_wts + 31) / 32 * 32;
        head[1 + 4 * r + d] = (int)b->n_wts;
        for (int64_t o = 0; o < lo; ++o) {
            int64_t ti[4] = {o, 0, 0, 0};
            double tw[4] = {1.0, 0, 0, 0};
            if (!identity && engine_resize_taps(&p, o, scale, li, lo, ti, tw) != nt) {
                ocl_xfree(b->s, ix);
                ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "bad scale or coordinate mode");
                return;
            }
            for (int k = 0; k < nt; ++k) {
                ix[o * nt + k] = (int)ti[k];
                b->wts[b->n_wts + (size_t)o * nt + k] = (float)tw[k];
            }
        }
        b->n_wts += cnt;
        head[1 + 3 * r + d] = ocl_meta_add(b, ix, (int)cnt);
        ocl_xfree(b->s, ix);
        if (b->st) return;
    }
    int mo = ocl_meta_add(b, head, 1 + 5 * r);
    OCL_LAUNCH(b, "f_resize", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_W(), A_T(ys, 0));
}
