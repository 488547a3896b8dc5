/* gemm_bf16.c - the bf16 GEMM driver of the cpu backend (--precision bf16):
 * C[M x N] = A[M x K] * B[K x N] + epilogue with A and B rounded to bf16
 * (round to nearest even) and float32 accumulation, on AMX-BF16 tiles or
 * AVX512_BF16 dot products (ukernel_bf16.c).
 *
 * A is packed into 16 x 32 tiles (M padded to 32 and K to 32 with zeros):
 * once for a conv's weights, per run (in strips) for a Gemm's rows. B is
 * either packed once as panels (a Gemm's constant weights), read straight
 * from a plain matrix (a 1x1 conv's image), or produced by the float32
 * driver's cpu_pack_b_fn callbacks (im2col gathers, a channel scale) a
 * block of columns at a time, then converted to the pair layout; so every
 * conv the float32 GEMM path takes runs here too.
 *
 * Work: B in blocks of up to BLK_PANELS 32-column panels, each block's
 * packed B kept in L2 (at most BLK_BYTES) while the block's rows of A run
 * over it; a unit is one block and a range of 32-row pairs of A (the rows
 * are split when there are too few blocks for the threads). Each unit
 * packs its own B, so no thread waits for another. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cpu_internal.h"

#define BLK_BYTES (256u * 1024u)
#define BLK_PANELS 8

uint16_t cpu_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float cpu_bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int nkb_of(int K) {
    return (K + 31) / 32;
}

size_t cpu_bf16_packed_a_elems(int M, int K) {
    return (size_t)((M + 31) / 32) * 2u * (size_t)nkb_of(K) * 512u;
}

size_t cpu_bf16_strip_elems(int K) {
    return (size_t)nkb_of(K) * 512u;
}

void cpu_bf16_pack_a_strip(int rows, int K, const float *A, size_t rs, size_t cs, uint16_t *dst) {
    memset(dst, 0, cpu_bf16_strip_elems(K) * sizeof(uint16_t));
    for (int m = 0; m < rows; ++m) {
        uint16_t *t = dst + (size_t)m * 32u;
        for (int k = 0; k < K; ++k)
            t[(size_t)(k / 32) * 512u + (size_t)(k % 32)] = cpu_bf16_round(A[(size_t)m * rs + (size_t)k * cs]);
    }
}

void cpu_bf16_pack_a(int M, int K, const float *A, size_t rs, size_t cs, uint16_t *dst) {
    const size_t strip = cpu_bf16_strip_elems(K);
    const int strips = (M + 15) / 16, all = (M + 31) / 32 * 2;
    for (int t = 0; t < strips; ++t)
        cpu_bf16_pack_a_strip(M - t * 16 < 16 ? M - t * 16 : 16, K, A + (size_t)t * 16u * rs, rs, cs,
                              dst + (size_t)t * strip);
    if (all > strips) memset(dst + (size_t)strips * strip, 0, (size_t)(all - strips) * strip * sizeof(uint16_t));
}

size_t cpu_bf16_packed_b_elems(int K, int N) {
    return (size_t)((N + 31) / 32) * (size_t)nkb_of(K) * 1024u;
}

void cpu_bf16_pack_b(int K, int N, const float *B, size_t rs, size_t cs, uint16_t *dst) {
    const int nkb = nkb_of(K);
    memset(dst, 0, cpu_bf16_packed_b_elems(K, N) * sizeof(uint16_t));
    /* k-block: two tiles (columns 0-15, 16-31) of 16 k-pairs x 16 columns x 2 */
    for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n) dst[cpu_bf16_b_index(nkb, k, n)] = cpu_bf16_round(B[(size_t)k * rs + (size_t)n * cs]);
}

/* Panels of 32 columns a block of B holds for this K. */
static int block_panels(int K) {
    size_t per = (size_t)nkb_of(K) * 2048u;
    size_t p = BLK_BYTES / per;
    return p < 1 ? 1 : p > BLK_PANELS ? BLK_PANELS : (int)p;
}

