/*
 * conv_blocked_tmpl.h - the blocked-layout convolution kernels (cpu_blocked.h),
 * written once over conv_special_vec.h and compiled per ISA. Include after
 * conv_special_vec.h (CSV_AVX512 or CSV_AVX2) with BLK_SUFFIX defined; it
 * defines cpu_conv_direct_blk_run__<suffix> and cpu_conv_dw_blk_run__<suffix>
 * (declared in conv_blocked.c). One channel block is one vector: VL == VW.
 *
 * Direct (f32_conv_blk_<NB>x<P>__<isa>): per output row and pair of output
 * channel blocks, the row is cut into a left border, an interior (every kw
 * tap of every pixel in bounds) and a right border. Interior tiles hold
 * NB x P accumulators (NB = 2 blocks, or 1 for an odd last block; P pixels,
 * P <= BLK_PMAX, a compile-time constant at each of the switch's call
 * sites); for each input block, kh (clamped to the rows in bounds for this
 * output row), kw and input channel ci, the NB weight vectors are loaded
 * once and x[ci] of each pixel is broadcast into 2*P FMAs. A row with
 * border columns first copies its valid input rows, zero-padded to the
 * columns its taps reach, into the thread's scratch ([CB][KH][Wp][VW], ~1%
 * of the row's work), and then every pixel is interior: on 7x7 maps the
 * borders are 2 of 7 columns. Without scratch (run given NULL) the border
 * pixels take the checked path instead: one pixel at a time with kw
 * clamped too and four partial sums over ci (nothing tested per tap).
 * 1x1 stride-1 unpadded convs run as one row of H*W pixels.
 *
 * Depthwise (f32_dwconv_blk_<Q>__<isa>): one vector of VL channels per
 * pixel; interior tiles of 8, 4, 2, 1 pixels share each weight vector;
 * border pixels with clamped taps and two chains.
 *
 * Epilogue in the store: + bias, + sum, csv_act; a last block with padding
 * lanes is stored as zeros then its valid lanes (zeros stay zeros whatever
 * the activation maps 0 to).
 */
#include <stddef.h>
#include <string.h>

#include "cpu_conv.h"

#ifndef ENGINE_CPU_BLK_GEOM_
#define ENGINE_CPU_BLK_GEOM_
/* Geometry shared by both kernels (and conv_blocked.c's scratch_size). */
typedef struct blk_geom {
    int H, W, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL;
    int ow_lo, ow_hi; /* interior columns: every kw tap inside [0, W) */
} blk_geom;

static inline void blk_geom_init(const cpu_conv2d *d, blk_geom *g) {
    g->H = d->H, g->W = d->W, g->OH = d->OH, g->OW = d->OW;
    g->KH = d->KH, g->KW = d->KW, g->SH = d->SH, g->SW = d->SW;
    g->DH = d->DH, g->DW = d->DW, g->PT = d->PT, g->PL = d->PL;
    /* 1x1 stride 1 unpadded: the image is one row of H*W pixels (longer tiles) */
    if (d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && !d->PT && !d->PL && !d->PB && !d->PR) {
        g->W = g->OW = d->H * d->W;
        g->H = g->OH = 1;
    }
    /* ow*SW - PL >= 0 and ow*SW - PL + (KW-1)*DW <= W-1 */
    int lo = (g->PL + g->SW - 1) / g->SW;
    int top = g->W - 1 + g->PL - (g->KW - 1) * g->DW;
    int hi = top < 0 ? 0 : top / g->SW + 1;
    if (hi > g->OW) hi = g->OW;
    if (lo > g->OW) lo = g->OW;
    if (hi < lo) hi = lo;
    g->ow_lo = lo, g->ow_hi = hi;
}

/* Parts each output row is cut into: 1, unless the pairs x rows are too
 * few to share among the threads (a 1x1 conv is one row of H*W pixels, so
 * MobileNet's 1x1 projections to 32 or 64 channels were one or two work
 * items, run on one thread): then enough parts of the row's tiles (of up
 * to pmax pixels) to give every thread about four items. */
static inline int blk_row_parts_n(const blk_geom *g, int pairs, int nthr, int pmax) {
    const int items = pairs * g->OH;
    if (nthr <= 1 || items >= 4 * nthr) return 1;
    const int nt = (g->ow_hi - g->ow_lo + pmax - 1) / pmax;
    int parts = (4 * nthr + items - 1) / items;
    /* whole rows' parts per thread (the threads take the same number of
     * them, each over every pair: cpu_conv_direct_blk_run) */
    const int even = (g->OH * parts + nthr - 1) / nthr * nthr;
    if (even % g->OH == 0 && even / g->OH <= nt) parts = even / g->OH;
    if (parts > nt) parts = nt;
    return parts < 1 ? 1 : parts;
}

/* Columns of one padded row: those the taps of the outputs reach. */
static inline int blk_padded_width(const blk_geom *g) { return (g->OW - 1) * g->SW + (g->KW - 1) * g->DW + 1; }

/* Floats of one thread's padded rows [CB][KH][Wp][vl], 64-byte multiple;
 * 0 where every column is interior (no copies). */
static inline size_t blk_rows_floats(const blk_geom *g, int CB, int vl) {
    if (g->ow_lo == 0 && g->ow_hi == g->OW) return 0;
    return ((size_t)CB * g->KH * (size_t)blk_padded_width(g) * (size_t)vl + 15) / 16 * 16;
}
/* The depthwise kernel's padded planes: where the map has border columns,
 * the stride is 1, the rows are short (16 outputs or fewer) and a channel
 * block's zero-padded plane [H+PT+PB][W+PL+PR][vl] is at
 * most BLK_DW_PAD_BYTES, each thread copies a block's plane padded into
 * its scratch and runs every output pixel through the tiles (none through
 * the border path). Floats per thread; 0 where it does not apply. */
#define BLK_DW_PAD_BYTES (96u * 1024u)
static inline size_t blk_dw_pad_floats(const cpu_conv2d *d, int vl) {
    blk_geom g;
    blk_geom_init(d, &g);
    /* stride 2: the copy outweighs the gain; long rows: few border pixels */
    if ((g.ow_lo == 0 && g.ow_hi == g.OW) || d->SW != 1 || g.OW > 16) return 0;
    const size_t hp = (size_t)d->H + (size_t)d->PT + (size_t)d->PB, wp = (size_t)d->W + (size_t)d->PL + (size_t)d->PR;
    const size_t floats = (hp * wp * (size_t)vl + 15) / 16 * 16;
    return floats * sizeof(float) <= BLK_DW_PAD_BYTES ? floats : 0;
}

/* The 1x1 expansion fused into the blocked depthwise conv it feeds
 * (cpu_conv_pw_dw_blk_run below): a work unit expands, for one pair of
 * channel blocks, the input rows a chunk of the depthwise conv's output
 * rows reads into the thread's buffer [2][rows][W][vl], keeping the rows
 * the next chunk reads again. Chunks as tall as fit BLK_PWDW_BUF_BYTES
 * (the buffer stays in L2 beside the input rows it is made from); at
 * least one output row. Returns the chunk's output rows; *rows_cap: the
 * buffer's rows. */
