/*
 * cpu_internal.h - what the files of the SIMD CPU backend share (not part
 * of any public interface; cpu_conv.h is the contract with the conv
 * algorithm files).
 *
 * ISA dispatch: every ISA-specific routine lives in one file per ISA
 * (ukernel_scalar.c, ukernel_avx2.c, ukernel_avx512.c, ukernel_neon.c),
 * each compiled with its own -m flags into its own static library, and
 * exported through one cpu_kernels table. The module picks the table once
 * at load (cpu_isa_select: CPUID, lowered by ENGINE_CPU_ISA), so one build
 * runs on any x86-64 and the rest of the backend is ISA-neutral C.
 */
#ifndef ENGINE_CPU_INTERNAL_H
#define ENGINE_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_conv.h"
#include "cpu_pool.h"
#include "engine/ir.h"

/* The largest register tile of any ISA (partial tiles go through a
 * stack buffer of this size). */
#define CPU_MAX_MR 12
#define CPU_MAX_NR 32

/* The GEMM micro-kernel: C[0:mr, 0:nr] = A_panel * B_panel, then the
 * epilogue, for 1 <= mr <= MR, 1 <= nr <= NR:
 *   a: K x MR floats, k-major (a[k*MR + i] = A[i][k]), rows >= mr zero;
 *   b: K x NR floats, k-major (b[k*NR + j] = B[k][j]), 64-byte aligned;
 *   c: row i at c + i*ldc; bias: mr values (never NULL);
 *   sum: NULL or row i at sum + i*ldsum (the residual, added after bias);
 *   epi: the activation (epi->sum is ignored: `sum` says it).
 * K may be 0 (then C = epilogue(bias [+ sum])). */
typedef void (*cpu_gemm_ukernel_fn)(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                                    const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi);

/* Applies the epilogue's activation to p[0:n] in place. */
typedef void (*cpu_act_row_fn)(const engine_epilogue *epi, float *p, size_t n);

typedef struct cpu_kernels {
    cpu_isa isa;
    const char *isa_name; /* "scalar", "neon", "avx2", "avx512": the kernel name suffix */
    int mr, nr;           /* the micro-kernel's register tile */
    const char *gemm_name; /* e.g. "f32_gemm_12x32__avx512" */
    cpu_gemm_ukernel_fn gemm;
    cpu_act_row_fn act_row;
    /* p[i] = exp(p[i] - shift) for i < n, returning their sum (softmax). */
    float (*exp_row)(float *p, size_t n, float shift);
    /* y = softmax(x) over n floats (y may be x): the max, exp(x - max) with
     * its sum, the scale; a row holding a NaN or an infinity becomes NaN
     * (the reference's formula gives NaN there too). */
    void (*softmax_row)(const float *x, float *y, size_t n);
    /* acc[j] = dot(w + j*ldw, x) over K floats for j < nm <= 4: the
     * matrix-vector product of a fully connected layer or an N = 1 1x1
     * conv, four weight rows streamed per pass over x. */
    void (*dot4)(const float *w, size_t ldw, const float *x, int K, int nm, float *acc);
    /* --precision bf16: CPU_BF16_NONE in the static tables; the module
     * runs a bf16 session on its own copy of the table with the level it
     * found (cpu_bf16_select), so every preparer sees it through k. */
    int bf16;
    /* dst[t] = src[2 t] for t < n, reading no further than src[2 (n - 1)]
     * (im2col of stride-2 convs); NULL: the plain loop. */
    void (*gather_s2)(const float *src, int n, float *dst);
    /* MaxPool without dilation (ops.c), a NaN in any tap giving NaN:
     * v[i] = max over r < nrows of x[r * stride + i] for i < W; and
     * y[t] = max over j < KW of v[SW * t + j] for t < n (SW 1 or 2),
     * reading no further than v[SW * (n - 1) + KW - 1]. NULL: the loops
     * in C. */
    void (*max_rows)(const float *x, size_t stride, int nrows, int W, float *v);
    void (*max_win)(const float *v, int n, int KW, int SW, float *y);
    /* gemm, and while its FMAs run, the pf_lines cache lines from pf on
     * are brought into L2 (one every few rows of K): the next B panel of a
     * dense layer whose weights come from memory. NULL: none (the driver
     * then copies each panel as it comes). */
    void (*gemm_pf)(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr, const float *bias,
                    const float *sum, size_t ldsum, const engine_epilogue *epi, const char *pf, int pf_lines);
    /* gemm_pf with A read in place: row i of the tile at a + i * lda (no
     * row past mr is read). NULL: A is packed first. */
    void (*gemm_rows)(int K, const float *a, size_t lda, const float *b, float *c, size_t ldc, int mr, int nr,
                      const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi, const char *pf,
                      int pf_lines);
    /* gemm with B read in place: row k of the tile's B is nr <= NR floats
     * at b + k * ldb (nothing past them is read), A packed as for gemm;
     * only the rows up to mr rounded up to a few are computed. A 1x1
     * conv's input planes need no packed copy then. NULL: B is packed. */
    void (*gemm_bs)(int K, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int mr, int nr,
                    const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi);
    /* max_win on a row of NCHW8c pixels (8 floats each, ops_blocked.c's
     * MaxPool): y[8 t + l] = max over j < KW of v[8 (SW t + j) + l] for
     * t < n, l < 8, a NaN in any tap giving NaN; reads no further than
     * pixel SW (n - 1) + KW - 1. NULL: one max_rows call per pixel. */
    void (*max_win_blk8)(const float *v, int n, int KW, int SW, float *y);
} cpu_kernels;