/* One thread's scratch: a block of packed B, the C block and a float32
 * stage of 32 rows by the block's columns for the pack callback. */
static size_t thread_bytes(int K) {
    const size_t P = (size_t)block_panels(K);
    size_t b = P * (size_t)nkb_of(K) * 2048u;
    return (b + (32u * 32u + 32u * 32u * P) * sizeof(float) + 63u) / 64u * 64u;
}

size_t cpu_bf16_scratch_bytes(int N, int K, int threads) {
    (void)N;
    return thread_bytes(K) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct bf16_ctx {
    const cpu_kernels *k;
    const cpu_bf16_ops *ops;
    int M, N, K, nkb, npan, P, mpairs, msplit;
    const uint16_t *A;
    const float *bias;
    const cpu_bf16_src *src;
    float *C;
    size_t ldc;
    const float *sum;
    size_t ldsum;
    const engine_epilogue *epi;
    char *scratch;
    size_t slice;
} bf16_ctx;

static void bf16_task(void *vc, int tid, int64_t u0, int64_t u1) {
    const bf16_ctx *c = vc;
    const cpu_bf16_ops *ops = c->ops;
    char *mine = c->scratch + (size_t)tid * c->slice;
    const size_t bbytes = (size_t)c->P * (size_t)c->nkb * 2048u;
    uint16_t *bp = (uint16_t *)mine;
    float *ct = (float *)(mine + bbytes), *stage = ct + 32 * 32;
    if (ops->begin) ops->begin();
    for (int64_t u = u0; u < u1; ++u) {
        const int blk = (int)(u / c->msplit), ms = (int)(u % c->msplit);
        const int p0 = blk * c->P, p1 = p0 + c->P < c->npan ? p0 + c->P : c->npan;
        const cpu_bf16_src *sb = c->src;
        const int bn0 = p0 * 32, bnr = (c->N < p1 * 32 ? c->N : p1 * 32) - bn0, bNR = (p1 - p0) * 32;
        const uint16_t *bb = sb->packed ? sb->packed + (size_t)p0 * (size_t)c->nkb * 1024u : bp;
        for (int kb = 0; kb < c->nkb && !sb->packed; ++kb) {
            const int k0 = kb * 32, kc = c->K - k0 < 32 ? c->K - k0 : 32;
            /* a gathered B: the block's columns of these rows at once into
             * the float32 stage (one walk of each row for the block) */
            if (!sb->b) sb->pack_b(sb->ctx, bn0, bnr, bNR, k0, kc, stage);
            for (int p = p0; p < p1; ++p) {
                const int n0 = p * 32, nr = c->N - n0 < 32 ? c->N - n0 : 32;
                uint16_t *dst = bp + ((size_t)(p - p0) * (size_t)c->nkb + (size_t)kb) * 1024u;
                if (sb->b)
                    ops->cvt_rows(sb->b + (size_t)k0 * sb->ld + (size_t)n0, sb->ld, kc, nr,
                                  sb->scale ? sb->scale + k0 : NULL, dst);
                else
                    ops->cvt_rows(stage + (n0 - bn0), (size_t)bNR, kc, nr, NULL, dst);
            }
        }
        const int r0 = (int)((int64_t)ms * c->mpairs / c->msplit), r1 = (int)((int64_t)(ms + 1) * c->mpairs / c->msplit);
        for (int r = r0; r < r1; ++r) {
            const uint16_t *a0 = c->A + (size_t)(2 * r) * (size_t)c->nkb * 512u, *a1 = a0 + (size_t)c->nkb * 512u;
            const int m0 = r * 32, mr = c->M - m0 < 32 ? c->M - m0 : 32;
            for (int p = p0; p < p1; ++p) {
                const int n0 = p * 32, nr = c->N - n0 < 32 ? c->N - n0 : 32;
                ops->block(c->nkb, a0, a1, bb + (size_t)(p - p0) * (size_t)c->nkb * 1024u, ct);
                ops->store(ct, c->C + (size_t)m0 * c->ldc + (size_t)n0, c->ldc, mr, nr, c->bias + m0,
                           c->sum ? c->sum + (size_t)m0 * c->ldsum + (size_t)n0 : NULL, c->ldsum, c->epi, c->k->act_row);
            }
        }
    }
    if (ops->end) ops->end();
}

void cpu_bf16_gemm_run(const cpu_kernels *k, const cpu_bf16_ops *ops, int M, int N, int K, const uint16_t *Apacked,
                       const float *bias, const cpu_bf16_src *src, float *C, size_t ldc,
                       const float *sum, size_t ldsum, const engine_epilogue *epi, int threads, void *scratch) {
    if (M <= 0 || N <= 0) return;
    if (threads < 1) threads = 1;
    bf16_ctx c;
    memset(&c, 0, sizeof c);
    c.k = k;
    c.ops = ops;
    c.M = M;
    c.N = N;
    c.K = K;
    c.nkb = nkb_of(K);
    c.npan = (N + 31) / 32;
    c.P = block_panels(K);
    c.mpairs = (M + 31) / 32;
    const int nblk = (c.npan + c.P - 1) / c.P;
    c.msplit = 1;
    if (threads > 1 && nblk < 2 * threads) {
        int want = (2 * threads + nblk - 1) / nblk;
        c.msplit = want < c.mpairs ? want : c.mpairs;
    }
    c.A = Apacked;
    c.bias = bias;
    c.src = src;
    c.C = C;
    c.ldc = ldc;
    c.sum = sum;
    c.ldsum = ldsum;
    c.epi = epi;
    c.scratch = scratch;
    c.slice = thread_bytes(K);
    cpu_parallel_for(threads, (int64_t)nblk * c.msplit, 1, bf16_task, &c);
}

#if defined(__x86_64__)
static const cpu_bf16_ops ops_avx512 = {"avx512bf16", cpu_bf16_block_avx512, NULL, NULL,
                                        cpu_bf16_cvt_rows, cpu_bf16_store, cpu_bf16_pack_a_rows,
                                        cpu_bf16_pack_a_conv_blk, cpu_bf16_store_blk};
static const cpu_bf16_ops ops_amx = {"amx", cpu_bf16_block_amx, cpu_bf16_amx_begin,
                                     cpu_bf16_amx_end, cpu_bf16_cvt_rows, cpu_bf16_store, cpu_bf16_pack_a_rows,
                                     cpu_bf16_pack_a_conv_blk, cpu_bf16_store_blk};
#endif

const cpu_bf16_ops *cpu_bf16_ops_for(int level) {
#if defined(__x86_64__)
    return level == CPU_BF16_AMX ? &ops_amx : level == CPU_BF16_AVX512 ? &ops_avx512 : NULL;
#else
    (void)level;
    return NULL;
#endif
}

int cpu_bf16_select(cpu_isa isa, char *note, size_t note_size) {
    if (note && note_size) note[0] = '\0';
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (isa != CPU_ISA_AVX512 || !__get_cpuid_count(7, 1, &a, &b, &c, &d) || !(a & (1u << 5))) {
        if (note) snprintf(note, note_size, "needs AVX512_BF16 (this CPU or ENGINE_CPU_ISA lacks it)");
        return CPU_BF16_NONE;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22)) || !(d & (1u << 24)))
        return CPU_BF16_AVX512;
    const char *env = getenv("ENGINE_CPU_AMX");
    if (env && strcmp(env, "0") == 0) {
        if (note) snprintf(note, note_size, "AMX off (ENGINE_CPU_AMX=0): bf16 on AVX512_BF16");
        return CPU_BF16_AVX512;
    }
    /* Linux hands out the AMX tile state only on request (5.16 and later):
     * ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA, once per process. */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
        if (note)
            snprintf(note, note_size, "the OS refused AMX tile state (arch_prctl: %s): bf16 on AVX512_BF16",
                     strerror(errno));
        return CPU_BF16_AVX512;
    }
    return CPU_BF16_AMX;
#else
    (void)isa;
    if (note) snprintf(note, note_size, "needs AVX512_BF16 or AMX-BF16 (x86-64)");
    return CPU_BF16_NONE;
#endif
}
