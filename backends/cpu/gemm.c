/* gemm.c - the blocked GEMM driver shared by every ISA, and the ISA
 * selection. The micro-kernels (ukernel_<isa>.c) do the arithmetic; this
 * file packs, tiles and threads.
 *
 * Blocking (the usual packed-GEMM loop nest): K blocks of <= GEMM_KC rows;
 * in each, B blocks of as many NR-column panels as fit GEMM_B_BYTES
 * are packed, then every MR-row A panel's K slice (L1) meets every panel
 * of the B block. So A is read from memory once per B block (once in all
 * when N is small, as on 7x7 maps, where the old panel-at-a-time loop read
 * the whole of A once per 32 columns), and long K (3x3 convs over 512
 * channels) no longer pushes the B panel out of L1/L2 (measured: the
 * blocking does not pay on this machine, see GEMM_KC). Threads take units
 * of B panels (or blocks of A panels when N is small) dynamically, each
 * with its own B block in the scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

void cpu_tile_epilogue(const cpu_kernels *k, const float *t, size_t ldt, float *c, size_t ldc, int mr, int nr,
                       const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    for (int i = 0; i < mr; ++i) {
        float *ci = c + (size_t)i * ldc;
        const float *ti = t + (size_t)i * ldt;
        const float *si = sum ? sum + (size_t)i * ldsum : NULL;
        for (int j = 0; j < nr; ++j) ci[j] = ti[j] + bias[i] + (si ? si[j] : 0.0f);
        k->act_row(epi, ci, (size_t)nr);
    }
}

float cpu_exp_row_portable(float *p, size_t n, float shift) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        p[i] = expf(p[i] - shift);
        sum += p[i];
    }
    return sum;
}

void cpu_softmax_row_portable(const float *x, float *y, size_t n) {
    float mx = x[0];
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
        bad |= x[i] != x[i];
        mx = x[i] > mx ? x[i] : mx;
    }
    if (bad || mx == INFINITY || mx == -INFINITY) {
        for (size_t i = 0; i < n; ++i) y[i] = NAN;
        return;
    }
    if (y != x) memcpy(y, x, n * sizeof *y);
    const float inv = 1.0f / cpu_exp_row_portable(y, n, mx);
    for (size_t i = 0; i < n; ++i) y[i] *= inv;
}

size_t cpu_gemm_packed_a_floats(const cpu_kernels *k, int M, int K) {
    size_t panels = (size_t)(M + k->mr - 1) / (size_t)k->mr;
    return panels * (size_t)k->mr * (size_t)K;
}

/* Panels [t0, t1) of A. A full panel of a row-major A (cs == 1) is read
 * as MR row streams, one float of each per step, with no bounds test per
 * element: the packing of activations at every run (the Gemm/MatMul path's
 * A) was a scalar loop with a test per element, 1-2 ns an element, which
 * on ConvNeXt-T's 10.7M elements a run was a quarter of the run. */
static void pack_a_range(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed,
                         int t0, int t1) {
    const int MR = k->mr;
    for (int t = t0; t < t1; ++t) {
        const int m0 = t * MR;
        float *p = packed + (size_t)t * (size_t)MR * (size_t)K;
        if (cs == 1 && m0 + MR <= M && (MR == 8 || MR == 12)) {
            const float *r[CPU_MAX_MR];
            for (int i = 0; i < MR; ++i) r[i] = A + (size_t)(m0 + i) * rs;
            if (MR == 8) {
                for (int kk = 0; kk < K; ++kk, p += 8)
#pragma GCC unroll 8
                    for (int i = 0; i < 8; ++i) p[i] = r[i][kk];
            } else {
                for (int kk = 0; kk < K; ++kk, p += 12)
#pragma GCC unroll 12
                    for (int i = 0; i < 12; ++i) p[i] = r[i][kk];
            }
        } else if (cs == 1 && m0 + MR <= M) {
            for (int kk = 0; kk < K; ++kk)
                for (int i = 0; i < MR; ++i) *p++ = A[(size_t)(m0 + i) * rs + (size_t)kk];
        } else {
            for (int kk = 0; kk < K; ++kk)
                for (int i = 0; i < MR; ++i)
                    *p++ = m0 + i < M ? A[(size_t)(m0 + i) * rs + (size_t)kk * cs] : 0.0f;
        }
    }
}

void cpu_gemm_pack_a(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed) {
    pack_a_range(k, M, K, A, rs, cs, packed, 0, (M + k->mr - 1) / k->mr);
}

typedef struct pack_a_ctx {
    const cpu_kernels *k;
    int M, K;
    const float *A;
    size_t rs, cs;
    float *packed;
} pack_a_ctx;