/* The pools' interior outputs [o0, o1) of a row of OW: those whose KW taps
 * (stride SW, PL padding columns before the row) all fall inside the
 * input row of W (ops.c, ops_blocked.c). */
static inline void cpu_pool_interior(int64_t W, int64_t OW, int64_t KW, int64_t SW, int64_t PL, int64_t *o0,
                                     int64_t *o1) {
    int64_t a = (PL + SW - 1) / SW, b = W - KW + PL < 0 ? 0 : (W - KW + PL) / SW + 1;
    if (a > OW) a = OW;
    if (b > OW) b = OW;
    if (b < a) b = a;
    *o0 = a, *o1 = b;
}

/* exp_row with libm's expf: the scalar and NEON tables' (gemm.c). */
float cpu_exp_row_portable(float *p, size_t n, float shift);
/* softmax_row in plain C over cpu_exp_row_portable (gemm.c). */
void cpu_softmax_row_portable(const float *x, float *y, size_t n);

/* One table per ISA file; the ones not compiled for this machine are
 * absent (the module references them under the same #if as meson). */
extern const cpu_kernels cpu_kernels_scalar;
#if defined(__x86_64__)
extern const cpu_kernels cpu_kernels_avx2;
extern const cpu_kernels cpu_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const cpu_kernels cpu_kernels_neon;
#endif

/* The table for an ISA; NULL when that ISA is not compiled in. */
const cpu_kernels *cpu_kernels_for(cpu_isa isa);
/* The best ISA this CPU runs, lowered to ENGINE_CPU_ISA when that names
 * a lower one (scalar|neon|avx2|avx512; a higher or unknown one is
 * ignored and *note says so, else *note is NULL). */
cpu_isa cpu_isa_select(const char **note);

/* Shared epilogue for partial tiles and the portable path: tile t (rows
 * of stride ldt) + bias [+ sum] -> act -> c[0:mr, 0:nr]. */
void cpu_tile_epilogue(const cpu_kernels *k, const float *t, size_t ldt, float *c, size_t ldc, int mr, int nr,
                       const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi);

/* ---- the blocked GEMM driver (gemm.c) ----
 * C[M x N] = Apacked[M x K] * B[K x N] + epilogue, where B is produced
 * panel by panel (NR columns, one K block of rows) by a callback, so the
 * same driver serves 1x1 convs (panels copied from NCHW rows), im2col
 * convs (panels gathered straight from the image: no full im2col buffer)
 * and dense layers. K is blocked (partial sums kept in C between blocks),
 * threads take units of B panels or A panels dynamically. */
/* Fills panel[k * NR + j] = B[k0 + k][n0 + j] for k < kc, j < nr, and 0 for
 * nr <= j < NR. */
typedef void (*cpu_pack_b_fn)(const void *ctx, int n0, int nr, int NR, int k0, int kc, float *panel);

/* Floats of a packed A for M x K (panels of MR rows, zero padded). */
size_t cpu_gemm_packed_a_floats(const cpu_kernels *k, int M, int K);
/* Packs A (element (m, k) at A[m*rs + k*cs]) into panels. */
void cpu_gemm_pack_a(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed);
/* The same over `threads` threads (the pool's; one for a small A). */
void cpu_gemm_pack_a_par(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed,
                         int threads);