#define BLK_PWDW_BUF_BYTES (96u * 1024u)
static inline int blk_pwdw_chunk(const cpu_conv2d *d, int vl, int *rows_cap) {
    const size_t row = 2u * (size_t)d->W * (size_t)vl * sizeof(float);
    const int span = (d->KH - 1) * d->DH + 1;
    int ch = 1;
    while (ch < d->OH && (size_t)(ch * d->SH + span) * row <= BLK_PWDW_BUF_BYTES) ++ch;
    *rows_cap = (ch - 1) * d->SH + span;
    return ch;
}

/* Floats of one thread's buffer, a multiple of 16. */
static inline size_t blk_pwdw_floats(const cpu_conv2d *d, int vl) {
    int cap;
    blk_pwdw_chunk(d, vl, &cap);
    return (2u * (size_t)cap * (size_t)d->W * (size_t)vl + 15) / 16 * 16;
}
#endif /* ENGINE_CPU_BLK_GEOM_ */

/* conv_blocked.c includes only the geometry (for scratch_size). */
#ifndef BLK_GEOM_ONLY

#ifndef BLK_SUFFIX
#error "define BLK_SUFFIX"
#endif

#include "cpu_pool.h"

#define BLK_CAT2_(a, b) a##__##b
#define BLK_CAT_(a, b) BLK_CAT2_(a, b)
#define BLK_FN(name) BLK_CAT_(name, BLK_SUFFIX)

/* Pixels per direct tile: 2 x 14 accumulators + 2 weights + 1 broadcast of
 * 32 zmm; 2 x 6 + 3 of 16 ymm. */
#if VW == 16
#define BLK_PMAX 14
#else
#define BLK_PMAX 6
#endif

#if VW == 8
/* X(p) for each pixel slot p of an AVX2 tile. */
#define BLK_FOR_P_(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif

/* The taps [k0, k1) of a kernel of K taps (dilation D) in bounds for an
 * output at input position base (= o*S - P) over an input of n. */
static inline void BLK_FN(blk_taps)(int base, int D, int K, int n, int *k0, int *k1) {
    int a = base < 0 ? (-base + D - 1) / D : 0;
    int b = n - 1 - base < 0 ? 0 : (n - 1 - base) / D + 1;
    if (b > K) b = K;
    if (a > b) a = b;
    *k0 = a, *k1 = b;
}

/* One output vector: + bias, + sum, act, store; nv < VW: padding lanes 0. */
static inline __attribute__((always_inline)) void BLK_FN(blk_store)(float *y, const float *s, vf acc, vf bias,
                                                                   const engine_epilogue *e, int nv) {
    acc = V_ADD(acc, bias);
    if (s) acc = V_ADD(acc, V_LOAD(s));
    acc = csv_act(e, acc);
    if (nv >= VW) {
        V_STORE(y, acc);
    } else {
        V_STORE(y, V_ZERO());
        V_STOREN(y, acc, nv);
    }
}

/* ---- direct ---- */

typedef struct blk_direct_args {
    const blk_geom *g;
    const engine_epilogue *e;
    int CB;
    size_t x_cb;     /* floats per input block: H*W*VW (the padded rows: KH*Wp*VW) */
    size_t x_kh;     /* floats per kh step: DH*W*VW (the padded rows: Wp*VW) */
    ptrdiff_t x_off; /* x + x_off + kh*x_kh + (ow*SW + kw*DW)*VW: tap (kh, kw) of pixel ow */
    size_t w_mb;     /* floats per output block of weights: CB*KH*KW*VW*VW */
    const float *x;  /* the image (or the padded rows) */
    const float *w;  /* output block mb's weights */
    const float *b;  /* bias of block mb */
    const float *s;  /* sum at block mb, row oh (NULL: none) */
    float *y;        /* y at block mb, row oh */
    size_t y_mb;     /* floats per output block: OH*OW*VW */
    int nv0, nv1;    /* valid lanes of blocks mb, mb+1 */
    int kh0, kh1;    /* the row's valid kh */
    int ih0;         /* oh*SH - PT */
    /* The next block pair's weights, prefetched into L2 a slice per row
     * while this pair runs (at batch 1 a model's weights come from memory;
     * the hardware prefetcher alone leaves the first row of each pair
     * waiting on them): pf_lines cache lines per input block of a tile,
     * from pf up to pf_end. */
    const char *pf, *pf_end;
    int pf_lines;
} blk_direct_args;

/* NB x P interior tile at output column ow0; xs: floats between pixels'
 * inputs (SW*VW; the constant VW where SW1). */