static void pack_a_task(void *vc, int tid, int64_t t0, int64_t t1) {
    (void)tid;
    const pack_a_ctx *c = vc;
    pack_a_range(c->k, c->M, c->K, c->A, c->rs, c->cs, c->packed, (int)t0, (int)t1);
}

void cpu_gemm_pack_a_par(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed,
                         int threads) {
    const int panels = (M + k->mr - 1) / k->mr;
    pack_a_ctx c = {k, M, K, A, rs, cs, packed};
    /* a few panels per unit, and the calling thread alone for small A */
    const int par = threads > 1 && (size_t)M * (size_t)K >= 32768;
    cpu_parallel_for(par ? threads : 1, panels, 4, pack_a_task, &c);
}

/* K blocking: K is cut into ceil(K / GEMM_KC) nearly equal blocks. An A
 * panel's slice of one block (MR x kc floats, 16 KB on AVX-512) stays in
 * L1 while it meets every B panel of the block; the B block (kc rows x up
 * to nc columns) stays in L2. Between K blocks the partial sums live in C
 * itself (the micro-kernel's `sum` operand reads them back), so no extra
 * buffer is needed and the epilogue still runs once, after the last FMA of
 * the last block. */
/* Measured (tests/cpu/bench_cpu_conv, one thread, caches flushed, the
 * ResNet-50 GEMM layers, best of 8, summed): KC 512 with a 384 KB B block
 * 33.9 ms, KC 1024 / 128 KB 29.6, KC 2048 / 384 KB 28.8, no K blocking and
 * one B panel at a time 28.3. On this AMD EPYC (1 MB L2 per core, strong
 * prefetchers) a K x 32 panel of even K = 4608 streams well enough, so
 * the blocks are kept as a bound for extreme K only, and a B block is one
 * panel (A panels stream past it, as before the blocking). KC 4096 (two
 * blocks of 2304 for a 3x3 conv over 512 channels) measured 10-15% slower
 * than one block on that layer (C512 7x7 M512: 2.45 -> 2.88 ms), hence a
 * bound only past 8192 (a 1 MB panel). Past it the panels no longer stream
 * well: Faster R-CNN's fc6 (100 RoIs x 12544 -> 1024, Intel Xeon with 2 MB
 * L2, engine-run --bench 20) 31.3 -> 22.4 ms on one thread and 16.9 -> 12.1
 * on two with two blocks of 6272 (blocks of 4096, 2048, 1024, 512: within
 * noise of it). Reading a pre-packed B in place instead of copying each
 * panel's K block into the thread's scratch was 5-10% slower there (the
 * copy streams the block into L2 ahead of the tiles). */
#define GEMM_KC 8192
/* The B block's budget in bytes: one panel (see above). */
#define GEMM_B_BYTES 1u

static int k_block(int K) {
    if (K <= GEMM_KC) return K > 0 ? K : 1;
    int nb = (K + GEMM_KC - 1) / GEMM_KC;
    return (K + nb - 1) / nb;
}

