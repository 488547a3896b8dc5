/*
 * conv_winograd_tmpl.h - Winograd F(4x4, 3x3) convolution, written once
 * over conv_special_vec.h and compiled per ISA. Include after
 * conv_special_vec.h with WG_SUFFIX, WG_MR and WG_NR defined; it defines
 * cpu_wino_run__<suffix> (declared in conv_winograd.c).
 *
 * Each 4x4 output tile comes from a 6x6 input patch d and the transformed
 * 3x3 filter U = G g G^T (packed at compile time, conv_winograd.c):
 *     Y = A^T [ sum_c U[m][c] (.) (B^T d[c] B) ] A
 * so the 36 positions of the transformed domain are 36 independent GEMMs
 * over the channels: 36 M*C multiplies per 16 outputs instead of 144 M*C.
 *
 * Data flow for one image (VW = floats per vector):
 *  1. x [C][H][W] is copied, zero-padded, into xc [C/VW][Hp][Wp][VW]
 *     (channels innermost), so one vector load takes a pixel of VW
 *     channels and no patch needs a bounds check. Threads split the
 *     channel blocks.
 *  2. Threads then take blocks of `nt` tiles. For a block: the input
 *     transform writes V [36][nt][Cpad] (vector ops over channels); then
 *     for each block of Mblk = WG_NR*VW output channels, 36 GEMMs
 *     O[p][t][m] = sum_c V[p][t][c] U[p][c][m] run in WG_MR x WG_NR
 *     register tiles (WG_MR tiles broadcast, WG_NR vectors of channels),
 *     and the output transform turns O into 4x4 pixels of VW channels,
 *     applies bias, sum and the activation, and stores them into y.
 *  nt trades U traffic (all of U per block) against V's cache footprint.
 */
#ifndef WG_SUFFIX
#error "define WG_SUFFIX"
#endif

#include <string.h>

#include "cpu_pool.h"

#ifndef ENGINE_CPU_WG_GEOM_
#define ENGINE_CPU_WG_GEOM_
/* The layout for one ISA: vw floats per vector, mr tiles and mblk output
 * channels per register tile. */
typedef struct wg_geom {
    int vw, mr, mblk;
    int TH, TW, T;     /* 4x4 tiles down, across, in all */
    int Hp, Wp;        /* the padded input plane: 4*TH + 2, 4*TW + 2 */
    int Cpad, Mpad;    /* C rounded up to vw, M to mblk */
    int nt;            /* tiles per block (a multiple of mr) */
    int threads;       /* threads the parallel region starts */
    int split_m;       /* threads split each block's channel panels */
    size_t xc_floats;  /* the packed input, shared */
    size_t v_floats;   /* per thread: V [36][nt][Cpad] */
    size_t o_floats;   /* per thread: O [36][nt][mblk] */
} wg_geom;

static inline size_t wg_round16(size_t n) { return (n + 15) / 16 * 16; }