static inline __attribute__((always_inline)) void BLK_FN(blk_direct_tile)(blk_direct_args *a, int ow0,
                                                                         const int NB, const int P,
                                                                         const int SW1) {
    const blk_geom *g = a->g;
    const int xs = SW1 ? VW : g->SW * VW;
    const int KW = g->KW, KK = g->KH * g->KW;
    const size_t w_mb = a->w_mb;
#if VW == 8
    /* AVX2: named accumulators. With arrays GCC kept one of the 2 x 6
     * tile's 12 accumulators on the stack (a reload and a store per FMA,
     * a fifth of a 1x1 conv's cycles); the AVX-512 build keeps the arrays,
     * which GCC allocates well there and named ones badly. */
#define BLK_ACC_(p) vf a0_##p = V_ZERO(), a1_##p = V_ZERO();
    BLK_FOR_P_(BLK_ACC_)
#undef BLK_ACC_
    const char *pf = a->pf;
#define BLK_FMA_(p)                                 \
    if (P > p) {                                    \
        const vf bx = V_SET1(xp[p * xs + ci]);      \
        a0_##p = V_FMA(w0, bx, a0_##p);             \
        if (NB > 1) a1_##p = V_FMA(w1, bx, a1_##p); \
    }
    /* input channel ci of the block at xp, its weights at wp */
#define BLK_CI_(c)                                               \
    {                                                            \
        const int ci = c;                                        \
        const vf w0 = V_LOAD(wp + ci * VW);                      \
        const vf w1 = NB > 1 ? V_LOAD(wp + w_mb + ci * VW) : w0; \
        BLK_FOR_P_(BLK_FMA_)                                     \
    }
    if (KK == 1 && a->kh0 == 0 && a->kh1 == 1) {
        /* 1x1: one tap per input block, its 8 channels unrolled. The
         * general loops below (kh, kw, then ci, which GCC left rolled)
         * spent ~15% of a 1x1 conv's cycles outside the FMAs: C256 ->
         * M256 at 14x14 ran at 29 GFLOP/s against the NCHW GEMM's 35
         * (one thread, AMD EPYC). */
        const float *xp = a->x + (a->x_off + (ptrdiff_t)ow0 * g->SW * VW);
        const float *wp = a->w;
        for (int cb = 0; cb < a->CB; ++cb, xp += a->x_cb, wp += VW * VW) {
            for (int j = 0; j < a->pf_lines && pf < a->pf_end; ++j, pf += 64) __builtin_prefetch(pf, 0, 2);
            /* the next tile's pixels of this block (one stream per input
             * block, too many for the hardware prefetchers: C512 -> 256
             * at 28x28 32.6 -> 33.5 GFLOP/s) */
            __builtin_prefetch(xp + 6 * VW, 0, 3);
            __builtin_prefetch(xp + 8 * VW, 0, 3);
            __builtin_prefetch(xp + 10 * VW, 0, 3);
            BLK_CI_(0) BLK_CI_(1) BLK_CI_(2) BLK_CI_(3) BLK_CI_(4) BLK_CI_(5) BLK_CI_(6) BLK_CI_(7)
        }
    } else
    for (int cb = 0; cb < a->CB; ++cb) {
        const float *wc = a->w + (size_t)cb * KK * VW * VW;
        for (int j = 0; j < a->pf_lines && pf < a->pf_end; ++j, pf += 64) __builtin_prefetch(pf, 0, 2);
        for (int kh = a->kh0; kh < a->kh1; ++kh) {
            const float *xr = a->x + (a->x_off + (ptrdiff_t)(cb * a->x_cb + (size_t)kh * a->x_kh) +
                                      (ptrdiff_t)ow0 * g->SW * VW);
            for (int kw = 0; kw < KW; ++kw) {
                const float *xp = xr + (size_t)kw * g->DW * VW;
                const float *wp = wc + (size_t)(kh * KW + kw) * VW * VW;
#pragma GCC unroll 4
                for (int ci = 0; ci < VW; ++ci) {
                    const vf w0 = V_LOAD(wp + ci * VW);
                    const vf w1 = NB > 1 ? V_LOAD(wp + w_mb + ci * VW) : w0;
                    BLK_FOR_P_(BLK_FMA_)
                }
            }
        }
    }
#undef BLK_CI_
#undef BLK_FMA_
    a->pf = pf;
    const vf b0 = V_LOAD(a->b);
    const vf b1 = NB > 1 ? V_LOAD(a->b + VW) : b0;
#define BLK_ST_(p)                                                                                             \
    if (P > p) {                                                                                               \
        const size_t o = (size_t)(ow0 + p) * VW;                                                               \
        BLK_FN(blk_store)(a->y + o, a->s ? a->s + o : NULL, a0_##p, b0, a->e, a->nv0);                         \
        if (NB > 1)                                                                                            \
            BLK_FN(blk_store)(a->y + a->y_mb + o, a->s ? a->s + a->y_mb + o : NULL, a1_##p, b1, a->e, a->nv1); \
    }
    BLK_FOR_P_(BLK_ST_)
#undef BLK_ST_
#else
    vf acc0[BLK_PMAX], acc1[BLK_PMAX];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
        acc0[p] = V_ZERO();
        if (NB > 1) acc1[p] = V_ZERO();
    }
    const char *pf = a->pf;
    /* input channel ci of the block at xp, its weights at wp: P pixels x NB blocks */
#define BLK_CI_ARR_(ci)                                  \
    {                                                    \
        const vf w0 = V_LOAD(wp + (ci) * VW);            \
        vf w1 = w0;                                      \
        if (NB > 1) w1 = V_LOAD(wp + w_mb + (ci) * VW);  \
        _Pragma("GCC unroll 16")                         \
        for (int p = 0; p < P; ++p) {                    \
            const vf bx = V_SET1(xp[p * xs + (ci)]);     \
            acc0[p] = V_FMA(w0, bx, acc0[p]);            \
            if (NB > 1) acc1[p] = V_FMA(w1, bx, acc1[p]); \
        }                                                \
    }
    if (KK == 1 && a->kh0 == 0 && a->kh1 == 1) {
        /* 1x1 (AVX-512): one tap per input block, its 16 channels
         * unrolled, and the next tile's pixels of the block prefetched, as
         * AVX2 does above. MobileNet v2's 1x1 shapes (one thread, AMD EPYC
         * Zen 4) 0-7% faster (C160 -> M960 at 7x7 0.145 -> 0.137 ms,
         * C24 -> M144 at 56x56 0.340 -> 0.314); the model 7.95 -> 7.68 ms,
         * EfficientNet-B0 11.82 -> 11.59 (5 alternating rounds). */
        const float *xp = a->x + (a->x_off + (ptrdiff_t)ow0 * g->SW * VW);
        const float *wp = a->w;
        for (int cb = 0; cb < a->CB; ++cb, xp += a->x_cb, wp += VW * VW) {
            for (int j = 0; j < a->pf_lines && pf < a->pf_end; ++j, pf += 64) __builtin_prefetch(pf, 0, 2);
            __builtin_prefetch(xp + BLK_PMAX * VW, 0, 3);
            __builtin_prefetch(xp + (BLK_PMAX + 4) * VW, 0, 3);
#pragma GCC unroll 16
            for (int ci = 0; ci < VW; ++ci) BLK_CI_ARR_(ci)
        }
    } else
    for (int cb = 0; cb < a->CB; ++cb) {
        const float *wc = a->w + (size_t)cb * KK * VW * VW;
        for (int j = 0; j < a->pf_lines && pf < a->pf_end; ++j, pf += 64) __builtin_prefetch(pf, 0, 2);
        for (int kh = a->kh0; kh < a->kh1; ++kh) {
            /* non-negative for every interior pixel's taps */
            const float *xr = a->x + (a->x_off + (ptrdiff_t)(cb * a->x_cb + (size_t)kh * a->x_kh) +
                                      (ptrdiff_t)ow0 * g->SW * VW);
            for (int kw = 0; kw < KW; ++kw) {
                const float *xp = xr + (size_t)kw * g->DW * VW;
                const float *wp = wc + (size_t)(kh * KW + kw) * VW * VW;
#pragma GCC unroll 4
                for (int ci = 0; ci < VW; ++ci) BLK_CI_ARR_(ci)
            }
        }
    }
#undef BLK_CI_ARR_
    a->pf = pf;
    const vf b0 = V_LOAD(a->b);
    const vf b1 = NB > 1 ? V_LOAD(a->b + VW) : b0;
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
        const size_t o = (size_t)(ow0 + p) * VW;
        BLK_FN(blk_store)(a->y + o, a->s ? a->s + o : NULL, acc0[p], b0, a->e, a->nv0);
        if (NB > 1)
            BLK_FN(blk_store)(a->y + a->y_mb + o, a->s ? a->s + a->y_mb + o : NULL, acc1[p], b1, a->e, a->nv1);
    }
#endif
}