/* Scratch bytes cpu_gemm_run needs for this shape on `threads` threads
 * (a B block per thread, or the whole packed B when N is small). */
size_t cpu_gemm_scratch_bytes(const cpu_kernels *k, int M, int N, int K, int threads);
/* bias: M floats (never NULL); sum NULL or [M x N] with row stride ldsum.
 * threads == 1 runs on the calling thread without an OpenMP region (so
 * callers may run several GEMMs in parallel themselves). scratch: 64-byte
 * aligned, cpu_gemm_scratch_bytes(k, K, threads) bytes. */
void cpu_gemm_run(const cpu_kernels *k, int M, int N, int K, const float *Apacked, const float *bias,
                  cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc, const float *sum, size_t ldsum,
                  const engine_epilogue *epi, int threads, void *scratch);
/* The same with A's rows read in place (row m at A + m * lda), for an ISA
 * with gemm_rows: no packed copy of A. */
void cpu_gemm_run_rows_a(const cpu_kernels *k, int M, int N, int K, const float *A, size_t lda, const float *bias,
                         cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc, const float *sum, size_t ldsum,
                         const engine_epilogue *epi, int threads, void *scratch);
/* cpu_gemm_run with B readable in place as well: row k of B at B + k * ldb
 * (a 1x1 conv's input planes). Where the ISA has gemm_bs and the shape is
 * one where that measured faster (long rows, few A panels: gemm.c's
 * GEMM_BS_*), the tiles read it there, no packed copy of B; else pack_b
 * packs it, as do the split over A panels of few-column GEMMs. */
void cpu_gemm_run_strided_b(const cpu_kernels *k, int M, int N, int K, const float *Apacked, const float *bias,
                            const float *B, size_t ldb, cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc,
                            const float *sum, size_t ldsum, const engine_epilogue *epi, int threads, void *scratch);
/* The same with B pre-packed: panels of NR columns and all K rows, panel
 * q at bpanels + q * K * NR (64-byte aligned, columns past N zero), and A
 * packed (lda 0) or, with gemm_rows, read in place (lda: its row stride).
 * Where the ISA has gemm_pf, the tiles read the panels in place and each
 * next panel is prefetched during the one before it; else as
 * cpu_gemm_run with the panels copied. */
void cpu_gemm_run_packed_b(const cpu_kernels *k, int M, int N, int K, const float *A, size_t lda, const float *bias,
                           const float *bpanels, float *C, size_t ldc, const float *sum, size_t ldsum,
                           const engine_epilogue *epi, int threads, void *scratch);

/* ---- bf16 (gemm_bf16.c, ukernel_bf16.c) ----
 * bf16 values are uint16_t, rounded to nearest even from float32. */
enum { CPU_BF16_NONE = 0, CPU_BF16_AVX512 = 1, CPU_BF16_AMX = 2 };
/* Output pixels a conv needs for the bf16 kernels (one 16-row strip). */
#define CPU_BF16_MIN_PIXELS 16

typedef struct cpu_bf16_ops {
    const char *name; /* "amx", "avx512bf16": the kernel name's ISA */
    /* c[32 x 32] (rows 32 apart) = (A tiles a0 | a1) * B panel b over nkb
     * k-blocks: a0, a1 16 rows each, 1 KiB a k-block; b 2 KiB a k-block. */
    void (*block)(int nkb, const uint16_t *a0, const uint16_t *a1, const uint16_t *b, float *c);
    /* Around the blocks of one task on one thread (AMX's tile
     * configuration and release); NULL when not needed. */
    void (*begin)(void);
    void (*end)(void);
    /* kc rows (ld floats apart, times scale[k] when scale is not NULL) of
     * nr floats -> one k-block; rows kc..31, columns nr..31 zero. */
    void (*cvt_rows)(const float *src, size_t ld, int kc, int nr, const float *scale, uint16_t *dst);
    /* C block (rows 32 apart) + bias [+ sum] -> activation -> c[mr x nr]. */
    void (*store)(const float *ct, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum,
                  size_t ldsum, const engine_epilogue *epi, cpu_act_row_fn act_row);
    /* cpu_bf16_pack_a_strip for rows of K contiguous floats, lda apart. */
    void (*pack_a_rows)(int rows, int K, const float *A, size_t lda, uint16_t *dst);
    /* The blocked conv (conv_bf16_blk.c): a 16-pixel strip of A gathered
     * from one NCHW16c image, and the epilogue into the NCHW16c output. */
    void (*pack_a_conv_blk)(const cpu_conv2d *d, const float *x, int n0, int rows, uint16_t *dst);
    void (*store_blk)(const float *ct, float *y, size_t OHW, int n0, int rows, int m0, int M, const float *bias,
                      const float *sum, const engine_epilogue *epi, cpu_act_row_fn act_row);
} cpu_bf16_ops;