static inline void wg_geom_init(const cpu_conv2d *d, int vw, int mr, int mblk, wg_geom *g) {
    g->vw = vw, g->mr = mr, g->mblk = mblk;
    g->TH = (d->OH + 3) / 4;
    g->TW = (d->OW + 3) / 4;
    g->T = g->TH * g->TW;
    g->Hp = 4 * g->TH + 2;
    g->Wp = 4 * g->TW + 2;
    g->Cpad = (d->C + vw - 1) / vw * vw;
    g->Mpad = (d->M + mblk - 1) / mblk * mblk;
    int thr = d->threads < 1 ? 1 : d->threads;
    /* Every block streams all of U (36*M*C floats) once, so more tiles per
     * block mean less U traffic, while V [36][nt][Cpad] is re-read once per
     * Mblk panel and must stay in cache: ~2 MiB of V measured best (a
     * 112x112 C128 layer: 30 ms at 512 KiB, 17 ms at 2 MiB, 60 ms at 8 MiB). */
    int nt = (int)(524288 / (36 * (size_t)g->Cpad));
    nt = nt / mr * mr;
    if (nt < mr) nt = mr;
    if (nt > 16 * mr) nt = 16 * mr;
    if (nt > (g->T + mr - 1) / mr * mr) nt = (g->T + mr - 1) / mr * mr;
    int blocks = (g->T + nt - 1) / nt;
    /* Few blocks for the threads (small images): every thread transforms
     * each block and the threads split its output-channel panels, so U is
     * still streamed once per block, not once per thread. Otherwise threads
     * take whole blocks, made small enough that every thread gets one. */
    const int nmb = g->Mpad / mblk;
    g->split_m = thr > 1 && blocks < 2 * thr && nmb >= 2;
    if (!g->split_m && blocks < thr) {
        int per = (g->T + thr - 1) / thr;
        per = (per + mr - 1) / mr * mr;
        if (nt > per) nt = per;
        blocks = (g->T + nt - 1) / nt;
    }
    g->nt = nt;
    if (g->split_m) g->threads = thr < nmb ? thr : nmb;
    else g->threads = thr < blocks ? thr : blocks;
    if (g->threads < 1) g->threads = 1;
    g->xc_floats = wg_round16((size_t)g->Cpad * g->Hp * g->Wp);
    g->v_floats = wg_round16((size_t)36 * nt * g->Cpad);
    g->o_floats = wg_round16((size_t)36 * nt * mblk);
}

/* Scratch for any thread count up to d->threads (the parallel region may
 * start fewer). */
static inline size_t wg_scratch_floats(const cpu_conv2d *d, int vw, int mr, int mblk) {
    wg_geom g;
    wg_geom_init(d, vw, mr, mblk, &g);
    return g.xc_floats + (size_t)g.threads * (g.v_floats + g.o_floats);
}
#endif

#define WG_CAT2_(a, b) a##__##b
#define WG_CAT_(a, b) WG_CAT2_(a, b)
#define WG_FN(name) WG_CAT_(name, WG_SUFFIX)
#define WG_MBLK (WG_NR * VW)

/* The interpolation points are 0, 1, -1, 1/2, -2 and infinity, not Lavin &
 * Gray's 0, +-1, +-2: with 1/2 in place of 2 the transforms' entries stay
 * at or below 2.5 in B^T (5 before) and the float32 error of the whole
 * convolution drops 2-3x (Barabasz et al., "Error analysis and improving
 * the accuracy of Winograd convolution for deep neural networks", 2020;
 * measured here by test_winograd and on the op cases). Every constant of
 * B^T and A^T is a dyadic rational, so no transform multiplies inexactly;
 * G (in conv_winograd.c) holds the thirds and fifteenths.
 *
 * B^T applied to a column of 6 (rows by point 0, 1, -1, 1/2, -2, inf):
 *   o0 = d0 - 1.5 d1 - 2 d2 + 1.5 d3 + d4
 *   o1 =    - d1 + 0.5 d2 + 2.5 d3 + d4
 *   o2 =      d1 - 2.5 d2 + 0.5 d3 + d4
 *   o3 =   - 2 d1 -   d2 +   2 d3 + d4
 *   o4 =   0.5 d1 -   d2 - 0.5 d3 + d4
 *   o5 =      d1 - 1.5 d2 -   2 d3 + 1.5 d4 + d5 */
