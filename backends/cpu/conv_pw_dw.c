/* conv_pw_dw.c - a 1x1 expansion conv and the depthwise conv it feeds, run
 * as one kernel (MobileNet v2/v3, EfficientNet: pw-expand -> dw).
 *
 * Run separately, the expansion writes a tensor t times wider than its
 * input (96 x 112 x 112 floats, 4.8 MB, in MobileNet v2's second block)
 * and the depthwise conv reads it straight back. Fused, t never exists
 * whole: the threads first pack the input into the GEMM's B panels once
 * (they are shared), then take blocks of MR expanded channels; for each
 * block a thread runs the micro-kernel over every B panel into its own
 * MR x H*W buffer (the expansion's bias and activation applied in the
 * store), and the depthwise row kernel consumes those MR planes while they
 * are still in L2 (cpu_dwconv_planes), writing the depthwise output with
 * its own epilogue (bias, residual, activation).
 *
 * The module (module.c, find_pw_dw_fusions) fuses a pair when the 1x1 conv
 * would run on the packed GEMM (pointwise, one group, no residual, no
 * fused input scale), its output is read only as the X of one depthwise
 * conv that would run on the row kernel (cpu_conv_depthwise: large maps),
 * and that output is at least PW_DW_MIN_BYTES per image; smaller ones
 * stay in L2 anyway. */
#include <stdio.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"

static size_t round16(size_t n) {
    return (n + 15) / 16 * 16;
}

typedef struct pw_dw_geom {
    int K, M, HW, NP, MB;
    size_t bp_floats;    /* the packed B panels: NP x K x NR */
    size_t blk_floats;   /* one thread's MR expanded planes */
    size_t plane_floats; /* one thread's depthwise plane */
} pw_dw_geom;

static void geom_init(const cpu_kernels *k, const cpu_conv2d *a, const cpu_conv2d *d, pw_dw_geom *g) {
    g->K = a->C;
    g->M = a->M;
    g->HW = a->H * a->W;
    g->NP = (g->HW + k->nr - 1) / k->nr;
    g->MB = (g->M + k->mr - 1) / k->mr;
    g->bp_floats = round16((size_t)g->NP * (size_t)g->K * (size_t)k->nr);
    g->blk_floats = round16((size_t)k->mr * (size_t)g->HW);
    g->plane_floats = round16(cpu_dwconv_plane_floats(d));
}

static int run_threads(const cpu_step *s) {
    return s->threads < 1 ? 1 : s->threads;
}

typedef struct pw_dw_ctx {
    const cpu_step *s;
    const cpu_conv2d *a, *d;
    const cpu_kernels *k;
    const pw_dw_geom *g;
    const float *A, *abias, *x, *sum;
    float *Bp, *per_thread, *y;
} pw_dw_ctx;

/* Phase 1: B panels [j0, j1) of the image, shared by every thread. */
static void pack_task(void *vc, int tid, int64_t j0_, int64_t j1_) {
    const int j0 = (int)j0_, j1 = (int)j1_;
    (void)tid;
    const pw_dw_ctx *c = vc;
    const int NR = c->k->nr, K = c->g->K, HW = c->g->HW;
    for (int j = j0; j < j1; ++j) {
        const int n0 = j * NR, nr = HW - n0 < NR ? HW - n0 : NR;
        float *panel = c->Bp + (size_t)j * (size_t)K * (size_t)NR;
        for (int kk = 0; kk < K; ++kk, panel += NR) {
            memcpy(panel, c->x + (size_t)kk * (size_t)HW + n0, (size_t)nr * sizeof(float));
            if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
        }
    }
}

/* Phase 2: blocks of MR expanded channels, each expanded into the thread's
 * buffer and consumed there by the depthwise row kernel. */
static void block_task(void *vc, int tid, int64_t mb0_, int64_t mb1_) {
    const int mb0 = (int)mb0_, mb1 = (int)mb1_;
    const pw_dw_ctx *c = vc;
    const cpu_kernels *k = c->k;
    const pw_dw_geom *g = c->g;
    const int MR = k->mr, NR = k->nr, K = g->K, M = g->M, HW = g->HW, NP = g->NP;
    float *blk = c->per_thread + (size_t)tid * (g->blk_floats + g->plane_floats), *plane = blk + g->blk_floats;
    for (int mb = mb0; mb < mb1; ++mb) {
        const int m0 = mb * MR, mr = M - m0 < MR ? M - m0 : MR;
        const float *ap = c->A + (size_t)mb * (size_t)MR * (size_t)K;
        for (int j = 0; j < NP; ++j) {
            const int n0 = j * NR, nr = HW - n0 < NR ? HW - n0 : NR;
            k->gemm(K, ap, c->Bp + (size_t)j * (size_t)K * (size_t)NR, blk + n0, (size_t)HW, mr, nr, c->abias + m0,
                    NULL, 0, &c->a->epi);
        }
        cpu_dwconv_planes(k->isa, c->d, c->s->prep, m0, mr, blk, (size_t)HW, c->sum, c->y, plane);
    }
}