/* B panels per B block for a K block of kc rows (at least one). */
static int nc_panels(const cpu_kernels *k, int kc) {
    size_t per = (size_t)kc * (size_t)k->nr * sizeof(float);
    size_t n = GEMM_B_BYTES / per;
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

/* One thread's B block, in floats (a cache line multiple). */
static size_t block_floats(const cpu_kernels *k, int K) {
    int kc = k_block(K);
    return ((size_t)kc * (size_t)k->nr * (size_t)nc_panels(k, kc) + 15u) / 16u * 16u;
}

/* How cpu_gemm_run splits the work over threads: by B panels (each unit
 * packs its own panel) when there are enough of them, else by blocks of A
 * panels over one B that all threads packed together first (small N, such
 * as 7x7 maps). */
static int split_by_n(const cpu_kernels *k, int M, int N, int K, int threads) {
    const int mt = (M + k->mr - 1) / k->mr, nt = (N + k->nr - 1) / k->nr;
    /* Two panels a thread or fewer, and A four times B or more: A split.
     * Split by N, each thread streams all of A once per panel it takes;
     * on a 7x7 map with AVX2's 16-column panels (N = 49: 4 panels, 2 per
     * thread at 2 threads) that was A twice per thread from L3 (MobileNet
     * v2's 1x1 C160 -> 960: 614 KB of weights). bench_cpu_conv, 2 threads,
     * caches flushed, AMD EPYC Zen 1, ms, N split -> A split: C160 -> 960
     * 0.41 -> 0.32, C320 -> 1280 0.78 -> 0.72, C512 -> 2048 1.89 -> 1.75,
     * C2048 -> 512 1.89 -> 1.80; where A is under 4x B the N split stayed
     * faster (C960 -> 160 0.33 against 0.36, C1024 -> 128 0.28 against
     * 0.30-0.33, C672 -> 192 0.28 against 0.30). */
    /* So is an A of 1 MiB or more (past L2) four times B or more with more
     * panels: split by N each thread streamed A once per panel it took
     * (session 25, 2 threads, AMD EPYC, ms, N split -> A split: C512 ->
     * 1000 13x13 (SqueezeNet's classifier) 2.80-2.86 -> 2.50, C512 ->
     * 2048 14x14 6.27-6.31 -> 5.78, C256 -> 1024 14x14 1.60 -> 1.47;
     * C1024 -> 256 14x14, A about B, 1.49 -> 1.65 stays split by N). */
    const int a_heavy = (nt <= 2 * threads && (long long)M >= 4LL * nt * k->nr) ||
                        ((long long)M * K * (long long)sizeof(float) >= (1LL << 20) && (long long)M >= 4LL * N);
    return threads <= 1 || (mt == 1 && nt == 1) || (nt >= 2 * threads && !a_heavy) || nt >= mt;
}

/* The whole of B, packed (panels of all K rows), for the A split. */
static size_t shared_b_floats(const cpu_kernels *k, int N, int K) {
    const size_t nt = (size_t)(N + k->nr - 1) / (size_t)k->nr;
    return (nt * (size_t)(K > 0 ? K : 1) * (size_t)k->nr + 15u) / 16u * 16u;
}

size_t cpu_gemm_scratch_bytes(const cpu_kernels *k, int M, int N, int K, int threads) {
    if (threads < 1) threads = 1;
    if (!split_by_n(k, M, N, K, threads)) return shared_b_floats(k, N, K) * sizeof(float);
    return block_floats(k, K) * sizeof(float) * (size_t)threads;
}

typedef struct gemm_job {
    const cpu_kernels *k;
    int M, N, K;
    const float *A, *bias, *sum;
    cpu_pack_b_fn pack_b;
    const void *ctx;
    float *C;
    size_t ldc, ldsum;
    const engine_epilogue *epi;
    /* B pre-packed (cpu_gemm_run_packed_b) when the ISA has gemm_pf: the
     * tiles read it in place; else NULL. */
    const float *bpanels;
    /* The rows of K this run covers (B in place, K blocked: one run per
     * block), in blocks of at most kb rows; else 0, K and k_block(K). */
    int k_lo, k_hi, kb;
    size_t lda; /* 0: A packed (cpu_gemm_pack_a); else A's rows in place, lda floats apart (gemm_rows) */
    /* B read in place by gemm_bs (cpu_gemm_run_strided_b): row k at
     * bsrc + k * ldb; else ldb 0 and B is packed by pack_b. */
    const float *bsrc;
    size_t ldb;
} gemm_job;

/* How many B panels ahead gemm_tile prefetches the residual. */
#define GEMM_PF_PANELS 2

/* One register tile: A panel t times the B panel b (rows k0 .. k0+kc-1)
 * into C's tile (t, q). The first K block adds the bias and the residual,
 * later ones the partial sum already in C; the activation comes with the
 * last block (mid: the epilogue without it). */
static void gemm_tile(const gemm_job *j, int t, int q, int k0, int kc, const float *b, const engine_epilogue *mid,
                      const char *pf, int pf_lines) {
    static const float zeros[CPU_MAX_MR]; /* the bias of every K block but the first */
    const cpu_kernels *k = j->k;
    const int MR = k->mr, NR = k->nr;
    const int m0 = t * MR, mr = j->M - m0 < MR ? j->M - m0 : MR;
    const int n0 = q * NR, nr = j->N - n0 < NR ? j->N - n0 : NR;
    const int first = k0 == 0, last = k0 + kc >= j->K;
    const float *a = j->lda ? j->A + (size_t)m0 * j->lda + (size_t)k0
                            : j->A + (size_t)t * (size_t)MR * (size_t)j->K + (size_t)k0 * (size_t)MR;
    float *c = j->C + (size_t)m0 * j->ldc + (size_t)n0;
    const float *sum = first ? (j->sum ? j->sum + (size_t)m0 * j->ldsum + (size_t)n0 : NULL) : c;
    const size_t ldsum = first ? j->ldsum : j->ldc;
    /* The residual's rows are long (a conv's output planes) and a tile
     * reads NR floats of each: the same rows of the tile GEMM_PF_PANELS
     * panels on, prefetched now, since the hardware prefetcher does not
     * follow MR streams a plane apart. ResNet-50's 1x1 C64 -> 256 at 56x56
     * with its residual, caches flushed, one thread (bench_cpu_conv with
     * BENCH_SUM=1): 0.99-1.21 -> 0.84-0.90 ms. Prefetching C's lines for
     * writing as well did not help (0.90-0.95). */
    if (first && j->sum && n0 + (GEMM_PF_PANELS + 1) * NR <= j->N) {
        const size_t ahead = (size_t)GEMM_PF_PANELS * (size_t)NR;
        for (int i = 0; i < mr; ++i) {
            const float *si = sum + (size_t)i * ldsum + ahead;
            __builtin_prefetch(si);
            __builtin_prefetch(si + NR - 1);
        }
    }
    if (j->ldb)
        k->gemm_bs(kc, a, j->bsrc + (size_t)k0 * j->ldb + (size_t)n0, j->ldb, c, j->ldc, mr, nr,
                   first ? j->bias + m0 : zeros, sum, ldsum, last ? j->epi : mid);
    else if (j->lda)
        k->gemm_rows(kc, a, j->lda, b, c, j->ldc, mr, nr, first ? j->bias + m0 : zeros, sum, ldsum,
                     last ? j->epi : mid, pf, pf_lines);
    else if (pf)
        k->gemm_pf(kc, a, b, c, j->ldc, mr, nr, first ? j->bias + m0 : zeros, sum, ldsum, last ? j->epi : mid, pf,
                   pf_lines);
    else k->gemm(kc, a, b, c, j->ldc, mr, nr, first ? j->bias + m0 : zeros, sum, ldsum, last ? j->epi : mid);
}

/* B in place (j->bpanels): the tiles of A panels [t0, t1) against panel q
 * (K block k0, kc rows) while the same K block of panel q + 1 (when
 * q + 1 < pf_end, the panels this thread goes on to) is prefetched into
 * L2, its lines shared out over the tiles. A dense layer's weights come
 * from memory (a ViT-B/16 layer's 28 MB stay in no cache between runs):
 * copying each panel into the scratch first waited on memory with the
 * FMAs idle (14% of ViT-B/16's time at one thread was that memcpy). */
static void gemm_tiles_in_place(const gemm_job *j, int t0, int t1, int q, int k0, int kc, int pf_end,
                                const engine_epilogue *mid) {
    const int NR = j->k->nr;
    const float *b = j->bpanels + ((size_t)q * (size_t)j->K + (size_t)k0) * (size_t)NR;
    const char *next = q + 1 < pf_end ? (const char *)(b + (size_t)j->K * (size_t)NR) : NULL;
    const int lines = (int)(((size_t)kc * (size_t)NR * sizeof(float) + 63) / 64);
    const int share = (lines + (t1 - t0) - 1) / (t1 - t0);
    for (int t = t0; t < t1; ++t) {
        const int l0 = (t - t0) * share, nl = lines - l0 < share ? lines - l0 : share;
        gemm_tile(j, t, q, k0, kc, b, mid, next && nl > 0 ? next + (size_t)l0 * 64u : NULL, nl);
    }
}

/* Rows [t0, t1) of A panels times columns of B panels [p0, p1), all of K,
 * on the calling thread, with `block` (block_floats) as its B scratch
 * (unused when B is read in place, prefetched up to panel pf_end). */
static void gemm_range(const gemm_job *j, int t0, int t1, int p0, int p1, float *block, int pf_end) {
    const cpu_kernels *k = j->k;
    const int NR = k->nr, K = j->K;
    const int kc_max = j->kb, ncp = nc_panels(k, kc_max);
    engine_epilogue mid = *j->epi;
    mid.act = ENGINE_ACT_NONE;
    for (int k0 = j->k_lo; k0 < j->k_hi || (K == 0 && k0 == 0); k0 += kc_max) {
        int kc = j->k_hi - k0 < kc_max ? j->k_hi - k0 : kc_max;
        if (j->bpanels) {
            for (int q = p0; q < p1; ++q) gemm_tiles_in_place(j, t0, t1, q, k0, kc, pf_end, &mid);
            continue;
        }
        if (j->ldb) {
            for (int q = p0; q < p1; ++q)
                for (int t = t0; t < t1; ++t) gemm_tile(j, t, q, k0, kc, NULL, &mid, NULL, 0);
            continue;
        }
        for (int q0 = p0; q0 < p1; q0 += ncp) {
            int q1 = q0 + ncp < p1 ? q0 + ncp : p1;
            for (int q = q0; q < q1; ++q) {
                int n0 = q * NR, nr = j->N - n0 < NR ? j->N - n0 : NR;
                j->pack_b(j->ctx, n0, nr, NR, k0, kc, block + (size_t)(q - q0) * (size_t)kc * (size_t)NR);
            }
            for (int t = t0; t < t1; ++t)
                for (int q = q0; q < q1; ++q)
                    gemm_tile(j, t, q, k0, kc, block + (size_t)(q - q0) * (size_t)kc * (size_t)NR, &mid, NULL, 0);
        }
        if (K == 0) break;
    }
}

/* The A split's K block: the B block (kc rows of every panel) is kept to
 * GEMM_SHARED_B_BYTES so that it stays in L2 while the A panels of a unit
 * stream past it. Measured (bench_cpu_conv C512 7x7 M512 3x3, 2 threads,
 * caches flushed, AMD EPYC Zen 4, 1 MB L2): see docs/PERFORMANCE.md. */
#define GEMM_SHARED_B_BYTES (640u * 1024u)

static int shared_k_block(const cpu_kernels *k, int N, int K) {
    const size_t nt = (size_t)(N + k->nr - 1) / (size_t)k->nr;
    size_t kc = GEMM_SHARED_B_BYTES / (nt * (size_t)k->nr * sizeof(float));
    if (kc < 64) kc = 64;
    if ((size_t)K <= kc) return K > 0 ? K : 1;
    size_t nb = ((size_t)K + kc - 1) / kc;
    return (int)(((size_t)K + nb - 1) / nb);
}

/* A panels [t0, t1) against the whole shared B (packed panels of K rows),
 * K blocked by kc_max. */
static void gemm_rows_shared(const gemm_job *j, int t0, int t1, const float *B, int kc_max) {
    const int NR = j->k->nr, K = j->K, nt = (j->N + NR - 1) / NR;
    engine_epilogue mid = *j->epi;
    mid.act = ENGINE_ACT_NONE;
    for (int k0 = j->k_lo; k0 < j->k_hi || (K == 0 && k0 == 0); k0 += kc_max) {
        const int kc = j->k_hi - k0 < kc_max ? j->k_hi - k0 : kc_max;
        for (int t = t0; t < t1; ++t)
            for (int q = 0; q < nt; ++q)
                gemm_tile(j, t, q, k0, kc, B + ((size_t)q * (size_t)K + (size_t)k0) * (size_t)NR, &mid, NULL, 0);
        if (K == 0) break;
    }
}

/* Work (multiply-adds) per claim of the split over B panels. */
#define GEMM_CLAIM_MACS 65536.0

/* Rows of B packed per unit of the shared packing phase. */
#define GEMM_PACK_ROWS 256

typedef struct gemm_par {
    const gemm_job *j;
    int mt, nt, kchunks, units, kc_max;
    int cm; /* A panels per M chunk (B in place), else mt */
    size_t bf;
    float *scratch;
} gemm_par;

/* Split by N: a unit is one B panel, packed by the thread that takes it
 * into its own block of the scratch. */
static void n_panel_task(void *vc, int tid, int64_t u0_, int64_t u1_) {
    const int u0 = (int)u0_, u1 = (int)u1_;
    const gemm_par *c = vc;
    float *block = c->scratch + c->bf * (size_t)tid;
    /* unit u: panel u % nt against the A panels of M chunk u / nt */
    for (int u = u0; u < u1; ++u) {
        const int q = u % c->nt, t0 = u / c->nt * c->cm, t1 = t0 + c->cm < c->mt ? t0 + c->cm : c->mt;
        gemm_range(c->j, t0, t1, q, q + 1, block, u + 1 < u1 && q + 1 < c->nt ? q + 2 : q + 1);
    }
}

/* Split by M, phase 1: every thread packs pieces of the whole of B. */
static void pack_all_task(void *vc, int tid, int64_t u0_, int64_t u1_) {
    const int u0 = (int)u0_, u1 = (int)u1_;
    (void)tid;
    const gemm_par *c = vc;
    const cpu_kernels *k = c->j->k;
    const int K = c->j->K, N = c->j->N;
    for (int u = u0; u < u1; ++u) {
        const int q = u / c->kchunks, k0 = u % c->kchunks * GEMM_PACK_ROWS;
        const int kc = K - k0 < GEMM_PACK_ROWS ? K - k0 : GEMM_PACK_ROWS;
        const int n0 = q * k->nr, nr = N - n0 < k->nr ? N - n0 : k->nr;
        c->j->pack_b(c->j->ctx, n0, nr, k->nr, k0, kc, c->scratch + ((size_t)q * (size_t)K + (size_t)k0) * (size_t)k->nr);
    }
}

/* Split by M, phase 2: blocks of A panels against the packed B. */
static void a_rows_task(void *vc, int tid, int64_t u0_, int64_t u1_) {
    const int u0 = (int)u0_, u1 = (int)u1_;
    (void)tid;
    const gemm_par *c = vc;
    for (int u = u0; u < u1; ++u) {
        const int t0 = (int)((long long)u * c->mt / c->units), t1 = (int)((long long)(u + 1) * c->mt / c->units);
        gemm_rows_shared(c->j, t0, t1, c->j->bpanels ? c->j->bpanels : c->scratch, c->kc_max);
    }
}

static void gemm_run(const gemm_job *jp, int threads, void *scratch);

void cpu_gemm_run(const cpu_kernels *k, int M, int N, int K, const float *Apacked, const float *bias,
                  cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc, const float *sum, size_t ldsum,
                  const engine_epilogue *epi, int threads, void *scratch) {
    const gemm_job j = {k, M, N, K, Apacked, bias, sum, pack_b, ctx, C, ldc, ldsum, epi, NULL, 0, K, k_block(K), 0, NULL, 0};
    gemm_run(&j, threads, scratch);
}

void cpu_gemm_run_rows_a(const cpu_kernels *k, int M, int N, int K, const float *A, size_t lda, const float *bias,
                         cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc, const float *sum, size_t ldsum,
                         const engine_epilogue *epi, int threads, void *scratch) {
    const gemm_job j = {k, M, N, K, A, bias, sum, pack_b, ctx, C, ldc, ldsum, epi, NULL, 0, K, k_block(K), lda, NULL, 0};
    gemm_run(&j, threads, scratch);
}

/* Where B is read in place (gemm_bs): long rows (big maps) and few A
 * panels, each panel's rows then read by few tiles. Measured on 1x1 convs
 * (bench_cpu_conv, Intel Xeon, AVX-512, the build before and after, best
 * of 300, ms at one / two threads): C64 -> 16 at 55x55 0.065 -> 0.037 /
 * 0.065 -> 0.036; C256 -> 64 at 56x56 0.70 -> 0.57 / 0.38 -> 0.32; C64 ->
 * 64 at 56x56 0.159 -> 0.139 / 0.124 -> 0.077; C144 -> 24 at 56x56 0.156
 * -> 0.112 / 0.130 -> 0.069. On small maps, and with many A panels, the
 * packed panels were faster: C512 -> 1000 at 13x13 (84 A panels) 0.98 ->
 * 1.37 ms at one thread read in place, C576 -> 96 at 14x14 0.129 ->
 * 0.156, C128 -> 512 at 28x28 0.50 -> 0.55; C64 -> 256 at 56x56 (22
 * panels) came out even. */
#define GEMM_BS_MIN_N 2048
#define GEMM_BS_MAX_MT 8
/* With AVX2 (AMD EPYC, Zen 1; packing a 16-column panel was 14% of a 1x1
 * C192 -> 32 at 28x28) reading in place paid from 14x14 maps up. Same
 * probe, ms at one / two threads, packed -> in place: C32 -> 16 at
 * 112x112 0.46 -> 0.36 / 0.38 -> 0.24-0.38; C144 -> 24 at 56x56 0.615 ->
 * 0.517 / 0.407 -> 0.324; C192 -> 32 at 28x28 0.26 -> 0.227 / 0.176 ->
 * 0.144; C256 -> 40 at 14x14 0.127 -> 0.108 / 0.078 -> 0.081; C256 -> 48
 * at 7x7 0.036 -> 0.043 at one thread (so not there). */
#define GEMM_BS_MIN_N_AVX2 196

void cpu_gemm_run_strided_b(const cpu_kernels *k, int M, int N, int K, const float *Apacked, const float *bias,
                            const float *B, size_t ldb, cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc,
                            const float *sum, size_t ldsum, const engine_epilogue *epi, int threads, void *scratch) {
    gemm_job j = {k, M, N, K, Apacked, bias, sum, pack_b, ctx, C, ldc, ldsum, epi, NULL, 0, K, k_block(K), 0, NULL, 0};
    const int mt = (M + k->mr - 1) / k->mr;
    const int min_n = k->isa == CPU_ISA_AVX2 ? GEMM_BS_MIN_N_AVX2 : GEMM_BS_MIN_N;
    if (k->gemm_bs && ldb && N >= min_n && mt <= GEMM_BS_MAX_MT) {
        j.bsrc = B;
        j.ldb = ldb;
    }
    gemm_run(&j, threads, scratch);
}

typedef struct panels_ctx {
    const float *w;
    int K;
} panels_ctx;

static void copy_panel(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    (void)nr;
    const panels_ctx *c = vctx;
    memcpy(panel, c->w + ((size_t)(n0 / NR) * (size_t)c->K + (size_t)k0) * (size_t)NR,
           (size_t)kc * (size_t)NR * sizeof(float));
}

void cpu_gemm_run_packed_b(const cpu_kernels *k, int M, int N, int K, const float *A, size_t lda, const float *bias,
                           const float *bpanels, float *C, size_t ldc, const float *sum, size_t ldsum,
                           const engine_epilogue *epi, int threads, void *scratch) {
    const panels_ctx pc = {bpanels, K};
    const gemm_job j = {k,   M,   N,     K,   A, bias, sum, copy_panel, &pc, C, ldc, ldsum, epi,
                        k->gemm_pf ? bpanels : NULL, 0, K, k_block(K), lda, NULL, 0};
    gemm_run(&j, threads, scratch);
}

/* B in place (cpu_gemm_run_packed_b): each tile prefetches its share of
 * the next panel, which must reach the tile that reads it still in L2.
 * With a packed A past GEMM_A_CHUNK bytes, A streamed through the L2 for
 * every panel and pushed the prefetched lines out first, so A is cut to
 * that size: where the whole of B fits in L2 as well, into M chunks that
 * each meet every panel (ConvNeXt-T's first-stage MLP: 3136 rows); else
 * K is blocked, every panel meeting the A slice of one block before the
 * next block (ViT-B/16's 197 x 3072 -> 768), the partial sums in C. Each
 * piece keeps at least GEMM_INPLACE_MIN_MT A panels: their tiles then
 * prefetch all of the next panel (2 lines a row of K, one a tile every 4
 * rows). Where that cannot hold (fewer A panels: M = 8 ran 7% slower in
 * place) or K blocks would be short (under GEMM_INPLACE_MIN_KB rows: the
 * partial sums make a round trip through C for every block, and ViT-B/16
 * at batch 8, 1576 rows, was cut into blocks of 154-162 rows: 870 -> 1200
 * ms at two threads) the panels are copied and A is whole.
 * Measured with bench_cpu_gemm BENCH_DENSE=1 BENCH_COPIES=8 (Intel Xeon,
 * 2 MB of L2): ViT-B/16's 197 x 768 -> 2304 3.74 -> 3.56 ms on one thread
 * with the weights warm, 4.05 -> 3.59 from memory. */
#define GEMM_INPLACE_MIN_MT 8
#define GEMM_INPLACE_MIN_KB 512
#define GEMM_A_CHUNK (1u << 20)
#define GEMM_B_FITS (1u << 20)

static void gemm_panels(gemm_job *j, int threads, void *scratch, int cm);

static void gemm_run(const gemm_job *jp, int threads, void *scratch) {
    gemm_job j = *jp;
    const cpu_kernels *k = j.k;
    const int M = j.M, N = j.N, K = j.K;
    if (M <= 0 || N <= 0) return;
    if (threads < 1) threads = 1;
    const int mt = (M + k->mr - 1) / k->mr, nt = (N + k->nr - 1) / k->nr;
    const size_t a_bytes = (size_t)mt * (size_t)k->mr * (size_t)K * sizeof(float);
    const size_t b_bytes = (size_t)nt * (size_t)k->nr * (size_t)K * sizeof(float);
    int cm = mt;
    if (mt < GEMM_INPLACE_MIN_MT) j.bpanels = NULL;
    if (j.bpanels && a_bytes > GEMM_A_CHUNK) {
        const size_t pieces = (a_bytes + GEMM_A_CHUNK - 1) / GEMM_A_CHUNK;
        if (b_bytes <= GEMM_B_FITS) {
            cm = (int)(((size_t)mt + pieces - 1) / pieces);
            if (cm < GEMM_INPLACE_MIN_MT) cm = GEMM_INPLACE_MIN_MT;
        } else {
            const int kb = (int)(((size_t)K + pieces - 1) / pieces);
            if (kb < GEMM_INPLACE_MIN_KB) j.bpanels = NULL;
            else {
                for (int k0 = 0; k0 < K; k0 += kb) {
                    j.k_lo = k0;
                    j.k_hi = K - k0 < kb ? K : k0 + kb;
                    j.kb = kb;
                    gemm_panels(&j, threads, scratch, mt);
                }
                return;
            }
        }
    }
    gemm_panels(&j, threads, scratch, cm);
}

/* gemm_run over the K rows [j->k_lo, j->k_hi), the A panels in M chunks of
 * cm panels (B in place) or whole. */
static void gemm_panels(gemm_job *jp, int threads, void *scratch, int cm) {
    gemm_job j = *jp;
    const cpu_kernels *k = j.k;
    const int M = j.M, N = j.N, K = j.K;
    const int mt = (M + k->mr - 1) / k->mr, nt = (N + k->nr - 1) / k->nr;
    const int chunks = (mt + cm - 1) / cm;
    if (threads <= 1 || (mt == 1 && nt == 1)) {
        for (int t0 = 0; t0 < mt; t0 += cm) gemm_range(&j, t0, t0 + cm < mt ? t0 + cm : mt, 0, nt, scratch, nt);
        return;
    }
    /* Units are handed out dynamically: on a shared machine a thread is
     * often parked by the OS, and a static split then waits for it. A C
     * tile is only ever written by one unit. The split over B panels
     * gives each thread its home range of panels first (the same columns
     * in every layer, cpu_pool.c), the others taking over what it has
     * not claimed when it is late. */
    if (split_by_n(k, M, N, K, threads)) {
        const int used = threads < nt ? threads : nt;
        gemm_par c = {&j, mt, nt, 0, 0, 0, cm, block_floats(k, K), scratch};
        /* panels per claim: about GEMM_CLAIM_MACS of work each, but at
         * least 4 claims per thread. A 1x1 conv of 16 -> 16 channels at
         * 112x112 is 392 panels of 12K MACs: one claim each (an atomic on
         * a line both cores write) cost more than its FMAs, and 2 threads
         * ran it slower than 1 (0.16 -> 0.20 ms). */
        const double per = (double)mt * k->mr * (double)(K > 0 ? K : 1) * k->nr;
        int64_t grain = (int64_t)(GEMM_CLAIM_MACS / per);
        const int64_t most = nt / (4 * used);
        if (grain > most) grain = most;
        /* B in place: runs of panels per claim, so that the panel a
         * thread prefetches is the one it goes on to. */
        if (j.bpanels) grain = most;
        cpu_parallel_for_home(used, (int64_t)chunks * nt, grain < 1 ? 1 : grain, n_panel_task, &c);
        return;
    }
    /* Few B panels (7x7 maps: N = 49 is two panels): the threads first
     * pack all of B together into the scratch (each unit packing it
     * again, as before, cost more than the FMAs on a 3x3 conv over 512
     * channels: 64K short gathers per unit), then split the A panels, K
     * blocked so that the block of B stays in L2. */
    j.ldb = 0; /* (the shared B is packed: strided reads of few columns gain nothing there) */
    const int kchunks = K > 0 ? (K + GEMM_PACK_ROWS - 1) / GEMM_PACK_ROWS : 0;
    const int units = mt < 4 * threads ? mt : 4 * threads;
    const int used = threads < units ? threads : units;
    gemm_par c = {&j, mt, nt, kchunks, units, shared_k_block(k, N, K), mt, 0, scratch};
    if (!j.bpanels) cpu_parallel_for(used, nt * kchunks, 1, pack_all_task, &c);
    /* the pool's join: B is complete */
    cpu_parallel_for(used, units, 1, a_rows_task, &c);
}

/* ---- ISA tables and selection ---- */

const cpu_kernels *cpu_kernels_for(cpu_isa isa) {
    switch (isa) {
    case CPU_ISA_SCALAR: return &cpu_kernels_scalar;
#if defined(__x86_64__)
    case CPU_ISA_AVX2: return &cpu_kernels_avx2;
    case CPU_ISA_AVX512: return &cpu_kernels_avx512;
#endif
#if defined(__aarch64__)
    case CPU_ISA_NEON: return &cpu_kernels_neon;
#endif
    default: return NULL;
    }
}

cpu_isa cpu_isa_select(const char **note) {
    cpu_isa best = CPU_ISA_SCALAR;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        best = CPU_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = CPU_ISA_AVX2;
#elif defined(__aarch64__)
    best = CPU_ISA_NEON;
#endif
    if (note) *note = NULL;
    const char *env = getenv("ENGINE_CPU_ISA");
    if (env && *env) {
        static const struct { const char *name; cpu_isa isa; } names[] = {
            {"scalar", CPU_ISA_SCALAR}, {"neon", CPU_ISA_NEON}, {"avx2", CPU_ISA_AVX2}, {"avx512", CPU_ISA_AVX512}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
            if (strcmp(env, names[i].name) == 0) {
                if (names[i].isa <= best && cpu_kernels_for(names[i].isa)) return names[i].isa;
                break;
            }
        if (note) *note = "ENGINE_CPU_ISA names an ISA this machine or build lacks; ignored";
    }
    return best;
}