static inline void WG_FN(wg_bt)(const vf d[6], vf o[6]) {
    const vf h = V_SET1(0.5f), one5 = V_SET1(1.5f), two = V_SET1(2.0f), two5 = V_SET1(2.5f);
    const vf mh = V_SET1(-0.5f), m2 = V_SET1(-2.0f), m25 = V_SET1(-2.5f);
    vf d3m1 = V_SUB(d[3], d[1]), d4m2 = V_SUB(d[4], d[2]);
    o[0] = V_FMA(one5, d3m1, V_FMA(m2, d[2], V_ADD(d[0], d[4])));
    o[1] = V_FMA(two5, d[3], V_FMA(h, d[2], V_SUB(d[4], d[1])));
    o[2] = V_FMA(h, d[3], V_FMA(m25, d[2], V_ADD(d[4], d[1])));
    o[3] = V_FMA(two, d3m1, d4m2);
    o[4] = V_FMA(mh, d3m1, d4m2);
    o[5] = V_FMA(one5, d4m2, V_FMA(m2, d[3], V_ADD(d[5], d[1])));
}

/* A^T applied to a column of 6 -> 4 (columns by the same points):
 *   r0 = o0 + o1 + o2 +       o3 +   o4
 *   r1 =      o1 - o2 + 0.5   o3 - 2 o4
 *   r2 =      o1 + o2 + 0.25  o3 + 4 o4
 *   r3 =      o1 - o2 + 0.125 o3 - 8 o4 + o5 */
static inline void WG_FN(wg_at)(const vf o[6], vf r[4]) {
    vf a12 = V_ADD(o[1], o[2]), s12 = V_SUB(o[1], o[2]);
    r[0] = V_ADD(V_ADD(o[0], a12), V_ADD(o[3], o[4]));
    r[1] = V_FMA(V_SET1(0.5f), o[3], V_FMA(V_SET1(-2.0f), o[4], s12));
    r[2] = V_FMA(V_SET1(0.25f), o[3], V_FMA(V_SET1(4.0f), o[4], a12));
    r[3] = V_FMA(V_SET1(0.125f), o[3], V_FMA(V_SET1(-8.0f), o[4], V_ADD(s12, o[5])));
}

/* Step 1: channel block cb of x into xc. */
static void WG_FN(wg_pack_input)(const cpu_conv2d *d, const wg_geom *g, const float *x, float *xc, int cb) {
    const int Hp = g->Hp, Wp = g->Wp, W = d->W;
    float *blk = xc + (size_t)cb * Hp * Wp * VW;
    for (int hp = 0; hp < Hp; ++hp) {
        float *row = blk + (size_t)hp * Wp * VW;
        const int ih = hp - d->PT;
        for (int j = 0; j < VW; ++j) {
            const int c = cb * VW + j;
            if (c >= d->C || ih < 0 || ih >= d->H) {
                for (int wp = 0; wp < Wp; ++wp) row[(size_t)wp * VW + j] = 0.0f;
                continue;
            }
            const float *xr = x + ((size_t)c * d->H + ih) * W;
            for (int wp = 0; wp < Wp; ++wp) {
                const int iw = wp - d->PL;
                row[(size_t)wp * VW + j] = iw >= 0 && iw < W ? xr[iw] : 0.0f;
            }
        }
    }
}

/* Step 2a: tile t (local index tl) of every channel block into V. */
static void WG_FN(wg_input_tile)(const wg_geom *g, const float *xc, int t, int tl, float *V) {
    const int ty = t / g->TW, tx = t % g->TW, Hp = g->Hp, Wp = g->Wp, Cb = g->Cpad / VW;
    const size_t pstride = (size_t)g->nt * g->Cpad; /* V: one position to the next */
    for (int cb = 0; cb < Cb; ++cb) {
        const float *p0 = xc + (((size_t)cb * Hp + 4 * ty) * Wp + 4 * tx) * VW;
        vf tmp[6][6];
        for (int c = 0; c < 6; ++c) {
            vf col[6];
            for (int r = 0; r < 6; ++r) col[r] = V_LOAD(p0 + ((size_t)r * Wp + c) * VW);
            vf o[6];
            WG_FN(wg_bt)(col, o);
            for (int r = 0; r < 6; ++r) tmp[r][c] = o[r];
        }
        float *v = V + (size_t)tl * g->Cpad + (size_t)cb * VW;
        for (int r = 0; r < 6; ++r) {
            vf o[6];
            WG_FN(wg_bt)(tmp[r], o);
            for (int c = 0; c < 6; ++c) V_STORE(v + (size_t)(r * 6 + c) * pstride, o[c]);
        }
    }
}

