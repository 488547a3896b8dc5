/*
 * conv_bf16_blk.c - the bf16 convolution on the blocked layout (NCHW16c,
 * AVX-512 machines with AVX512_BF16 or AMX-BF16; --precision bf16): any
 * group-1 conv as one implicit GEMM per image,
 *     Y[pixel][m] = sum_k A[pixel][k] * B[k][m],
 *     k = (tap, 16-channel block, lane),
 * with the output pixels as rows and the output channels as columns, so
 * that a row of the result is one pixel's 16 channels of a block: the
 * NCHW16c output is stored straight from the tiles, and a row of A is the
 * 16 channels of the input pixel under a tap, contiguous in NCHW16c.
 *
 * B (the weights) is packed once as bf16 panels of 32 channels
 * (cpu_bf16_b_index), with the bias as floats padded to the panels. A is
 * gathered and rounded per run, 16 pixels (a strip) at a time
 * (pack_a_conv_blk of the level's kernels): a unit of work is a block of
 * 32-pixel pairs of strips and a range of panels; each pair is gathered
 * once and multiplied by every panel of the range (the weights stay in L2).
 * With too few pixel blocks for the threads, the panels are split too.
 * The 32 x 32 float blocks go through store_blk: bias, the blocked
 * residual, the activation and zero padding lanes.
 */
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"

/* Pairs of strips (32 pixels) per unit of work. */
#define PAIRS_PER_UNIT 2

static int units_of(const cpu_conv2d *d) {
    return d->KH * d->KW * ((d->C + 15) / 16);
}

static int nkb_of(const cpu_conv2d *d) {
    return (units_of(d) + 1) / 2;
}

static int mp_of(const cpu_conv2d *d) {
    return (d->M + 31) / 32 * 32;
}

static int bf16_blk_applies(const cpu_conv2d *d, cpu_isa isa) {
    return isa == CPU_ISA_AVX512 && d->bf16 && !d->exact && cpu_bf16_ops_for(d->bf16) && d->group == 1 &&
           d->C > 1 && (int64_t)d->OH * d->OW >= CPU_BF16_MIN_PIXELS && d->M >= 1 && d->OH >= 1 && d->OW >= 1 && d->H >= 1 && d->W >= 1 && d->KH >= 1 &&
           d->KW >= 1 && d->SH >= 1 && d->SW >= 1 && d->DH >= 1 && d->DW >= 1;
}

/* MACs of the padded tiles at a rough bf16 rate (per ns and thread): the
 * same scale as cpu_conv_bf16_nchw_ns, for choosing the layout. */
static double rate(const cpu_conv2d *d) {
    return d->bf16 == CPU_BF16_AMX ? 200.0 : 20.0;
}

static double bf16_blk_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    const double pix = (double)(((size_t)d->OH * (size_t)d->OW + 31) / 32 * 32);
    return pix * mp_of(d) * (double)nkb_of(d) * 32.0 / rate(d) / (d->threads > 0 ? d->threads : 1);
}

double cpu_conv_bf16_nchw_ns(const cpu_conv2d *d) {
    const double pix = (double)(((size_t)d->OH * (size_t)d->OW + 31) / 32 * 32);
    const int K = d->C / d->group * d->KH * d->KW, Mg = d->M / d->group;
    const int pw = d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && !d->PT && !d->PL && !d->PB && !d->PR;
    /* the float32 gather (im2col) or the straight read of a 1x1 conv */
    return pix * (double)((Mg + 31) / 32 * 32) * (double)((K + 31) / 32 * 32) * d->group / rate(d) *
           (pw ? 1.1 : 1.3) / (d->threads > 0 ? d->threads : 1);
}

static size_t weights_bytes(const cpu_conv2d *d) {
    return cpu_bf16_packed_b_elems(nkb_of(d) * 32, d->M) * sizeof(uint16_t);
}

static size_t bf16_blk_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return weights_bytes(d) + (size_t)mp_of(d) * sizeof(float);
}

static void bf16_blk_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    (void)isa;
    const int nkb = nkb_of(d), CB = (d->C + 15) / 16, KHW = d->KH * d->KW;
    uint16_t *b = packed;
    memset(b, 0, weights_bytes(d));
    for (int m = 0; m < d->M; ++m)
        for (int c = 0; c < d->C; ++c)
            for (int t = 0; t < KHW; ++t) {
                const int k = (t * CB + c / 16) * 16 + c % 16;
                b[cpu_bf16_b_index(nkb, k, m)] = cpu_bf16_round(w[((size_t)m * (size_t)d->C + (size_t)c) * (size_t)KHW + (size_t)t]);
            }
    float *bs = (float *)((char *)packed + weights_bytes(d));
    for (int m = 0; m < mp_of(d); ++m) bs[m] = bias && m < d->M ? bias[m] : 0.0f;
}

