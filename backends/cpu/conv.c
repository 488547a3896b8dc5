/* conv.c - the convolution algorithm table and the per-node choice.
 *
 * At compile time each Conv node is described as a cpu_conv2d; every
 * algorithm of cpu_conv_algos[] that applies on the selected ISA gives a
 * cost estimate and the cheapest wins (ties: the earlier entry). The
 * chosen kernel's name (dtype, op, tile, ISA) is kept on the step: the
 * module logs it at debug level and ENGINE_CPU_VERBOSE=1 prints it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"

/* The algorithms, one per line (the specialised kernels add theirs). */
const cpu_conv_algo *const cpu_conv_algos[] = {
    &cpu_conv_gemm,
    &cpu_conv_depthwise, &cpu_conv_depthwise_c16, &cpu_conv_winograd, &cpu_conv_gemv, &cpu_conv_direct,
    NULL,
};

static int fits_int(int64_t v) {
    return v >= 0 && v <= INT32_MAX / 4;
}

int cpu_conv_node_takes(const engine_node *n) {
    const engine_conv_params *p = n->params;
    if (!p || n->n_inputs < 2 || n->n_outputs < 1) return 0;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const engine_value *b = engine_node_input(n, 2);
    if (!x || !w || !y || !w->data || (b && !b->data)) return 0;
    if (x->dtype != ENGINE_DTYPE_F32 || w->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return 0;
    if (b && (b->dtype != ENGINE_DTYPE_F32 || b->rank != 1)) return 0;
    if (x->rank != 3 && x->rank != 4) return 0;
    if (w->rank != x->rank || y->rank != x->rank || p->spatial != x->rank - 2) return 0;
    if (p->epilogue.sum) {
        const engine_value *s = engine_node_input(n, 3);
        if (!s || s->dtype != ENGINE_DTYPE_F32 || s->rank != y->rank) return 0;
        for (int i = 0; i < y->rank; ++i)
            if (s->dims[i] != y->dims[i]) return 0;
    }
    return 1;
}

/* Fills d from a Conv node; 0 when the node is not one this backend's
 * algorithms take (not float32, 3-D, weights not constant, ...). */
static int describe_conv(const engine_node *n, const cpu_kernels *k, int threads, cpu_conv2d *d) {
    if (!cpu_conv_node_takes(n)) return 0;
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const engine_value *b = engine_node_input(n, 2);
    if (b && b->dims[0] != w->dims[0]) return 0;
    for (int i = 0; i < x->rank; ++i)
        if (!fits_int(x->dims[i]) || !fits_int(w->dims[i]) || !fits_int(y->dims[i])) return 0;
    int two = x->rank == 4;
    memset(d, 0, sizeof *d);
    d->C = (int)x->dims[1];
    d->H = two ? (int)x->dims[2] : 1;
    d->W = (int)x->dims[x->rank - 1];
    d->M = (int)w->dims[0];
    d->OH = two ? (int)y->dims[2] : 1;
    d->OW = (int)y->dims[y->rank - 1];
    d->KH = two ? (int)w->dims[2] : 1;
    d->KW = (int)w->dims[w->rank - 1];
    int last = p->spatial - 1;
    d->SH = two ? (int)p->stride[0] : 1;
    d->SW = (int)p->stride[last];
    d->DH = two ? (int)p->dilation[0] : 1;
    d->DW = (int)p->dilation[last];
    d->PT = two ? (int)p->pad_begin[0] : 0;
    d->PB = two ? (int)p->pad_end[0] : 0;
    d->PL = (int)p->pad_begin[last];
    d->PR = (int)p->pad_end[last];
    d->group = (int)p->group;
    d->epi = p->epilogue;
    d->threads = threads > 0 ? threads : 1;
    d->exact = p->exact_rounding != 0;
    d->bf16 = k->bf16;
    if (d->group < 1 || d->C % d->group || d->M % d->group || (int64_t)d->C / d->group != w->dims[1]) return 0;
    if (y->dims[1] != d->M || d->SH < 1 || d->SW < 1 || d->DH < 1 || d->DW < 1) return 0;
    if (d->PT < 0 || d->PL < 0 || d->PB < 0 || d->PR < 0) return 0;
    /* Cg*KH*KW and OH*OW index floats with int inside the kernels. */
    if ((int64_t)d->C / d->group * d->KH * d->KW > INT32_MAX / 64 || (int64_t)d->OH * d->OW > INT32_MAX / 64)
        return 0;
    return 1;
}

/* The applicable algorithm with the lowest estimate (ties: the earlier). */
static const cpu_conv_algo *choose_algo(const cpu_conv2d *d, cpu_isa isa) {
    /* --precision bf16: every conv the bf16 GEMM takes runs there */
    if (cpu_conv_bf16.applies(d, isa)) return &cpu_conv_bf16;
    const cpu_conv_algo *best = NULL;
    double best_ns = 0.0;
    for (int i = 0; cpu_conv_algos[i]; ++i) {
        const cpu_conv_algo *a = cpu_conv_algos[i];
        if (!a->applies(d, isa)) continue;
        double ns = a->estimate_ns(d, isa);
        if (!best || ns < best_ns) {
            best = a;
            best_ns = ns;
        }
    }
    return best;
}

int cpu_conv_takes_input_scale(const engine_node *n, const cpu_kernels *k, int threads) {
    cpu_conv2d d;
    if (n->op != ENGINE_OP_Conv || !describe_conv(n, k, threads, &d)) return 0;
    const cpu_conv_algo *a = choose_algo(&d, k->isa);
    return a && a->run_scaled;
}

int cpu_conv_fusable_pw(const engine_node *n, const cpu_kernels *k, int threads) {
    cpu_conv2d d;
    if (n->op != ENGINE_OP_Conv || !describe_conv(n, k, threads, &d)) return 0;
    if (d.KH != 1 || d.KW != 1 || d.SH != 1 || d.SW != 1 || d.PT || d.PL || d.PB || d.PR || d.group != 1 ||
        d.epi.sum || d.OH != d.H || d.OW != d.W)
        return 0;
    return choose_algo(&d, k->isa) == &cpu_conv_gemm;
}

/* The fused pair runs the row kernel on each block of the 1x1's output
 * while it is in cache; it is offered where that kernel applies, whether
 * or not it would win alone: with AVX2, c16 is the faster one alone on
 * MobileNet v2's 144-channel stride-2 layer at 56x56 (0.13 against 0.19
 * ms), but the pair fused took 0.61 ms and unfused 0.90 (the 1.8 MB
 * between them written and read back). */
int cpu_conv_fusable_dw(const engine_node *n, const cpu_kernels *k, int threads) {
    cpu_conv2d d;
    if (n->op != ENGINE_OP_Conv || !describe_conv(n, k, threads, &d) || cpu_conv_bf16.applies(&d, k->isa)) return 0;
    return cpu_conv_depthwise.applies(&d, k->isa);
}

/* xsc = xb with channel c scaled by xs[c], one blocked image (the padding
 * lanes stay zero: they are 0 * 0). */
typedef struct blk_scale_ctx {
    int vl, C;
    size_t HW;
    const float *xb, *xs;
    float *xsc;
} blk_scale_ctx;

/* One block's pixels times its lanes' scales, with the width a constant so
 * that the loop is vector code (a runtime width left it scalar). */
#define BLK_SCALE_ROWS(VL)                                                                                    \
    static void blk_scale_rows##VL(const float *restrict src, const float *restrict sc, float *restrict dst,  \
                                   size_t HW) {                                                               \
        for (size_t p = 0; p < HW; ++p) {                                                                     \
            _Pragma("omp simd") for (int l = 0; l < (VL); ++l) dst[p * (VL) + (size_t)l] =                    \
                src[p * (VL) + (size_t)l] * sc[l];                                                            \
        }                                                                                                     \
    }