/* Step 2b: WG_MR tiles x WG_MBLK channels of one position over all Cpad
 * channels. v: the first tile's row of V (rows Cpad apart), u: the Mblk
 * panel [Cpad][Mblk], o: rows Mblk apart. The channels are summed in
 * chunks of WG_KC into fresh registers, then added to o: a long float sum
 * loses accuracy in its running total, and the output transform amplifies
 * that; two levels of ~sqrt(C) terms keep both totals short. Worst error
 * over the test's C = 256 / 512 layers as a fraction of the tolerance:
 * 1.2 unchunked (fails), 0.80 with chunks of 64, 0.74 of 32, 0.66 of 16,
 * fails again at 8 (64 chunk totals make a long sum of their own). */
#define WG_KC 16
/* pf, pf_end, pf_n: a slice of the next U panel, prefetched pf_n lines a
 * chunk (none when pf_n is 0; see wg_block_panel). */
static inline void WG_FN(wg_gemm_tile)(const float *v, const float *u, float *o, int Cpad, const char *pf,
                                       const char *pf_end, int pf_n) {
    for (int c0 = 0; c0 < Cpad; c0 += WG_KC) {
        const int c1 = Cpad - c0 < WG_KC ? Cpad : c0 + WG_KC;
        for (int j = 0; j < pf_n && pf < pf_end; ++j, pf += 64) __builtin_prefetch(pf, 0, 2);
        vf acc[WG_MR][WG_NR];
#pragma GCC unroll 16
        for (int r = 0; r < WG_MR; ++r)
#pragma GCC unroll 4
            for (int j = 0; j < WG_NR; ++j) acc[r][j] = V_ZERO();
        for (int c = c0; c < c1; ++c) {
            vf uu[WG_NR];
#pragma GCC unroll 4
            for (int j = 0; j < WG_NR; ++j) uu[j] = V_LOAD(u + (size_t)c * WG_MBLK + j * VW);
#pragma GCC unroll 16
            for (int r = 0; r < WG_MR; ++r) {
                vf b = V_SET1(v[(size_t)r * Cpad + c]);
#pragma GCC unroll 4
                for (int j = 0; j < WG_NR; ++j) acc[r][j] = V_FMA(b, uu[j], acc[r][j]);
            }
        }
#pragma GCC unroll 16
        for (int r = 0; r < WG_MR; ++r)
#pragma GCC unroll 4
            for (int j = 0; j < WG_NR; ++j) {
                float *op = o + (size_t)r * WG_MBLK + j * VW;
                V_STORE(op, c0 ? V_ADD(V_LOAD(op), acc[r][j]) : acc[r][j]);
            }
    }
}

/* Step 2c: tile t (local tl), channels m0 .. m0+VW-1 (m0 < M) from O to y. */
static void WG_FN(wg_output_tile)(const cpu_conv2d *d, const wg_geom *g, const float *O, const float *bias, int t,
                                  int tl, int m0, int jv, const float *sum, float *y) {
    const int ty = t / g->TW, tx = t % g->TW;
    const size_t pstride = (size_t)g->nt * WG_MBLK;
    const float *o0 = O + (size_t)tl * WG_MBLK + (size_t)jv * VW;
    vf tmp[4][6];
    for (int c = 0; c < 6; ++c) {
        vf col[6], r4[4];
        for (int r = 0; r < 6; ++r) col[r] = V_LOAD(o0 + (size_t)(r * 6 + c) * pstride);
        WG_FN(wg_at)(col, r4);
        for (int r = 0; r < 4; ++r) tmp[r][c] = r4[r];
    }
    const int nm = d->M - m0 < VW ? d->M - m0 : VW;
    const size_t plane = (size_t)d->OH * d->OW;
    const vf bv = V_LOAD(bias + m0);
    const int ncols = d->OW - 4 * tx < 4 ? d->OW - 4 * tx : 4;
    for (int r = 0; r < 4; ++r) {
        const int oh = 4 * ty + r;
        if (oh >= d->OH) break;
        vf px[4];
        WG_FN(wg_at)(tmp[r], px);
        const size_t off = (size_t)m0 * plane + (size_t)oh * d->OW + 4 * tx;
        csv_store_rows4(px, bv, y + off, sum ? sum + off : NULL, plane, nm, ncols, &d->epi);
    }
}