static size_t thread_bytes(const cpu_conv2d *d) {
    return 2u * (size_t)nkb_of(d) * 1024u + 32u * 32u * sizeof(float);
}

static size_t bf16_blk_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return thread_bytes(d) * (size_t)(d->threads > 0 ? d->threads : 1);
}

typedef struct blk_ctx {
    const cpu_conv2d *d;
    const cpu_bf16_ops *ops;
    const cpu_kernels *k;
    const uint16_t *B;
    const float *bias, *x, *sum;
    float *y;
    int npix, npairs, npan, msplit, nkb;
    char *scratch;
    size_t slice;
} blk_ctx;

static void blk_task(void *vc, int tid, int64_t u0, int64_t u1) {
    const blk_ctx *c = vc;
    const cpu_bf16_ops *ops = c->ops;
    const size_t strip = (size_t)c->nkb * 512u; /* elements */
    uint16_t *a0 = (uint16_t *)(c->scratch + (size_t)tid * c->slice), *a1 = a0 + strip;
    float *ct = (float *)(a1 + strip);
    const size_t OHW = (size_t)c->npix;
    if (ops->begin) ops->begin();
    for (int64_t u = u0; u < u1; ++u) {
        const int blk = (int)(u / c->msplit), ms = (int)(u % c->msplit);
        const int q0 = blk * PAIRS_PER_UNIT, q1 = q0 + PAIRS_PER_UNIT < c->npairs ? q0 + PAIRS_PER_UNIT : c->npairs;
        const int p0 = (int)((int64_t)ms * c->npan / c->msplit), p1 = (int)((int64_t)(ms + 1) * c->npan / c->msplit);
        for (int q = q0; q < q1; ++q) {
            const int n0 = q * 32, rows = c->npix - n0 < 32 ? c->npix - n0 : 32;
            ops->pack_a_conv_blk(c->d, c->x, n0, rows < 16 ? rows : 16, a0);
            ops->pack_a_conv_blk(c->d, c->x, n0 + 16, rows > 16 ? rows - 16 : 0, a1);
            for (int p = p0; p < p1; ++p) {
                ops->block(c->nkb, a0, a1, c->B + (size_t)p * (size_t)c->nkb * 1024u, ct);
                ops->store_blk(ct, c->y, OHW, n0, rows, p * 32, c->d->M, c->bias, c->sum, &c->d->epi, c->k->act_row);
            }
        }
    }
    if (ops->end) ops->end();
}

static void bf16_blk_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                         float *y, void *scratch) {
    blk_ctx c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.ops = cpu_bf16_ops_for(d->bf16);
    c.k = cpu_kernels_for(isa);
    c.B = packed;
    c.bias = (const float *)((const char *)packed + weights_bytes(d));
    c.x = x;
    c.sum = sum;
    c.y = y;
    c.npix = d->OH * d->OW;
    c.npairs = (c.npix + 31) / 32;
    c.npan = mp_of(d) / 32;
    c.nkb = nkb_of(d);
    c.scratch = scratch;
    c.slice = thread_bytes(d);
    const int threads = d->threads > 0 ? d->threads : 1;
    const int nblk = (c.npairs + PAIRS_PER_UNIT - 1) / PAIRS_PER_UNIT;
    c.msplit = 1;
    if (threads > 1 && nblk < 2 * threads) {
        const int want = (2 * threads + nblk - 1) / nblk;
        c.msplit = want < c.npan ? want : c.npan;
    }
    cpu_parallel_for(threads, (int64_t)nblk * c.msplit, 1, blk_task, &c);
}

const cpu_conv_algo cpu_conv_bf16_blk = {
    .name = "bf16_conv_blk_32x32",
    .applies = bf16_blk_applies,
    .estimate_ns = bf16_blk_estimate_ns,
    .packed_size = bf16_blk_packed_size,
    .pack = bf16_blk_pack,
    .scratch_size = bf16_blk_scratch_size,
    .run = bf16_blk_run,
    .run_scaled = NULL,
};