/* The bf16 level this CPU runs for a session on isa: AMX when the CPU has
 * AMX-BF16 and the OS grants its tile state (ENGINE_CPU_AMX=0: not asked),
 * else AVX512_BF16, else none; note says why a level was not had. */
int cpu_bf16_select(cpu_isa isa, char *note, size_t note_size);
/* The kernels of a level; NULL for CPU_BF16_NONE or a build without them. */
const cpu_bf16_ops *cpu_bf16_ops_for(int level);
uint16_t cpu_bf16_round(float f);
float cpu_bf16_float(uint16_t h);
/* Elements of a packed A for M x K (16 x 32 tiles, M to 32, K to 32). */
size_t cpu_bf16_packed_a_elems(int M, int K);
/* One 16-row strip of a packed A: elements, and rows (<= 16, the rest
 * zero) packed from A as cpu_bf16_pack_a does (strip t of a packed A is
 * at t * cpu_bf16_strip_elems(K)). */
size_t cpu_bf16_strip_elems(int K);
void cpu_bf16_pack_a_strip(int rows, int K, const float *A, size_t rs, size_t cs, uint16_t *dst);
/* Packs A (element (m, k) at A[m*rs + k*cs]) rounded to bf16. */
void cpu_bf16_pack_a(int M, int K, const float *A, size_t rs, size_t cs, uint16_t *dst);
/* Scratch bytes cpu_bf16_gemm_run needs on `threads` threads. */
size_t cpu_bf16_scratch_bytes(int N, int K, int threads);
/* Where B comes from: a plain matrix (rows ld floats apart, row k times
 * scale[k] when scale is not NULL), read straight into the bf16 panels;
 * or, with b == NULL, pack_b(ctx, ...) fills float32 panels (im2col). */
typedef struct cpu_bf16_src {
    const float *b;
    size_t ld;
    const float *scale;
    cpu_pack_b_fn pack_b;
    const void *ctx;
    const uint16_t *packed; /* not NULL: B packed once by cpu_bf16_pack_b (constant weights) */
} cpu_bf16_src;
/* Elements of B (K x N) packed as bf16 panels: 32 columns, k-blocks of 32. */
size_t cpu_bf16_packed_b_elems(int K, int N);
/* Where element (k, n) of B lives in those panels (nkb = k-blocks of 32). */
static inline size_t cpu_bf16_b_index(int nkb, int k, int n) {
    return ((size_t)(n / 32) * (size_t)nkb + (size_t)(k / 32)) * 1024u + (size_t)((n % 32) / 16) * 512u +
           (size_t)((k % 32) / 2) * 32u + (size_t)(n % 16) * 2u + (size_t)(k % 2);
}
/* Packs B (element (k, n) at B[k*rs + n*cs]) rounded to bf16 into panels. */
void cpu_bf16_pack_b(int K, int N, const float *B, size_t rs, size_t cs, uint16_t *dst);
/* As cpu_gemm_run, with A from cpu_bf16_pack_a and B rounded to bf16;
 * k gives the epilogue's activation. */
void cpu_bf16_gemm_run(const cpu_kernels *k, const cpu_bf16_ops *ops, int M, int N, int K, const uint16_t *Apacked,
                       const float *bias, const cpu_bf16_src *src, float *C, size_t ldc,
                       const float *sum, size_t ldsum, const engine_epilogue *epi, int threads, void *scratch);