BLK_SCALE_ROWS(16)
BLK_SCALE_ROWS(8)
#undef BLK_SCALE_ROWS

static void blk_scale_task(void *vc, int tid, int64_t cb0_, int64_t cb1_) {
    const int cb0 = (int)cb0_, cb1 = (int)cb1_;
    (void)tid;
    const blk_scale_ctx *c = vc;
    const int vl = c->vl;
    const size_t HW = c->HW;
    for (int cb = cb0; cb < cb1; ++cb) {
        float sc[16];
        for (int l = 0; l < vl; ++l) sc[l] = cb * vl + l < c->C ? c->xs[cb * vl + l] : 0.0f;
        const float *src = c->xb + (size_t)cb * HW * (size_t)vl;
        float *dst = c->xsc + (size_t)cb * HW * (size_t)vl;
        if (vl == 16)
            blk_scale_rows16(src, sc, dst, HW);
        else if (vl == 8)
            blk_scale_rows8(src, sc, dst, HW);
        else
            for (size_t p = 0; p < HW; ++p)
                for (int l = 0; l < vl; ++l) dst[p * (size_t)vl + (size_t)l] = src[p * (size_t)vl + (size_t)l] * sc[l];
    }
}

static void blk_scale_image(int vl, int C, size_t HW, const float *xb, const float *xs, float *xsc, int threads) {
    const int CB = (C + vl - 1) / vl;
    const int par = threads > 1 && (size_t)CB * HW * (size_t)vl > 32768;
    blk_scale_ctx c = {vl, C, HW, xb, xs, xsc};
    cpu_parallel_for(par ? threads : 1, CB, 0, blk_scale_task, &c);
}