/* One border pixel ow of NB blocks: kh and kw clamped, 4 partial sums. */
static inline __attribute__((always_inline)) void BLK_FN(blk_direct_pixel)(const blk_direct_args *a, int ow,
                                                                          const int NB) {
    const blk_geom *g = a->g;
    const int KW = g->KW, KK = g->KH * g->KW;
    const int iw0 = ow * g->SW - g->PL;
    int kw0, kw1;
    BLK_FN(blk_taps)(iw0, g->DW, KW, g->W, &kw0, &kw1);
    vf s0[4], s1[4];
    for (int j = 0; j < 4; ++j) s0[j] = s1[j] = V_ZERO();
    for (int cb = 0; cb < a->CB; ++cb) {
        const float *wc = a->w + (size_t)cb * KK * VW * VW;
        for (int kh = a->kh0; kh < a->kh1; ++kh) {
            const float *xr = a->x + (a->x_off + (ptrdiff_t)(cb * a->x_cb + (size_t)kh * a->x_kh));
            for (int kw = kw0; kw < kw1; ++kw) {
                const float *xp = xr + (size_t)(ow * g->SW + kw * g->DW) * VW;
                const float *wp = wc + (size_t)(kh * KW + kw) * VW * VW;
                for (int ci = 0; ci < VW; ci += 4) {
#pragma GCC unroll 4
                    for (int j = 0; j < 4; ++j) {
                        const vf bx = V_SET1(xp[ci + j]);
                        s0[j] = V_FMA(V_LOAD(wp + (ci + j) * VW), bx, s0[j]);
                        if (NB > 1) s1[j] = V_FMA(V_LOAD(wp + a->w_mb + (ci + j) * VW), bx, s1[j]);
                    }
                }
            }
        }
    }
    const size_t o = (size_t)ow * VW;
    BLK_FN(blk_store)(a->y + o, a->s ? a->s + o : NULL, V_ADD(V_ADD(s0[0], s0[1]), V_ADD(s0[2], s0[3])),
                      V_LOAD(a->b), a->e, a->nv0);
    if (NB > 1)
        BLK_FN(blk_store)(a->y + a->y_mb + o, a->s ? a->s + a->y_mb + o : NULL,
                          V_ADD(V_ADD(s1[0], s1[1]), V_ADD(s1[2], s1[3])), V_LOAD(a->b + VW), a->e, a->nv1);
}

#define BLK_TILE_CASE_(P)                                                      \
    case P:                                                                    \
        if (NB > 1) {                                                          \
            if (SW1) BLK_FN(blk_direct_tile)(a, ow0, 2, P, 1);                 \
            else BLK_FN(blk_direct_tile)(a, ow0, 2, P, 0);                     \
        } else {                                                               \
            if (SW1) BLK_FN(blk_direct_tile)(a, ow0, 1, P, 1);                 \
            else BLK_FN(blk_direct_tile)(a, ow0, 1, P, 0);                     \
        }                                                                      \
        break;

/* The named kernels: f32_conv_blk_<NB>x<P>__<isa>, P from a switch. */
static void BLK_FN(f32_conv_blk_tile)(blk_direct_args *a, int ow0, int P, int NB, int SW1) {
    switch (P) {
        BLK_TILE_CASE_(1) BLK_TILE_CASE_(2) BLK_TILE_CASE_(3) BLK_TILE_CASE_(4) BLK_TILE_CASE_(5)
        BLK_TILE_CASE_(6)
#if BLK_PMAX > 6
        BLK_TILE_CASE_(7) BLK_TILE_CASE_(8) BLK_TILE_CASE_(9) BLK_TILE_CASE_(10) BLK_TILE_CASE_(11)
        BLK_TILE_CASE_(12) BLK_TILE_CASE_(13) BLK_TILE_CASE_(14)
#endif
    default: break;
    }
}
#undef BLK_TILE_CASE_

static void BLK_FN(f32_conv_blk_border)(const blk_direct_args *a, int ow, int NB) {
    if (NB > 1) BLK_FN(blk_direct_pixel)(a, ow, 2);
    else BLK_FN(blk_direct_pixel)(a, ow, 1);
}

/* Copies the input rows of output row a->ih0 (the valid kh) with the
 * columns the row's taps reach, zeros outside [0, W), to rows
 * [CB][KH][Wp][VW]; then every pixel of the row is interior. */
static void BLK_FN(blk_pad_rows)(const blk_geom *g, int CB, const float *x, int kh0, int kh1, int ih0, float *rows) {
    const int Wp = blk_padded_width(g), W = g->W, PL = g->PL;
    const int lead = PL < Wp ? PL : Wp;
    int n = W < Wp - lead ? W : Wp - lead;
    for (int cb = 0; cb < CB; ++cb)
        for (int kh = kh0; kh < kh1; ++kh) {
            float *dst = rows + ((size_t)cb * g->KH + kh) * Wp * VW;
            const float *src = x + ((size_t)cb * g->H + (size_t)(ih0 + kh * g->DH)) * W * VW;
            memset(dst, 0, sizeof(float) * (size_t)lead * VW);
            memcpy(dst + (size_t)lead * VW, src, sizeof(float) * (size_t)n * VW);
            memset(dst + (size_t)(lead + n) * VW, 0, sizeof(float) * (size_t)(Wp - lead - n) * VW);
        }
}

/* Weight bytes from which a conv prefetches the next pair's weights; on
 * maps of at most BLK_PF_SMALL_PIXELS output pixels from
 * BLK_PF_SMALL_BYTES. A small map reads each weight a few times only, so
 * they come from memory at batch 1 even when they would fit L2: the mobile
 * nets' 14x14 and 7x7 1x1 convs (C160 -> M960: 614 KB). On one thread
 * (AMD EPYC Zen 4, 1 MB L2; 4 alternating rounds) EfficientNet-B0 11.53 ->
 * 11.26 ms, MobileNet v3-L 6.47 -> 6.39, v2 0.4-2.3%; ResNet-50 has no
 * conv it changes. Every conv from 128 KB read ResNet-50 0.8% slower
 * (within its noise, twice), and an earlier Xeon (2 MB L2) read the mobile
 * nets 1-3% slower with the prefetch on their small convs. */
#define BLK_PF_MIN_BYTES ((size_t)1 << 20)
#define BLK_PF_SMALL_BYTES ((size_t)1 << 17)
#define BLK_PF_SMALL_PIXELS 196

/* Work item: output block pair `pair`, output row oh, part `part` of the
 * row's tiles cut into `parts` (see blk_row_parts); rows: the thread's
 * scratch for the padded rows (NULL: border pixels take the checked path);
 * pf_next: the same thread runs pair + 1 next (prefetch its weights). */