#if defined(__x86_64__)
void cpu_bf16_block_avx512(int nkb, const uint16_t *a0, const uint16_t *a1, const uint16_t *b, float *c);
void cpu_bf16_block_amx(int nkb, const uint16_t *a0, const uint16_t *a1, const uint16_t *b, float *c);
void cpu_bf16_amx_begin(void);
void cpu_bf16_amx_end(void);
void cpu_bf16_cvt_rows(const float *src, size_t ld, int kc, int nr, const float *scale, uint16_t *dst);
void cpu_bf16_pack_a_rows(int rows, int K, const float *A, size_t lda, uint16_t *dst);
void cpu_bf16_pack_a_conv_blk(const cpu_conv2d *d, const float *x, int n0, int rows, uint16_t *dst);
void cpu_bf16_store_blk(const float *ct, float *y, size_t OHW, int n0, int rows, int m0, int M, const float *bias,
                        const float *sum, const engine_epilogue *epi, cpu_act_row_fn act_row);
void cpu_bf16_store(const float *ct, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum,
                    size_t ldsum, const engine_epilogue *epi, cpu_act_row_fn act_row);
#endif

/* conv_gemv.c: acc[j] = dot(w + j*ldw, x) over K floats for j < nm <= 4,
 * four independent sums in one pass over x (the dense layers and the
 * one-pixel convs, both bound by streaming the weights). */
void cpu_dot4(const float *w, size_t ldw, const float *x, int K, int nm, float *acc);

/* ---- compiled steps (module.c drives them; conv.c and ops.c prepare) ---- */

typedef struct cpu_step cpu_step;
/* Runs one node: in/out as the ref kernels see them, scratch the step's
 * arena slot (NULL when it asked for none). */
typedef engine_status (*cpu_exec_fn)(const cpu_step *s, const void *const *in, void *const *out, void *scratch);

struct cpu_step {
    const engine_node *node;
    cpu_exec_fn exec;             /* NULL: a reference kernel or the plugin's host kernel */
    const cpu_kernels *k;         /* the ISA table */
    int threads;
    void *prep;                   /* packed weights (owned, freed at release; or shared: prep_shared) */
    size_t prep_bytes;
    int prep_shared;              /* 1: prep is a reference into the instance's weight store;
                                   * 2: prep is a constant input's own data (borrowed, not freed) */
    unsigned weights_packed;      /* bit j: prep holds constant input j, which exec never reads (the
                                   * engine may release its copy: constant_consumed) */
    size_t scratch_bytes;         /* arena scratch for the node's run */
    const cpu_conv_algo *algo;    /* Conv: the chosen algorithm */
    cpu_conv2d conv;              /* Conv: its description */
    int iparam[8];                /* small per-op integers (ops.c) */
    int in_scale;                 /* Conv: 0, or a fused channel-scale Mul: in[n_inputs] holds the
                                   * scale of X's channels, one per image (2) or shared (1) */
    const struct cpu_step *pre;   /* depthwise Conv: the 1x1 conv fused in front of it (conv_pw_dw.c);
                                   * in[0] is then that conv's input */
    int dw_row;                   /* depthwise Conv with a 1x1 fused in front: prepare the row kernel
                                   * (cpu_conv_depthwise), which the fused pair runs */
    int blk_vl;                   /* 0: the kernel reads and writes NCHW; VL: it runs in the blocked
                                   * layout (cpu_blocked.h): the inputs in blk_in_mask and output 0 */
    unsigned blk_in_mask;         /* bit j: input j is read blocked (the others NCHW) */
    size_t blk_scale_off;         /* blocked Conv with in_scale: where in scratch X is scaled */
    size_t img_scratch;           /* Conv: 0, or images run over the threads, one thread each, and
                                   * this is each thread's slice of scratch (conv.c) */
    size_t img_scale_off;         /* ... and blk_scale_off within a slice */
    int blk_batch;                /* blocked direct Conv: the batch runs at once, each pair of output
                                   * blocks over every image (cpu_conv_direct_blk_run_n) */
    char kernel[80];              /* the kernel name: dtype, op, tile, ISA */
};

/* A node's kernel written as one function that both starts its loop and
 * runs pieces of it: called with u0 < 0 (from its exec) it computes its
 * geometry and hands [0, n) to cpu_run_range, which calls it back with
 * u0 <= u < u1 on the pool's threads (tid: the thread, for per-thread
 * scratch). Keeps each loop body where it was written. */
typedef engine_status (*cpu_range_fn)(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                      int tid, int64_t u0, int64_t u1);
/* ops.c: runs body over [0, n) on up to `threads` threads; ENGINE_OK. */
engine_status cpu_run_range(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                            cpu_range_fn body, int threads, int64_t n);