/* One image b of a conv step, with d's threads, scratch and, for a
 * blocked conv with a fused scale, the scaled image at scale_off in it. */
typedef struct conv_img_ctx {
    const cpu_step *s;
    const float *xp, *sum, *xs;
    float *y;
    size_t in_img, out_img;
    void *scratch;
} conv_img_ctx;

static void conv_image(const conv_img_ctx *c, const cpu_conv2d *d, int64_t b, void *scratch, size_t scale_off) {
    const cpu_step *s = c->s;
    const float *xb = c->xp + (size_t)b * c->in_img, *sb = c->sum ? c->sum + (size_t)b * c->out_img : NULL;
    float *yb = c->y + (size_t)b * c->out_img;
    const float *xs = c->xs ? c->xs + (s->in_scale > 1 ? (size_t)b * (size_t)d->C : 0) : NULL;
    if (xs && s->blk_vl) { /* blocked: the scaled image in the scratch after the algorithm's own */
        float *xsc = (float *)((char *)scratch + scale_off);
        blk_scale_image(s->blk_vl, d->C, (size_t)d->H * (size_t)d->W, xb, xs, xsc, d->threads);
        s->algo->run(d, s->k->isa, s->prep, xsc, sb, yb, scratch);
    } else if (xs) {
        s->algo->run_scaled(d, s->k->isa, s->prep, xb, xs, sb, yb, scratch);
    } else {
        s->algo->run(d, s->k->isa, s->prep, xb, sb, yb, scratch);
    }
}

/* Images over the threads: each image on one thread with its own slice of
 * scratch (conv_batch_scratch). The kernels' own loops, started inside,
 * run on that thread. */
static void conv_image_task(void *vc, int tid, int64_t b0, int64_t b1) {
    const conv_img_ctx *c = vc;
    cpu_conv2d d1 = c->s->conv;
    d1.threads = 1;
    void *slice = (char *)c->scratch + (size_t)tid * c->s->img_scratch;
    for (int64_t b = b0; b < b1; ++b) conv_image(c, &d1, b, slice, c->s->img_scale_off);
}