static void BLK_FN(blk_direct_item)(const cpu_conv2d *d, const blk_geom *g, const float *packed, const float *x,
                                    const float *sum, float *y, int pair, int oh, int part, int parts, float *rows,
                                    int pf_next) {
    const int CB = (d->C + VW - 1) / VW, MB = (d->M + VW - 1) / VW;
    const int mb = 2 * pair, NB = mb + 1 < MB ? 2 : 1;
    blk_direct_args a;
    a.g = g;
    a.e = &d->epi;
    a.CB = CB;
    a.x_cb = (size_t)g->H * g->W * VW;
    a.w_mb = (size_t)CB * g->KH * g->KW * VW * VW;
    a.x = x;
    a.x_kh = (size_t)g->DH * g->W * VW;
    a.w = packed + (size_t)mb * a.w_mb;
    a.b = packed + (size_t)MB * a.w_mb + (size_t)mb * VW;
    a.y_mb = (size_t)g->OH * g->OW * VW;
    const size_t yo = (size_t)mb * a.y_mb + (size_t)oh * g->OW * VW;
    a.y = y + yo;
    a.s = sum ? sum + yo : NULL;
    a.nv0 = d->M - mb * VW < VW ? d->M - mb * VW : VW;
    a.nv1 = NB > 1 ? (d->M - (mb + 1) * VW < VW ? d->M - (mb + 1) * VW : VW) : 0;
    a.ih0 = oh * g->SH - g->PT;
    BLK_FN(blk_taps)(a.ih0, g->DH, g->KH, g->H, &a.kh0, &a.kh1);
    a.x_off = (ptrdiff_t)a.ih0 * g->W * VW - (ptrdiff_t)g->PL * VW;
    const int SW1 = g->SW == 1;
    int ow_lo = g->ow_lo, ow_hi = g->ow_hi;
    a.pf = a.pf_end = NULL;
    a.pf_lines = 0;
    /* only where the weights outgrow L2 (the mobile nets' small convs
     * measured slower with it: their weights stay in the caches) */
    const size_t w_bytes = (size_t)MB * a.w_mb * sizeof(float);
    if (pf_next && mb + 2 < MB &&
        (w_bytes >= BLK_PF_MIN_BYTES ||
         (w_bytes >= BLK_PF_SMALL_BYTES && (long long)g->OH * g->OW <= BLK_PF_SMALL_PIXELS))) {
        /* this row's share of the next pair's weights */
        const int nbn = mb + 3 < MB ? 2 : 1;
        const size_t bytes = (size_t)nbn * a.w_mb * sizeof(float);
        const char *base = (const char *)(packed + (size_t)(mb + 2) * a.w_mb);
        const size_t slice = (size_t)oh * (size_t)parts + (size_t)part, slices = (size_t)g->OH * (size_t)parts;
        a.pf = base + bytes * slice / slices;
        a.pf_end = base + bytes * (slice + 1) / slices;
        const int tiles = (((rows ? g->OW : ow_hi - ow_lo) + BLK_PMAX - 1) / BLK_PMAX + parts - 1) / parts;
        const size_t lines = (size_t)(a.pf_end - a.pf + 63) / 64, per = (size_t)(tiles > 0 ? tiles : 1) * CB;
        a.pf_lines = (int)((lines + per - 1) / per);
    }
    if (rows && (ow_lo > 0 || ow_hi < g->OW)) {
        /* border columns: from padded copies of the rows, all interior */
        BLK_FN(blk_pad_rows)(g, CB, x, a.kh0, a.kh1, a.ih0, rows);
        a.x = rows;
        a.x_cb = (size_t)g->KH * blk_padded_width(g) * VW;
        a.x_kh = (size_t)blk_padded_width(g) * VW;
        a.x_off = 0;
        ow_lo = 0, ow_hi = g->OW;
    }
    if (part == 0)
        for (int ow = 0; ow < ow_lo; ++ow) BLK_FN(f32_conv_blk_border)(&a, ow, NB);
    /* interior: tiles as even as BLK_PMAX allows (54 -> 14 14 13 13); this
     * part runs tiles [t0, t1) of them */
    const int n = ow_hi - ow_lo;
    if (n > 0) {
        const int nt = (n + BLK_PMAX - 1) / BLK_PMAX;
        const int t0 = (int)((long long)nt * part / parts), t1 = (int)((long long)nt * (part + 1) / parts);
        int ow = ow_lo;
        for (int t = 0; t < t1; ++t) {
            const int P = (n - (ow - ow_lo) + (nt - t) - 1) / (nt - t);
            if (t >= t0) BLK_FN(f32_conv_blk_tile)(&a, ow, P, NB, SW1);
            ow += P;
        }
    }
    if (part == parts - 1)
        for (int ow = ow_hi; ow < g->OW; ++ow) BLK_FN(f32_conv_blk_border)(&a, ow, NB);
}

static inline int BLK_FN(blk_row_parts)(const blk_geom *g, int pairs, int nthr) {
    return blk_row_parts_n(g, pairs, nthr, BLK_PMAX);
}

typedef struct BLK_FN(blk_par) {
    const cpu_conv2d *d;
    const blk_geom *g;
    const void *packed;
    const float *x, *sum;
    float *y;
    void *scratch;
    size_t per_thread;
    int parts, pairs, nthr;
} BLK_FN(blk_par);

static void BLK_FN(blk_direct_task)(void *vc, int tid, int64_t i0, int64_t i1) {
    const BLK_FN(blk_par) *c = vc;
    float *rows = c->scratch ? (float *)c->scratch + (size_t)tid * c->per_thread : NULL;
    const int parts = c->parts, per_pair = c->g->OH * parts;
    /* the end of this thread's home range (cpu_parallel_for_home splits
     * the items as evenly as this): the thread runs the next pair there */
    const int64_t items = (int64_t)c->pairs * per_pair;
    const int64_t home_end = c->nthr > 1 ? items * (tid + 1) / c->nthr : items;
    for (int it = (int)i0; it < (int)i1; ++it) {
        const int pair = it / per_pair, r = it % per_pair;
        BLK_FN(blk_direct_item)(c->d, c->g, c->packed, c->x, c->sum, c->y, pair, r / parts, r % parts, parts, rows,
                                (int64_t)(pair + 1) * per_pair < home_end);
    }
}

/* Items part-major: it = (oh * parts + part) * pairs + pair. */
static void BLK_FN(blk_direct_task_pm)(void *vc, int tid, int64_t i0, int64_t i1) {
    const BLK_FN(blk_par) *c = vc;
    float *rows = c->scratch ? (float *)c->scratch + (size_t)tid * c->per_thread : NULL;
    const int parts = c->parts, pairs = ((c->d->M + VW - 1) / VW + 1) / 2;
    for (int it = (int)i0; it < (int)i1; ++it) {
        const int r = it / pairs, pair = it % pairs;
        BLK_FN(blk_direct_item)(c->d, c->g, c->packed, c->x, c->sum, c->y, pair, r / parts, r % parts, parts, rows, 0);
    }
}

void BLK_FN(cpu_conv_direct_blk_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                     float *y, void *scratch) {
    blk_geom g;
    blk_geom_init(d, &g);
    const int MB = (d->M + VW - 1) / VW, pairs = (MB + 1) / 2, CB = (d->C + VW - 1) / VW;
    const size_t per_thread = blk_rows_floats(&g, CB, VW);
    int nthr = d->threads < 1 ? 1 : d->threads;
    const int parts = BLK_FN(blk_row_parts)(&g, pairs, nthr);
    const int items = pairs * g.OH * parts;
    if (nthr > items) nthr = items;
    if (nthr <= 1) {
        for (int it = 0; it < items; ++it)
            BLK_FN(blk_direct_item)(d, &g, packed, x, sum, y, it / g.OH, it % g.OH, 0, 1, scratch, 1);
        return;
    }
    BLK_FN(blk_par) c = {d, &g, packed, x, sum, y, scratch, per_thread, parts, pairs, nthr};
    if (parts > 1) {
        /* rows cut into parts (few pairs x rows): items part-major, each
         * thread at home in its own parts of the rows, over every pair. In
         * pair-major units of the shared order the threads' shares came
         * out uneven (MobileNet v2's C24 -> M144 at 56x56: 5 pairs, the
         * last a single block, in 5 units on 2 threads). */
        cpu_parallel_for_home(nthr, items, 1, BLK_FN(blk_direct_task_pm), &c);
        return;
    }
    /* Each thread at home in its own run of pairs: its weights stay in its
     * cache, and it prefetches the next pair's while it runs one (in
     * units of the shared order the first pair of every unit went
     * without: the units' owners are not known ahead) */
    cpu_parallel_for_home(nthr, items, 1, BLK_FN(blk_direct_task), &c);
}