/* What preparers get from the module. */
typedef struct cpu_wstore cpu_wstore;

typedef struct cpu_prep_ctx {
    const engine_allocator *a;
    const cpu_kernels *k;
    int threads;
    cpu_wstore *store; /* the instance's packed-weight store (module.c) */
    size_t *fresh_bytes; /* bytes packed by this compile (not found in the store) */
} cpu_prep_ctx;

/* What a packed constant operand is made from and how: its source arrays
 * (constant data pointers: the engine keeps them alive, unchanged, while a
 * program that read them lives), the layout (an algorithm's address or a
 * name) and the dims the packing depends on. Zero unused members: keys are
 * compared bytewise. */
typedef struct cpu_wkey {
    const void *src[3];
    const void *layout;
    int dims[10];
} cpu_wkey;

/* Packed weights shared by every program of a backend instance: every
 * specialisation of a dynamic model (and sessions of one model) packs a
 * weight once. Sets s->prep to the entry for key, packing it with
 * pack(pack_ctx, dst) into `bytes` fresh bytes when the store lacks it;
 * the step holds a reference (s->prep_shared) released with its program.
 * ENGINE_ERR_OUT_OF_MEMORY when it cannot be had. */
engine_status cpu_prep_shared(const cpu_prep_ctx *c, cpu_step *s, const cpu_wkey *key, size_t bytes,
                              void (*pack)(const void *pack_ctx, void *dst), const void *pack_ctx);
/* The store's life (wstore.c): allocator a must outlive it. */
cpu_wstore *cpu_wstore_new(const engine_allocator *a);
void cpu_wstore_unref(cpu_wstore *w, void *data);
void cpu_wstore_free(cpu_wstore *w);

/* Prepare a node for a SIMD kernel: fill exec, prep, scratch_bytes and
 * kernel. ENGINE_ERR_UNSUPPORTED: no SIMD kernel for this node as it is
 * (the module then runs the reference kernel); other errors are real. */
engine_status cpu_prepare_conv(const cpu_prep_ctx *c, cpu_step *s); /* conv.c (Conv, and ConvTranspose below) */
engine_status cpu_prepare_convtranspose(const cpu_prep_ctx *c, cpu_step *s); /* conv_transpose.c */
/* conv.c: the checks a Conv and a ConvTranspose node share before this
 * backend takes them: params and operands present, X/W/Y float32, W (and
 * B, rank 1, when given) constant, rank 3 or 4 throughout, the fused
 * residual float32 of Y's shape. 1 when they hold. */
int cpu_conv_node_takes(const engine_node *n);
/* conv.c: 1 when the algorithm this Conv node would get takes X scaled per
 * input channel at run (cpu_conv_algo.run_scaled), so that the module may
 * fuse a Squeeze-Excitation Mul feeding it (then cpu_step.in_scale). */
int cpu_conv_takes_input_scale(const engine_node *n, const cpu_kernels *k, int threads);
/* conv.c: the pair conv_pw_dw.c fuses. fusable_pw: a 1x1 stride-1 unpadded
 * single-group Conv without residual that would run on the packed GEMM;
 * fusable_dw: a depthwise Conv that would run on the row kernel. */
int cpu_conv_fusable_pw(const engine_node *n, const cpu_kernels *k, int threads);
int cpu_conv_fusable_dw(const engine_node *n, const cpu_kernels *k, int threads);
/* conv.c: 1 when a batch of N images runs one image per thread (each
 * kernel's loop on one thread; conv.c's rule, which conv_pw_dw.c follows). */
int cpu_images_over_threads(int64_t N, int threads);
/* conv_pw_dw.c: makes the prepared depthwise step dw run the prepared 1x1
 * step pw in front of it (exec, scratch, kernel name); pw is not run. */
engine_status cpu_fuse_pw_dw(cpu_step *dw, const cpu_step *pw);
/* ops.c: 1 when output 0 of n is one contiguous run of input 0, starting
 * *byte_offset bytes in (Reshape, Flatten, Squeeze, Unsqueeze; a Slice or
 * Transpose that reads one run): the module then stores no copy. */