static engine_status conv_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const cpu_conv2d *d = &s->conv;
    const int64_t N = s->node->inputs[0]->dims[0];
    /* a fused channel scale: after the node's own inputs, [N or 1, C] */
    conv_img_ctx c = {s, in[0], d->epi.sum ? in[3] : NULL, s->in_scale ? in[s->node->n_inputs] : NULL, out[0],
                      (size_t)d->C * (size_t)d->H * (size_t)d->W, (size_t)d->M * (size_t)d->OH * (size_t)d->OW,
                      scratch};
    if (s->blk_vl) { /* the blocked layout: images of whole channel blocks (the input NCHW for blkout) */
        if (s->blk_in_mask & 1u) c.in_img = cpu_blk_image_floats(s->blk_vl, d->C, (size_t)d->H * (size_t)d->W);
        c.out_img = cpu_blk_image_floats(s->blk_vl, d->M, (size_t)d->OH * (size_t)d->OW);
    }
    /* weights that outweigh an image: the batch at once, each pair of
     * output blocks over every image (cpu_conv_direct_blk_run_n) */
    if (s->blk_batch && N >= 2) {
        cpu_conv_direct_blk_run_n(s->k->isa, d, s->prep, c.xp, c.sum, c.y, scratch, (int)N);
        return ENGINE_OK;
    }
    if (s->img_scratch && N >= 2) {
        cpu_parallel_for(d->threads, N, 1, conv_image_task, &c);
        return ENGINE_OK;
    }
    for (int64_t b = 0; b < N; ++b) conv_image(&c, d, b, scratch, s->blk_scale_off);
    return ENGINE_OK;
}

/* A batch of at least as many images as threads, in whole rounds (or
 * enough rounds that the last uneven one matters little), runs one image
 * per thread: every kernel's loop then runs on one thread with no fork or
 * join, where splitting each image over the threads scaled poorly on the
 * small maps (MobileNet v2 at batch 8, 1 -> 2 threads: 1.33x, ONNX
 * Runtime 1.83x; see docs/PERFORMANCE.md). Sizes the per-thread slices of
 * scratch; img_scratch stays 0 otherwise. */
int cpu_images_over_threads(int64_t N, int threads) {
    return threads >= 2 && N >= threads && (N % threads == 0 || N >= 4 * (int64_t)threads);
}

static void conv_batch_scratch(cpu_step *s, cpu_isa isa) {
    const cpu_conv2d *d = &s->conv;
    const int64_t N = s->node->inputs[0]->dims[0];
    s->img_scratch = 0;
    s->img_scale_off = 0;
    if (!cpu_images_over_threads(N, d->threads)) return;
    cpu_conv2d d1 = *d;
    d1.threads = 1;
    size_t one = s->algo->scratch_size(&d1, isa);
    if (s->in_scale && s->blk_vl) {
        s->img_scale_off = (one + 63) / 64 * 64;
        one = s->img_scale_off + cpu_blk_image_floats(s->blk_vl, d->C, (size_t)d->H * (size_t)d->W) * sizeof(float);
    }
    s->img_scratch = (one + 63) / 64 * 64;
    if (s->img_scratch == 0) s->img_scratch = 64;
    const size_t need = s->img_scratch * (size_t)d->threads;
    if (need > s->scratch_bytes) s->scratch_bytes = need;
}

/* Packing a conv's weights through the instance's store (cpu_prep_shared). */
typedef struct conv_pack_ctx {
    const cpu_conv_algo *algo;
    const cpu_conv2d *d;
    cpu_isa isa;
    const float *w, *bias;
} conv_pack_ctx;

static void conv_pack(const void *vctx, void *dst) {
    const conv_pack_ctx *p = vctx;
    p->algo->pack(p->d, p->isa, p->w, p->bias, dst);
}

/* The packed layout of every algorithm depends on the channels, kernel,
 * groups and ISA (and the thread count, kept for safety), never on the
 * spatial size: one packing serves every input shape. */
static engine_status conv_prep(const cpu_prep_ctx *c, cpu_step *s, const cpu_conv_algo *a) {
    const engine_node *n = s->node;
    const cpu_conv2d *d = &s->conv;
    const engine_value *b = engine_node_input(n, 2);
    conv_pack_ctx pc = {a, d, c->k->isa, n->inputs[1]->data, b ? b->data : NULL};
    cpu_wkey key;
    memset(&key, 0, sizeof key);
    key.src[0] = pc.w;
    key.src[1] = pc.bias;
    key.layout = a;
    int dims[10] = {d->C, d->M, d->KH, d->KW, d->group, (int)c->k->isa, d->threads, 0, 0, 0};
    memcpy(key.dims, dims, sizeof dims);
    return cpu_prep_shared(c, s, &key, a->packed_size(d, c->k->isa), conv_pack, &pc);
}