/* A batch of N images with the weights read once: items pair-major, then
 * image, then row (rows not cut into parts), each thread at home in its
 * own run of pairs. Image by image, every image read the whole weights
 * again (ResNet's 7x7 maps at batch 8: 9.4 MB a conv, eight times, for
 * 49 output pixels an image); this way each pair's weights stay in the
 * thread's cache over the N images, and the next pair's are prefetched
 * during the last image's rows. scratch as cpu_conv_direct_blk_run's. */
typedef struct BLK_FN(blk_batch) {
    BLK_FN(blk_par) p;
    int N;
    size_t x_img, y_img;
} BLK_FN(blk_batch);

static void BLK_FN(blk_batch_task)(void *vc, int tid, int64_t i0, int64_t i1) {
    const BLK_FN(blk_batch) *c = vc;
    float *rows = c->p.scratch ? (float *)c->p.scratch + (size_t)tid * c->p.per_thread : NULL;
    const int OH = c->p.g->OH, per_pair = c->N * OH;
    const int64_t items = (int64_t)c->p.pairs * per_pair;
    const int64_t home_end = c->p.nthr > 1 ? items * (tid + 1) / c->p.nthr : items;
    for (int it = (int)i0; it < (int)i1; ++it) {
        const int pair = it / per_pair, r = it % per_pair, b = r / OH, oh = r % OH;
        const size_t xo = (size_t)b * c->x_img, yo = (size_t)b * c->y_img;
        BLK_FN(blk_direct_item)(c->p.d, c->p.g, c->p.packed, c->p.x + xo, c->p.sum ? c->p.sum + yo : NULL,
                                c->p.y + yo, pair, oh, 0, 1, rows,
                                b == c->N - 1 && (int64_t)(pair + 1) * per_pair < home_end);
    }
}

void BLK_FN(cpu_conv_direct_blk_run_n)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                       float *y, void *scratch, int N) {
    blk_geom g;
    blk_geom_init(d, &g);
    const int MB = (d->M + VW - 1) / VW, pairs = (MB + 1) / 2, CB = (d->C + VW - 1) / VW;
    int nthr = d->threads < 1 ? 1 : d->threads;
    const int items = pairs * N * g.OH;
    if (nthr > items) nthr = items;
    BLK_FN(blk_batch) c = {{d, &g, packed, x, sum, y, scratch, blk_rows_floats(&g, CB, VW), 1, pairs, nthr},
                           N,
                           (size_t)CB * VW * (size_t)d->H * (size_t)d->W,
                           (size_t)MB * VW * (size_t)d->OH * (size_t)d->OW};
    if (nthr <= 1) {
        BLK_FN(blk_batch_task)(&c, 0, 0, items);
        return;
    }
    cpu_parallel_for_home(nthr, items, 1, BLK_FN(blk_batch_task), &c);
}

/* ---- depthwise ---- */

typedef struct blk_dw_args {
    const blk_geom *g;
    const engine_epilogue *e;
    const float *x; /* block cb of the image */
    const float *w; /* block cb's weights [KH][KW][VW] */
    vf bias;
    const float *s; /* sum at block cb, row oh (NULL: none) */
    float *y;       /* y at block cb, row oh */
    int nv, kh0, kh1, ih0;
} blk_dw_args;

static inline __attribute__((always_inline)) void BLK_FN(blk_dw_tile)(const blk_dw_args *a, int ow0, const int Q) {
    const blk_geom *g = a->g;
    const int KW = g->KW, xs = g->SW * VW;
    vf acc[8];
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) acc[q] = a->bias;
    const float *xo = a->x + (size_t)(ow0 * g->SW - g->PL) * VW;
    for (int kh = a->kh0; kh < a->kh1; ++kh) {
        const float *xr = xo + (size_t)(a->ih0 + kh * g->DH) * g->W * VW;
        const float *wr = a->w + (size_t)kh * KW * VW;
        for (int kw = 0; kw < KW; ++kw) {
            const vf wv = V_LOAD(wr + kw * VW);
            const float *xp = xr + (size_t)kw * g->DW * VW;
#pragma GCC unroll 8
            for (int q = 0; q < Q; ++q) acc[q] = V_FMA(V_LOAD(xp + q * xs), wv, acc[q]);
        }
    }
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) {
        const size_t o = (size_t)(ow0 + q) * VW;
        BLK_FN(blk_store)(a->y + o, a->s ? a->s + o : NULL, acc[q], V_ZERO(), a->e, a->nv);
    }
}

static void BLK_FN(blk_dw_pixel)(const blk_dw_args *a, int ow) {
    const blk_geom *g = a->g;
    const int KW = g->KW, iw0 = ow * g->SW - g->PL;
    int kw0, kw1;
    BLK_FN(blk_taps)(iw0, g->DW, KW, g->W, &kw0, &kw1);
    vf s0 = a->bias, s1 = V_ZERO();
    for (int kh = a->kh0; kh < a->kh1; ++kh) {
        const float *xr = a->x + (size_t)((a->ih0 + kh * g->DH) * g->W + iw0) * VW;
        const float *wr = a->w + (size_t)kh * KW * VW;
        int kw = kw0;
        for (; kw + 1 < kw1; kw += 2) {
            s0 = V_FMA(V_LOAD(xr + (size_t)kw * g->DW * VW), V_LOAD(wr + kw * VW), s0);
            s1 = V_FMA(V_LOAD(xr + (size_t)(kw + 1) * g->DW * VW), V_LOAD(wr + (kw + 1) * VW), s1);
        }
        if (kw < kw1) s0 = V_FMA(V_LOAD(xr + (size_t)kw * g->DW * VW), V_LOAD(wr + kw * VW), s0);
    }
    const size_t o = (size_t)ow * VW;
    BLK_FN(blk_store)(a->y + o, a->s ? a->s + o : NULL, V_ADD(s0, s1), V_ZERO(), a->e, a->nv);
}

/* The named kernels f32_dwconv_blk_<Q>__<isa>. */
static void BLK_FN(f32_dwconv_blk_8)(const blk_dw_args *a, int ow0) { BLK_FN(blk_dw_tile)(a, ow0, 8); }
static void BLK_FN(f32_dwconv_blk_4)(const blk_dw_args *a, int ow0) { BLK_FN(blk_dw_tile)(a, ow0, 4); }
static void BLK_FN(f32_dwconv_blk_2)(const blk_dw_args *a, int ow0) { BLK_FN(blk_dw_tile)(a, ow0, 2); }
static void BLK_FN(f32_dwconv_blk_1)(const blk_dw_args *a, int ow0) { BLK_FN(blk_dw_tile)(a, ow0, 1); }

/* Short rows (BLK_DW_SHORT outputs or fewer: 7x7 and 14x14 maps) in tiles
 * as even as 8 allows (14 -> 7 7, 12 -> 6 6, 7 -> 7): each pixel of a
 * tile is an independent FMA chain, and 8 + 4 + 2 on a 14-wide row left
 * the 4 and 2 tiles waiting on the FMA latency. Columns [ow0, ow1), all
 * interior. (Longer rows keep 8s and then 4, 2, 1: with these tiles there
 * too, the 56x56 and 112x112 layers measured slower or no faster.) */