/* Step 2a for tiles [t0, t0 + n) of a block; rows past n (up to the
 * register tile) are zeroed so the GEMM reads zeros, not stale data. */
static void WG_FN(wg_block_input)(const wg_geom *g, const float *xc, int t0, int n, float *V) {
    const int ng = (n + WG_MR - 1) / WG_MR;
    for (int p = 0; p < 36; ++p)
        memset(V + ((size_t)p * g->nt + n) * g->Cpad, 0, sizeof(float) * (size_t)(ng * WG_MR - n) * g->Cpad);
    for (int tl = 0; tl < n; ++tl) WG_FN(wg_input_tile)(g, xc, t0 + tl, tl, V);
}

/* Bytes of U from which the GEMMs prefetch the next panel. */
#define WG_PF_MIN_BYTES ((size_t)1 << 20)

/* Steps 2b and 2c for one block and one Mblk panel mb. */
static void WG_FN(wg_block_panel)(const cpu_conv2d *d, const wg_geom *g, const float *U, const float *bias,
                                  const float *V, float *O, int t0, int n, int mb, const float *sum, float *y) {
    const int nmb = g->Mpad / WG_MBLK, nt = g->nt;
    const int ng = (n + WG_MR - 1) / WG_MR; /* register tiles; the last may run past n */
    /* Large U (weights from memory at batch 1, 4x the 3x3 filters): the
     * panel the next position reads (or the next panel's first) is
     * prefetched into L2 while this one runs, a share per register tile. */
    const size_t panel = (size_t)g->Cpad * WG_MBLK * sizeof(float);
    const int pf_on = (size_t)36 * nmb * panel >= WG_PF_MIN_BYTES;
    const size_t lines = (panel + 63) / 64;
    const int chunks = ng * ((g->Cpad + WG_KC - 1) / WG_KC);
    const int pf_n = pf_on ? (int)((lines + (size_t)chunks - 1) / (size_t)chunks) : 0;
    for (int p = 0; p < 36; ++p) {
        const float *up = U + ((size_t)p * nmb + mb) * g->Cpad * WG_MBLK;
        const char *next = NULL;
        if (p + 1 < 36) next = (const char *)(U + ((size_t)(p + 1) * nmb + mb) * g->Cpad * WG_MBLK);
        else if (mb + 1 < nmb) next = (const char *)(U + (size_t)(mb + 1) * g->Cpad * WG_MBLK);
        for (int gi = 0; gi < ng; ++gi) {
            const char *pf = next ? next + panel * (size_t)gi / (size_t)ng : NULL;
            const char *pf_end = next ? next + panel * (size_t)(gi + 1) / (size_t)ng : NULL;
            WG_FN(wg_gemm_tile)(V + ((size_t)p * nt + (size_t)gi * WG_MR) * g->Cpad, up,
                                O + ((size_t)p * nt + (size_t)gi * WG_MR) * WG_MBLK, g->Cpad, pf, pf_end,
                                next ? pf_n : 0);
        }
    }
    for (int tl = 0; tl < n; ++tl)
        for (int jv = 0; jv < WG_NR; ++jv) {
            const int m0 = mb * WG_MBLK + jv * VW;
            if (m0 >= d->M) break;
            WG_FN(wg_output_tile)(d, g, O, bias, t0 + tl, tl, m0, jv, sum, y);
        }
}