engine_status cpu_prepare_conv(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    if (n->op == ENGINE_OP_ConvTranspose) return cpu_prepare_convtranspose(c, s);
    if (n->op != ENGINE_OP_Conv || !describe_conv(n, c->k, c->threads, &s->conv)) return ENGINE_ERR_UNSUPPORTED;
    const cpu_conv_algo *best = s->dw_row ? &cpu_conv_depthwise : choose_algo(&s->conv, c->k->isa);
    if (!best || !best->applies(&s->conv, c->k->isa)) return ENGINE_ERR_UNSUPPORTED;
    if (s->in_scale && !best->run_scaled) return ENGINE_ERR_INTERNAL; /* cpu_conv_takes_input_scale said yes */
    engine_status st = conv_prep(c, s, best);
    if (st) return st;
    s->algo = best;
    s->scratch_bytes = best->scratch_size(&s->conv, c->k->isa);
    s->exec = conv_exec; /* reads X, the residual and the scale: never W or B */
    s->weights_packed = 1u << 1 | 1u << 2; /* W and B */
    conv_batch_scratch(s, c->k->isa);
    const cpu_conv2d *d = &s->conv;
    if (best == &cpu_conv_bf16) {
        int pw = d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && !d->PT && !d->PL && !d->PB && !d->PR;
        snprintf(s->kernel, sizeof s->kernel, "bf16_conv%s_gemm%s_32x32__%s", pw ? "1x1" : "_im2col",
                 s->in_scale ? "_xscale" : "", cpu_bf16_ops_for(d->bf16)->name);
    } else if (best == &cpu_conv_gemm) {
        int pw = d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && !d->PT && !d->PL && !d->PB && !d->PR;
        snprintf(s->kernel, sizeof s->kernel, "f32_conv%s_gemm%s_%dx%d__%s", pw ? "1x1" : "_im2col",
                 s->in_scale ? "_xscale" : "", c->k->mr, c->k->nr, c->k->isa_name);
    } else {
        snprintf(s->kernel, sizeof s->kernel, "%s__%s", best->name, c->k->isa_name);
    }
    return ENGINE_OK;
}

/* ---- the blocked algorithms (cpu_blocked.h) ---- */

/* The blocked algorithm for d on isa: depthwise or direct; NULL: none. */
static const cpu_conv_algo *blocked_algo(const cpu_conv2d *d, cpu_isa isa) {
    if (!cpu_blk_vl(isa)) return NULL;
    if (cpu_conv_bf16_blk.applies(d, isa)) return &cpu_conv_bf16_blk;
    if (cpu_conv_dw_blk.applies(d, isa)) return &cpu_conv_dw_blk;
    if (cpu_conv_direct_blkout.applies(d, isa)) return &cpu_conv_direct_blkout; /* reads NCHW */
    if (cpu_conv_direct_blk.applies(d, isa)) return &cpu_conv_direct_blk;
    return NULL;
}

unsigned cpu_conv_blocked_mask(const engine_node *n, const cpu_kernels *k, int threads) {
    cpu_conv2d d;
    double a, b;
    if (!cpu_conv_blocked_costs(n, k, threads, &a, &b) || !describe_conv(n, k, threads, &d)) return 0;
    const unsigned sum = ((const engine_conv_params *)n->params)->epilogue.sum ? 1u << 3 : 0u;
    return (blocked_algo(&d, k->isa) == &cpu_conv_direct_blkout ? CPU_BLK_PLAIN_IN : 1u) | sum;
}