static engine_status pw_dw_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const cpu_step *pw = s->pre;
    const cpu_conv2d *a = &pw->conv, *d = &s->conv;
    const cpu_kernels *k = s->k;
    pw_dw_geom g;
    geom_init(k, a, d, &g);
    const int K = g.K, M = g.M, HW = g.HW;
    const float *A = pw->prep, *abias = A + cpu_gemm_packed_a_floats(k, M, K);
    float *Bp = scratch, *per_thread = Bp + g.bp_floats;
    const size_t out_img = (size_t)M * (size_t)d->OH * (size_t)d->OW, in_img = (size_t)K * (size_t)HW;
    const int64_t batch = s->node->inputs[0]->dims[0];
    for (int64_t b = 0; b < batch; ++b) {
        pw_dw_ctx c = {s, a, d, k, &g, A, abias, (const float *)in[0] + (size_t)b * in_img,
                       d->epi.sum ? (const float *)in[3] + (size_t)b * out_img : NULL, Bp, per_thread,
                       (float *)out[0] + (size_t)b * out_img};
        cpu_parallel_for(run_threads(s), g.NP, 0, pack_task, &c);
        cpu_parallel_for(run_threads(s), g.MB, 1, block_task, &c);
    }
    return ENGINE_OK;
}

/* ---- the blocked layout (cpu_pw_dw_blk_run, conv_blocked_tmpl.h) ----
 * Both convs run blocked: in[0] (the 1x1's input) and y (and the
 * depthwise conv's residual) are blocked images. A batch of at least as
 * many images as threads runs one image per thread, as conv.c does. */
typedef struct pw_dw_blk_ctx {
    const cpu_step *s;
    const float *x, *sum;
    float *y;
    size_t in_img, out_img, slice;
    void *scratch;
} pw_dw_blk_ctx;

static void pw_dw_blk_image(const pw_dw_blk_ctx *c, const cpu_conv2d *d, int64_t b, void *scratch) {
    const cpu_step *s = c->s;
    cpu_pw_dw_blk_run(s->k->isa, &s->pre->conv, s->pre->prep, d, s->prep, c->x + (size_t)b * c->in_img,
                      c->sum ? c->sum + (size_t)b * c->out_img : NULL, c->y + (size_t)b * c->out_img, scratch);
}

static void pw_dw_blk_image_task(void *vc, int tid, int64_t b0, int64_t b1) {
    const pw_dw_blk_ctx *c = vc;
    cpu_conv2d d1 = c->s->conv;
    d1.threads = 1;
    for (int64_t b = b0; b < b1; ++b) pw_dw_blk_image(c, &d1, b, (char *)c->scratch + (size_t)tid * c->slice);
}

static engine_status pw_dw_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const cpu_conv2d *a = &s->pre->conv, *d = &s->conv;
    const int vl = s->blk_vl, t = run_threads(s);
    const int64_t N = s->node->inputs[0]->dims[0];
    pw_dw_blk_ctx c = {s, in[0], d->epi.sum ? in[3] : NULL, out[0],
                       cpu_blk_image_floats(vl, a->C, (size_t)a->H * (size_t)a->W),
                       cpu_blk_image_floats(vl, d->M, (size_t)d->OH * (size_t)d->OW),
                       cpu_pw_dw_blk_scratch_size(d, s->k->isa) / (size_t)t, scratch};
    if (cpu_images_over_threads(N, t)) {
        cpu_parallel_for(t, N, 1, pw_dw_blk_image_task, &c);
        return ENGINE_OK;
    }
    for (int64_t b = 0; b < N; ++b) pw_dw_blk_image(&c, d, b, scratch);
    return ENGINE_OK;
}

engine_status cpu_fuse_pw_dw(cpu_step *dw, const cpu_step *pw) {
    if (dw->algo == &cpu_conv_dw_blk && pw->algo == &cpu_conv_direct_blk) {
        if (!pw->prep || !dw->prep || !dw->blk_vl || pw->blk_vl != dw->blk_vl ||
            !cpu_pw_dw_blk_applies(&pw->conv, &dw->conv, dw->k->isa))
            return ENGINE_ERR_INTERNAL;
        dw->pre = pw;
        dw->exec = pw_dw_blk_exec;
        dw->img_scratch = 0;
        dw->scratch_bytes = cpu_pw_dw_blk_scratch_size(&dw->conv, dw->k->isa);
        snprintf(dw->kernel, sizeof dw->kernel, "f32_conv1x1_blk_dwconv_fused__%s", dw->k->isa_name);
        return ENGINE_OK;
    }
    if (dw->algo != &cpu_conv_depthwise || pw->algo != &cpu_conv_gemm || !pw->prep || !dw->prep)
        return ENGINE_ERR_INTERNAL;
    pw_dw_geom g;
    geom_init(dw->k, &pw->conv, &dw->conv, &g);
    dw->pre = pw;
    dw->exec = pw_dw_exec;
    dw->scratch_bytes = (g.bp_floats + (size_t)run_threads(dw) * (g.blk_floats + g.plane_floats)) * sizeof(float);
    snprintf(dw->kernel, sizeof dw->kernel, "f32_conv1x1_gemm_%dx%d_dwconv_fused__%s", dw->k->mr, dw->k->nr,
             dw->k->isa_name);
    return ENGINE_OK;
}