typedef struct WG_FN(wg_par) {
    const cpu_conv2d *d;
    const wg_geom *g;
    const float *U, *bias, *x, *sum;
    float *y, *xc, *per_thread;
    int nmb, blocks;
    int v_blk[POOL_THREADS_MAX]; /* split_m: the block whose input thread t's V holds (-1: none) */
} WG_FN(wg_par);

static void WG_FN(wg_pack_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const WG_FN(wg_par) *c = vc;
    for (int cb = (int)u0; cb < (int)u1; ++cb) WG_FN(wg_pack_input)(c->d, c->g, c->x, c->xc, cb);
}

/* split_m: a unit is one panel of one block; a thread transforms a block's
 * input into its own V when it first takes a panel of that block (a small
 * share of the work), so no join separates the blocks: the units are
 * claimed in order, and a thread that the OS parks holds one panel. */
static void WG_FN(wg_panel_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    WG_FN(wg_par) *c = vc;
    const wg_geom *g = c->g;
    float *V = c->per_thread + (size_t)tid * (g->v_floats + g->o_floats), *O = V + g->v_floats;
    for (int u = (int)u0; u < (int)u1; ++u) {
        const int blk = u / c->nmb, mb = u % c->nmb;
        const int t0 = blk * g->nt, n = g->T - t0 < g->nt ? g->T - t0 : g->nt;
        if (c->v_blk[tid] != blk) {
            WG_FN(wg_block_input)(g, c->xc, t0, n, V);
            c->v_blk[tid] = blk;
        }
        WG_FN(wg_block_panel)(c->d, g, c->U, c->bias, V, O, t0, n, mb, c->sum, c->y);
    }
}

/* else a unit is a block: its input transform and every panel. */
static void WG_FN(wg_block_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    const WG_FN(wg_par) *c = vc;
    const wg_geom *g = c->g;
    float *V = c->per_thread + (size_t)tid * (g->v_floats + g->o_floats), *O = V + g->v_floats;
    for (int blk = (int)u0; blk < (int)u1; ++blk) {
        const int t0 = blk * g->nt, n = g->T - t0 < g->nt ? g->T - t0 : g->nt;
        WG_FN(wg_block_input)(g, c->xc, t0, n, V);
        for (int mb = 0; mb < c->nmb; ++mb) WG_FN(wg_block_panel)(c->d, g, c->U, c->bias, V, O, t0, n, mb, c->sum, c->y);
    }
}

/* packed: U [36][Mpad/Mblk][Cpad][Mblk], then bias [Mpad] (conv_winograd.c).
 * scratch: xc, then per thread V and O. */
void WG_FN(cpu_wino_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                         void *scratch) {
    wg_geom g;
    wg_geom_init(d, VW, WG_MR, WG_MBLK, &g);
    const int nmb = g.Mpad / WG_MBLK, Cb = g.Cpad / VW, nt = g.nt;
    const float *U = packed;
    const float *bias = U + (size_t)36 * g.Mpad * g.Cpad;
    float *xc = scratch;
    const int blocks = (g.T + nt - 1) / nt;
    int nthr = g.threads < 1 ? 1 : g.threads;
    if (nthr > POOL_THREADS_MAX) nthr = POOL_THREADS_MAX;
    WG_FN(wg_par) c = {d, &g, U, bias, x, sum, y, xc, xc + g.xc_floats, nmb, blocks, {0}};
    for (int t = 0; t < nthr; ++t) c.v_blk[t] = -1;
    cpu_parallel_for(nthr, Cb, 1, WG_FN(wg_pack_task), &c);
    /* the pool's join: xc is complete below */
    if (g.split_m) cpu_parallel_for(nthr, (int64_t)blocks * nmb, 1, WG_FN(wg_panel_task), &c);
    else cpu_parallel_for(nthr, blocks, 1, WG_FN(wg_block_task), &c);
}