int cpu_conv_blocked_pw_dw(const engine_node *pw, const engine_node *dw, const cpu_kernels *k, int threads) {
    cpu_conv2d a, d;
    if (pw->op != ENGINE_OP_Conv || dw->op != ENGINE_OP_Conv || !describe_conv(pw, k, threads, &a) ||
        !describe_conv(dw, k, threads, &d))
        return 0;
    return blocked_algo(&a, k->isa) == &cpu_conv_direct_blk && blocked_algo(&d, k->isa) == &cpu_conv_dw_blk &&
           cpu_pw_dw_blk_applies(&a, &d, k->isa);
}

/* ns per byte of weights read from memory (one core, ~16 GB/s). */
#define CPU_WEIGHT_NS_PER_BYTE (1.0 / 16.0)

static int conv_blocked_costs_t(const engine_node *n, const cpu_kernels *k, int threads, double *nchw_ns,
                                double *blk_ns) {
    cpu_conv2d d;
    if (n->op != ENGINE_OP_Conv || !describe_conv(n, k, threads, &d)) return 0;
    const cpu_conv_algo *b = blocked_algo(&d, k->isa), *a = choose_algo(&d, k->isa);
    if (!b || !a) return 0;
    if (b == &cpu_conv_bf16_blk || a == &cpu_conv_bf16) {
        /* bf16: the blocked implicit GEMM against the NCHW one, on one
         * scale (the stems' 3 channels would be padded to 16 blocked) */
        if (b != &cpu_conv_bf16_blk || a != &cpu_conv_bf16) return 0;
        *blk_ns = b->estimate_ns(&d, k->isa);
        *nchw_ns = cpu_conv_bf16_nchw_ns(&d);
        return 1;
    }
    /* The blocked estimates are calibrated in ns (one image, caches warm);
     * the GEMM's and Winograd's are about twice their measured times
     * (tests/cpu/bench_cpu_conv, 2 threads, AVX-512: GEMM 0.48-0.55 of
     * its estimate on 3x3 C64 56x56 .. C512 7x7, 1x1 C96->576 14x14 and
     * 3x3 s2 C128->256 28x28; Winograd 0.47-0.58 at 56x56 .. 14x14, 0.18
     * at 7x7), which is fine for choosing among themselves (one scale)
     * but not against a kernel with honest ns: they are put on that scale
     * here. The depthwise and gemv estimates are near their times. */
    *blk_ns = b->estimate_ns(&d, k->isa);
    if (a == &cpu_conv_winograd && d.OH * d.OW <= 64 &&
        36.0 * (double)((d.C / d.group + 15) / 16 * 16) * (double)((d.M + 31) / 32 * 32) * 4.0 >= (double)(1 << 20)) {
        /* Memory: on maps of 64 outputs or fewer Winograd saves at most a
         * tenth of the blocked kernel's time (0.85-0.94 of it, below), and
         * its U is 4x the filters, which the model then holds as packed
         * weights: from 1 MiB of U the blocked kernel takes these.
         * GoogLeNet at one thread, inception5a/5b's 3x3 C160 -> 320 and
         * C192 -> 384 at 7x7: 18 MB of U against 4.5 MB of filters;
         * blocked there, the model 0-2% slower and its peak RSS 81 -> 68
         * MB (AVX2, AMD EPYC). */
        *nchw_ns = 4.0 * *blk_ns;
        return 1;
    }
    if (a == &cpu_conv_winograd) {
        /* Winograd's estimate is further off at 7x7 (its weight-streaming
         * term dominates there: 7.5 ms estimated, 1.0 measured on C512),
         * so it is put against the blocked kernel by the ratio of their
         * measured times (same probe, 2 threads): 0.44-0.63 on maps of
         * 14x14 and more (C32 28x28 .. C512 28x28, C64 112x112), 0.85-0.94
         * on 7x7 (C256, C512). */
        *nchw_ns = *blk_ns * (d.OH * d.OW > 64 ? 0.6 : 0.9);
        /* At batch 1 a model's weights come from memory each run, and U
         * (36 positions) is 4x the 3x3 filters the blocked kernel reads:
         * the difference at the bandwidth of one core (~16 GB/s here)
         * DenseNet's 3x3 C128 -> 32 convs at 7x7: Winograd 0.029 ms with
         * U in cache (bench_cpu_conv), 0.078 in the model; blocked 0.020. */
        const double cpad = (double)((d.C / d.group + 15) / 16 * 16), mpad = (double)((d.M + 31) / 32 * 32);
        const double u_bytes = 36.0 * cpad * mpad * 4.0, w_bytes = 9.0 * (double)(d.C / d.group) * d.M * 4.0;
        /* (the estimates are per image; a batch reads the weights once) */
        const double batch = n->inputs[0]->dims[0] > 1 ? (double)n->inputs[0]->dims[0] : 1.0;
        /* from 1 MiB of U the Winograd GEMMs prefetch it (conv_winograd_tmpl.h),
         * which hides most of that: a quarter (ResNet-50's C256 14x14 convs
         * stay Winograd, 2-3% faster than blocked in the model at 2 threads) */
        const double hidden = u_bytes >= (double)(1 << 20) ? 0.25 : 1.0;
        *nchw_ns += (u_bytes - w_bytes) * CPU_WEIGHT_NS_PER_BYTE * hidden / batch;
        return 1;
    }
    /* The depthwise kernels' estimates run low: measured 1.0-3.0x (row
     * kernel, 112x112 .. 28x28) and 1.1-1.8x (c16) of them with AVX-512.
     * With AVX2 both estimates carry their own fit to measured times
     * (conv_depthwise.c: AMD EPYC, Zen 1, MobileNet v2/v3 and
     * EfficientNet-B0 layers), as does the blocked depthwise kernel
     * (0.7-1.4x of its estimate on 28x28 and larger maps, 1.3x at 14x14,
     * 1.3-2.2x at 7x7 out, as c16 there): no scale. */
    const int dw = a == &cpu_conv_depthwise || a == &cpu_conv_depthwise_c16;
    const double dw_scale = k->isa == CPU_ISA_AVX2 ? 1.0 : 1.5;
    /* The GEMM with AVX2 (AMD EPYC, bench_cpu_conv, one thread): 0.54-0.69
     * of its estimate on 1x1 C96->576 14x14 .. C512->256 28x28, 0.65 on
     * the mean, against AVX-512's 0.5. */
    const double gemm_scale = k->isa == CPU_ISA_AVX2 ? 0.65 : 0.5;
    *nchw_ns = a->estimate_ns(&d, k->isa) * (a == &cpu_conv_gemm ? gemm_scale : dw ? dw_scale : 1.0);
    /* The GEMM's estimate counts FMAs only; the blocked one adds streaming
     * the input and output once (~25 bytes/ns), which decides the convs
     * with few channels on large maps, and so must this side: MobileNet
     * v3's 1x1 16 -> 16 at 112x112 estimated 0.10 ms at two threads on
     * NCHW, measured 0.20 (blocked: 0.13 estimated, 0.10 measured). */
    if (a == &cpu_conv_gemm)
        *nchw_ns += ((double)d.C * d.H * d.W + (double)d.M * d.OH * d.OW) * sizeof(float) / 25.0;
    return 1;
}