#define BLK_DW_SHORT 16
static void __attribute__((noinline)) BLK_FN(f32_dwconv_blk_even)(const blk_dw_args *a, int ow0, int ow1) {
    const int n = ow1 - ow0;
    if (n <= 0) return;
    const int nt = (n + 7) / 8;
    int ow = ow0;
    for (int t = 0; t < nt; ++t) {
        const int P = (ow1 - ow + (nt - t) - 1) / (nt - t);
        switch (P) {
        case 8: BLK_FN(blk_dw_tile)(a, ow, 8); break;
        case 7: BLK_FN(blk_dw_tile)(a, ow, 7); break;
        case 6: BLK_FN(blk_dw_tile)(a, ow, 6); break;
        case 5: BLK_FN(blk_dw_tile)(a, ow, 5); break;
        case 4: BLK_FN(blk_dw_tile)(a, ow, 4); break;
        case 3: BLK_FN(blk_dw_tile)(a, ow, 3); break;
        case 2: BLK_FN(blk_dw_tile)(a, ow, 2); break;
        default: BLK_FN(blk_dw_tile)(a, ow, 1); break;
        }
        ow += P;
    }
}

/* Output row oh of channel block cb, its input block at xb holding the
 * image's rows from row_off on (0: the whole block). */
static void BLK_FN(blk_dw_row)(const cpu_conv2d *d, const blk_geom *g, const float *packed, const float *xb,
                               int row_off, const float *sum, float *y, int cb, int oh) {
    const int CB = (d->C + VW - 1) / VW;
    blk_dw_args a;
    a.g = g;
    a.e = &d->epi;
    a.x = xb;
    a.w = packed + (size_t)cb * g->KH * g->KW * VW;
    a.bias = V_LOAD(packed + (size_t)CB * g->KH * g->KW * VW + (size_t)cb * VW);
    const size_t yo = ((size_t)cb * g->OH + oh) * g->OW * VW;
    a.y = y + yo;
    a.s = sum ? sum + yo : NULL;
    a.nv = d->C - cb * VW < VW ? d->C - cb * VW : VW;
    a.ih0 = oh * g->SH - g->PT;
    BLK_FN(blk_taps)(a.ih0, g->DH, g->KH, g->H, &a.kh0, &a.kh1);
    a.ih0 -= row_off; /* the taps in [kh0, kh1) read rows from row_off on */
    int ow = 0;
    for (; ow < g->ow_lo; ++ow) BLK_FN(blk_dw_pixel)(&a, ow);
    if (g->ow_hi - ow <= BLK_DW_SHORT) {
        BLK_FN(f32_dwconv_blk_even)(&a, ow, g->ow_hi);
        ow = g->ow_hi < ow ? ow : g->ow_hi;
    }
    for (; ow + 8 <= g->ow_hi; ow += 8) BLK_FN(f32_dwconv_blk_8)(&a, ow);
    if (ow + 4 <= g->ow_hi) BLK_FN(f32_dwconv_blk_4)(&a, ow), ow += 4;
    if (ow + 2 <= g->ow_hi) BLK_FN(f32_dwconv_blk_2)(&a, ow), ow += 2;
    if (ow + 1 <= g->ow_hi) BLK_FN(f32_dwconv_blk_1)(&a, ow), ow += 1;
    for (; ow < g->OW; ++ow) BLK_FN(blk_dw_pixel)(&a, ow);
}

static void BLK_FN(blk_dw_item)(const cpu_conv2d *d, const blk_geom *g, const float *packed, const float *x,
                                const float *sum, float *y, int cb, int oh) {
    BLK_FN(blk_dw_row)(d, g, packed, x + (size_t)cb * g->H * g->W * VW, 0, sum, y, cb, oh);
}

/* Channel block cb of the image through its zero-padded plane (pad,
 * blk_dw_pad_floats): copied once, then every row of outputs in tiles.
 * On 14x14 maps the two border pixels of each row took a third of the
 * time through blk_dw_pixel (C384 14x14 3x3, AVX2, AMD EPYC). */
static void BLK_FN(blk_dw_plane)(const cpu_conv2d *d, const blk_geom *g, const float *packed, const float *x,
                                 const float *sum, float *y, int cb, float *pad) {
    const int Hp = d->H + d->PT + d->PB, Wp = d->W + d->PL + d->PR;
    const float *xb = x + (size_t)cb * d->H * d->W * VW;
    /* the top and bottom pad rows, then each row: left pad, the row, right pad */
    memset(pad, 0, (size_t)d->PT * Wp * VW * sizeof(float));
    memset(pad + (size_t)(d->PT + d->H) * Wp * VW, 0, (size_t)d->PB * Wp * VW * sizeof(float));
    for (int h = 0; h < d->H; ++h) {
        float *r = pad + (size_t)(d->PT + h) * Wp * VW;
        memset(r, 0, (size_t)d->PL * VW * sizeof(float));
        memcpy(r + (size_t)d->PL * VW, xb + (size_t)h * d->W * VW, (size_t)d->W * VW * sizeof(float));
        memset(r + (size_t)(d->PL + d->W) * VW, 0, (size_t)d->PR * VW * sizeof(float));
    }
    blk_geom gp = *g;
    gp.H = Hp, gp.W = Wp, gp.PT = 0, gp.PL = 0, gp.ow_lo = 0, gp.ow_hi = g->OW;
    const int CB = (d->C + VW - 1) / VW;
    blk_dw_args a;
    a.g = &gp;
    a.e = &d->epi;
    a.x = pad;
    a.w = packed + (size_t)cb * g->KH * g->KW * VW;
    a.bias = V_LOAD(packed + (size_t)CB * g->KH * g->KW * VW + (size_t)cb * VW);
    a.nv = d->C - cb * VW < VW ? d->C - cb * VW : VW;
    a.kh0 = 0, a.kh1 = g->KH;
    for (int oh = 0; oh < g->OH; ++oh) {
        const size_t yo = ((size_t)cb * g->OH + oh) * g->OW * VW;
        a.y = y + yo;
        a.s = sum ? sum + yo : NULL;
        a.ih0 = oh * g->SH;
        BLK_FN(f32_dwconv_blk_even)(&a, 0, g->OW);
    }
}

static void BLK_FN(blk_dw_task)(void *vc, int tid, int64_t i0, int64_t i1) {
    const BLK_FN(blk_par) *c = vc;
    if (c->per_thread) {
        float *pad = (float *)c->scratch + (size_t)tid * c->per_thread;
        for (int cb = (int)i0; cb < (int)i1; ++cb) BLK_FN(blk_dw_plane)(c->d, c->g, c->packed, c->x, c->sum, c->y, cb, pad);
        return;
    }
    for (int it = (int)i0; it < (int)i1; ++it)
        BLK_FN(blk_dw_item)(c->d, c->g, c->packed, c->x, c->sum, c->y, it / c->g->OH, it % c->g->OH);
}

/* scratch: NULL, or blk_dw_pad_floats(d, VW) floats per thread (padded
 * planes, one channel block a unit); else rows are the units. */