int cpu_op_view(const engine_node *n, size_t *byte_offset);
engine_status cpu_prepare_op(const cpu_prep_ctx *c, cpu_step *s);   /* ops.c */
/* einsum.c (called from cpu_prepare_op): a two-operand float32 Einsum that
 * is a batched matrix product (every label a batch, row, column or summed
 * label) on the GEMM driver; anything else is UNSUPPORTED. */
engine_status cpu_prepare_einsum(const cpu_prep_ctx *c, cpu_step *s);

/* ---- the blocked layout (cpu_blocked.h; module.c decides who runs it) ----
 * conv.c: the estimates (ns per image) of a Conv node on the NCHW
 * algorithms and on the blocked ones; 0 when the node has no blocked
 * kernel (or no SIMD one at all). */
int cpu_conv_blocked_costs(const engine_node *n, const cpu_kernels *k, int threads, double *nchw_ns, double *blk_ns);
/* conv.c: cpu_blocked_takes' mask for a Conv (0: no blocked kernel): its
 * input (bit 0; CPU_BLK_PLAIN_IN instead for the few-channel kernel that
 * reads NCHW) and its residual (bit 3). */
unsigned cpu_conv_blocked_mask(const engine_node *n, const cpu_kernels *k, int threads);
/* conv.c: 1 when the 1x1 Conv pw and the depthwise Conv dw reading its
 * output would run blocked on the kernels cpu_pw_dw_blk_run fuses (the
 * direct 1x1 and the depthwise kernel, float32). */
int cpu_conv_blocked_pw_dw(const engine_node *pw, const engine_node *dw, const cpu_kernels *k, int threads);
/* conv.c: prepares a Conv node on a blocked algorithm (blk_vl, mask set). */
engine_status cpu_prepare_conv_blocked(const cpu_prep_ctx *c, cpu_step *s);
/* conv.c: for a Conv prepared blocked whose input the module would convert
 * from NCHW: when its kernel can read that input plain (a per-channel
 * affine: conversion and kernel in one pass), switches it to that form and
 * returns 1 (the input then stays NCHW); else 0, nothing changed. */
int cpu_conv_blocked_plain_input(cpu_step *s);
/* ops_blocked.c: when node n has a blocked kernel on k (Conv through
 * cpu_conv_blocked_costs; pools, global pools, unary activations, and
 * Add/Sub/Mul/Div of one shape or with a per-channel operand), the mask
 * of the inputs that kernel reads blocked (bit j: input j); else 0. */
unsigned cpu_blocked_takes(const engine_node *n, const cpu_kernels *k, int threads);
/* In cpu_blocked_takes' mask of a one-input node: it has a blocked kernel
 * that reads its input plain and writes its output blocked (the Transpose
 * from NHWC); bit 0, its input, is clear. */
#define CPU_BLK_PLAIN_IN (1u << 31)
/* 1 when node n's blocked kernel writes its output plain (NCHW-ordered
 * bytes of its own shape: the Transpose to NHWC), not blocked. */
int cpu_blocked_writes_plain(const engine_node *n);
/* ops_blocked.c: */
/* y (blocked, vl = cpu_blk_vl(k->isa)) = act(x * w + b) per channel from
 * x NCHW in one pass: w and b hold whole blocks (zeros past C); the
 * padding lanes of y are zero. */
void cpu_blk_from_nchw_affine(const cpu_kernels *k, int C, size_t HW, const float *x, float *y, const float *w,
                              const float *b, const engine_epilogue *epi, int threads);
/* ops_blocked.c: prepares node n's blocked kernel (UNSUPPORTED: none). */
engine_status cpu_prepare_blocked(const cpu_prep_ctx *c, cpu_step *s);
/* ops_lrn_resize.c (called from cpu_prepare_op): LRN across channels, and
 * Resize of H and W of a rank-4 map, nearest or linear; anything else
 * (cubic, other ranks, a resized N or C, other dtypes) is UNSUPPORTED. */
engine_status cpu_prepare_lrn(const cpu_prep_ctx *c, cpu_step *s);
engine_status cpu_prepare_resize(const cpu_prep_ctx *c, cpu_step *s);
/* ops_lrn_resize.c: 1 when cpu_prepare_resize takes node n; and the same
 * Resize in the blocked layout with VL lanes (cpu_blocked.h). */
int cpu_resize_takes(const engine_node *n);
engine_status cpu_prepare_resize_blocked(const cpu_prep_ctx *c, cpu_step *s, int vl);

#endif /* ENGINE_CPU_INTERNAL_H */