int cpu_conv_blocked_costs(const engine_node *n, const cpu_kernels *k, int threads, double *nchw_ns, double *blk_ns) {
    /* A batch that runs one image per thread (conv_batch_scratch) is
     * estimated so: one thread's time over the threads. With the image's
     * own threads, kernels that split an image poorly (a stem of 3
     * channels, a 1x1 conv of one block) would be judged by a split that
     * never runs. */
    const int per_image = cpu_images_over_threads(n->inputs[0]->rank > 0 ? n->inputs[0]->dims[0] : 1, threads);
    if (!conv_blocked_costs_t(n, k, per_image ? 1 : threads, nchw_ns, blk_ns)) return 0;
    if (per_image) *nchw_ns /= threads, *blk_ns /= threads;
    return 1;
}

engine_status cpu_prepare_conv_blocked(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    if (n->op != ENGINE_OP_Conv || s->pre || !describe_conv(n, c->k, c->threads, &s->conv)) return ENGINE_ERR_UNSUPPORTED;
    const cpu_conv_algo *a = blocked_algo(&s->conv, c->k->isa);
    if (!a) return ENGINE_ERR_UNSUPPORTED;
    engine_status st = conv_prep(c, s, a);
    if (st) return st;
    s->algo = a;
    s->scratch_bytes = a->scratch_size(&s->conv, c->k->isa);
    s->weights_packed = 1u << 1 | 1u << 2; /* W and B: conv_exec below */
    s->blk_vl = cpu_blk_vl(c->k->isa);
    if (s->in_scale) { /* a fused SE Mul: X is scaled into scratch, then the kernel runs on it */
        s->blk_scale_off = (s->scratch_bytes + 63) / 64 * 64;
        s->scratch_bytes = s->blk_scale_off + cpu_blk_image_floats(s->blk_vl, s->conv.C,
                                                                   (size_t)s->conv.H * (size_t)s->conv.W) * sizeof(float);
    }
    s->exec = conv_exec;
    conv_batch_scratch(s, c->k->isa);
    s->blk_in_mask = (a == &cpu_conv_direct_blkout ? 0u : 1u) | (s->conv.epi.sum ? 1u << 3 : 0u);
    if (s->in_scale && !(s->blk_in_mask & 1u)) return ENGINE_ERR_INTERNAL; /* the module keeps these NCHW */
    /* a batch with the weights read once (conv_exec) */
    s->blk_batch = a == &cpu_conv_direct_blk && !s->in_scale &&
                   cpu_conv_direct_blk_batched(&s->conv, c->k->isa, n->inputs[0]->dims[0]);
    snprintf(s->kernel, sizeof s->kernel, "%s%s%s__%s", a->name, s->in_scale ? "_xscale" : "", s->blk_batch ? "_batch" : "",
             a == &cpu_conv_bf16_blk ? cpu_bf16_ops_for(s->conv.bf16)->name : c->k->isa_name);
    return ENGINE_OK;
}