void BLK_FN(cpu_conv_dw_blk_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                 float *y, void *scratch) {
    blk_geom g;
    blk_geom_init(d, &g);
    const int CB = (d->C + VW - 1) / VW;
    const size_t per_thread = scratch ? blk_dw_pad_floats(d, VW) : 0;
    const int items = per_thread ? CB : CB * g.OH;
    int nthr = d->threads < 1 ? 1 : d->threads;
    if (nthr > items) nthr = items;
    BLK_FN(blk_par) c = {d, &g, packed, x, sum, y, scratch, per_thread, 1, 0, 1};
    if (nthr <= 1) {
        BLK_FN(blk_dw_task)(&c, 0, 0, items);
        return;
    }
    cpu_parallel_for(nthr, items, 0, BLK_FN(blk_dw_task), &c);
}

/* ---- 1x1 expansion + depthwise, fused (f32_conv1x1_blk_dwconv_fused) ----
 * a: the 1x1 conv (stride 1, unpadded, one group; packed as the direct
 * kernel's), d: the depthwise conv reading its output (packed as the
 * depthwise kernel's). Work units: a pair of the expanded channel blocks
 * and a band of d's output rows. A unit walks its band a chunk of output
 * rows at a time (blk_pwdw_chunk): the expansion writes the input rows the
 * chunk reads that the buffer lacks, with a's bias and activation, through
 * the direct kernel's 1x1 tiles (the rows are contiguous pixels), and the
 * depthwise row kernel reads them from there; the rows the next chunk
 * reads again move to the buffer's front. The expanded tensor is never
 * written whole; each band recomputes the rows it shares with the one
 * above ((KH - 1) * DH + 1 - SH of them). */
typedef struct BLK_FN(blk_pwdw_ctx) {
    const cpu_conv2d *a, *d;
    const blk_geom *ga, *gd;
    const float *apk, *dpk, *x, *sum;
    float *y, *scratch;
    size_t per_thread;
    int bands, chunk, rows_cap;
} BLK_FN(blk_pwdw_ctx);

static void BLK_FN(blk_pwdw_unit)(const BLK_FN(blk_pwdw_ctx) * c, int pair, int oa, int ob, float *buf) {
    const cpu_conv2d *a = c->a, *d = c->d;
    const int MB = (d->C + VW - 1) / VW, CB = (a->C + VW - 1) / VW;
    const int mb = 2 * pair, NB = mb + 1 < MB ? 2 : 1;
    const int H = d->H, W = d->W, span = (d->KH - 1) * d->DH + 1;
    const size_t rowf = (size_t)W * VW, bstride = (size_t)c->rows_cap * rowf;
    blk_direct_args e;
    e.g = c->ga;
    e.e = &a->epi;
    e.CB = CB;
    e.x_cb = (size_t)H * rowf;
    e.x_kh = 0;
    e.x_off = 0;
    e.w_mb = (size_t)CB * VW * VW;
    e.w = c->apk + (size_t)mb * e.w_mb;
    e.b = c->apk + (size_t)MB * e.w_mb + (size_t)mb * VW;
    e.s = NULL;
    e.y_mb = bstride;
    e.nv0 = a->M - mb * VW < VW ? a->M - mb * VW : VW;
    e.nv1 = NB > 1 ? (a->M - (mb + 1) * VW < VW ? a->M - (mb + 1) * VW : VW) : 0;
    e.kh0 = 0, e.kh1 = 1, e.ih0 = 0;
    e.pf = e.pf_end = NULL;
    e.pf_lines = 0;
    int blo = 0, bhi = 0; /* the buffer holds input rows [blo, bhi) */
    for (int oh0 = oa; oh0 < ob; oh0 += c->chunk) {
        const int oh1 = ob - oh0 < c->chunk ? ob : oh0 + c->chunk;
        int lo = oh0 * d->SH - d->PT, hi = (oh1 - 1) * d->SH - d->PT + span;
        lo = lo < 0 ? 0 : lo > H ? H : lo;
        hi = hi > H ? H : hi < lo ? lo : hi;
        if (oh0 == oa || lo >= bhi) {
            blo = bhi = lo;
        } else if (lo > blo) {
            for (int j = 0; j < NB; ++j)
                memmove(buf + (size_t)j * bstride, buf + (size_t)j * bstride + (size_t)(lo - blo) * rowf,
                        (size_t)(bhi - lo) * rowf * sizeof(float));
            blo = lo;
        }
        if (hi > bhi) { /* expand rows [bhi, hi): tiles as even as BLK_PMAX allows */
            e.x = c->x + (size_t)bhi * rowf;
            e.y = buf + (size_t)(bhi - blo) * rowf;
            const int n = (hi - bhi) * W, nt = (n + BLK_PMAX - 1) / BLK_PMAX;
            for (int t = 0, ow = 0; t < nt; ++t) {
                const int P = (n - ow + (nt - t) - 1) / (nt - t);
                BLK_FN(f32_conv_blk_tile)(&e, ow, P, NB, 1);
                ow += P;
            }
            bhi = hi;
        }
        for (int j = 0; j < NB; ++j)
            for (int oh = oh0; oh < oh1; ++oh)
                BLK_FN(blk_dw_row)(d, c->gd, c->dpk, buf + (size_t)j * bstride, blo, c->sum, c->y, mb + j, oh);
    }
}

static void BLK_FN(blk_pwdw_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    const BLK_FN(blk_pwdw_ctx) *c = vc;
    float *buf = c->scratch + (size_t)tid * c->per_thread;
    const int OH = c->d->OH;
    const int pairs = ((c->d->C + VW - 1) / VW + 1) / 2;
    for (int64_t u = u0; u < u1; ++u) { /* band-major */
        const int band = (int)(u / pairs), pair = (int)(u % pairs);
        const int oa = (int)((long long)OH * band / c->bands), ob = (int)((long long)OH * (band + 1) / c->bands);
        if (ob > oa) BLK_FN(blk_pwdw_unit)(c, pair, oa, ob, buf);
    }
}

/* One image; scratch: blk_pwdw_floats(d, VW) floats for each of
 * d->threads threads. */
void BLK_FN(cpu_conv_pw_dw_blk_run)(const cpu_conv2d *a, const void *apacked, const cpu_conv2d *d,
                                    const void *dpacked, const float *x, const float *sum, float *y, void *scratch) {
    blk_geom ga, gd;
    blk_geom_init(a, &ga);
    blk_geom_init(d, &gd);
    const int MB = (d->C + VW - 1) / VW, pairs = (MB + 1) / 2;
    int nthr = d->threads < 1 ? 1 : d->threads, rows_cap;
    const int chunk = blk_pwdw_chunk(d, VW, &rows_cap);
    /* Each thread at home in the same share of the work: its own pairs
     * where they split evenly (no recomputed rows), else its own band of
     * the rows over every pair (the band's input rows stay in its cache) */
    const int even_pairs = pairs % nthr == 0 && MB % 2 == 0;
    const int bands = nthr <= 1 || even_pairs ? 1 : nthr < d->OH ? nthr : d->OH;
    const int units = pairs * bands;
    if (nthr > units) nthr = units;
    BLK_FN(blk_pwdw_ctx) c = {a, d, &ga, &gd, apacked, dpacked, x, sum, y, scratch, blk_pwdw_floats(d, VW),
                              bands, chunk, rows_cap};
    if (nthr <= 1) {
        BLK_FN(blk_pwdw_task)(&c, 0, 0, units);
        return;
    }
    cpu_parallel_for_home(nthr, units, 1, BLK_FN(blk_pwdw_task), &c);
}

#endif /* BLK_GEOM_ONLY */