/* A per-channel affine (a 1x1 depthwise conv: a BatchNormalization the
 * passes turned into one, with its activation) on a plain NCHW input:
 * act(x * w + b) straight into the blocked output, where the conversion
 * to blocked and the kernel were two passes over the input (DenseNet's
 * norm1 reads its NCHW concat: 11% of DenseNet-121 at one thread). The
 * packed weights are the blocked depthwise kernel's: [CB][VL] weights,
 * then [CB * VL] biases. */
static engine_status affine_nchw_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    (void)scratch;
    const cpu_conv2d *d = &s->conv;
    const int64_t N = s->node->inputs[0]->dims[0];
    const size_t HW = (size_t)d->H * (size_t)d->W, blk = cpu_blk_image_floats(s->blk_vl, d->C, HW);
    const float *w = s->prep, *b = w + (size_t)(d->C + s->blk_vl - 1) / (size_t)s->blk_vl * (size_t)s->blk_vl;
    for (int64_t n = 0; n < N; ++n)
        cpu_blk_from_nchw_affine(s->k, d->C, HW, (const float *)in[0] + (size_t)n * (size_t)d->C * HW,
                                 (float *)out[0] + (size_t)n * blk, w, b, &d->epi, d->threads);
    return ENGINE_OK;
}

int cpu_conv_blocked_plain_input(cpu_step *s) {
    const cpu_conv2d *d = &s->conv;
    if (s->algo != &cpu_conv_dw_blk || s->in_scale || s->pre || d->epi.sum || d->group != d->C || d->M != d->C ||
        d->KH != 1 || d->KW != 1 || d->SH != 1 || d->SW != 1 || d->PT || d->PL || d->PB || d->PR ||
        d->OH != d->H || d->OW != d->W)
        return 0;
    s->exec = affine_nchw_exec;
    s->blk_in_mask &= ~1u;
    s->img_scratch = 0;
    snprintf(s->kernel, sizeof s->kernel, "f32_affine_nchw_to_nchw%dc__%s", s->blk_vl, s->k->isa_name);
    return 1;
}
