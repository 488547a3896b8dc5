/*
 * conv_winograd.c - Winograd F(4x4, 3x3) for 3x3 stride-1 dilation-1
 * ungrouped convolutions: the cpu_conv_winograd algorithm, the weight
 * transform (at pack time, in double), and the portable instantiation of
 * the kernel. The SIMD instantiations are conv_winograd_avx512.c and
 * conv_winograd_avx2.c; the kernel itself is conv_winograd_tmpl.h.
 *
 * Kernel names: f32_conv3x3s1_winograd_f4x4__<isa>.
 *
 * Why F(4x4) and not F(6x6): F(6x6, 3x3) needs points +-1/2 and +-4 whose
 * transforms grow values by ~100x, which costs about two decimal digits in
 * float32: over C = 512 channels that breaks the per-op tolerance
 * (atol 1e-5 + rtol 1e-4). F(4x4) on the points 0, 1, -1, 1/2, -2 keeps the
 * error well within it on kaiming-scaled data, 2-3x below Lavin & Gray's
 * points 0, +-1, +-2 (conv_winograd_tmpl.h); test_winograd measures it.
 */
#include <string.h>

#define CSV_SCALAR
#include "conv_special_vec.h"
#define WG_SUFFIX scalar
#define WG_MR 4
#define WG_NR 4
#include "conv_winograd_tmpl.h"

void cpu_wino_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                          void *scratch);
void cpu_wino_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                        void *scratch);

#if defined(__x86_64__)
#define WG_HAVE_X86 1
#else
#define WG_HAVE_X86 0
#endif

/* The register tiling of each instantiation: floats per vector, tiles per
 * register tile (WG_MR), output channels per register tile (WG_NR * VW).
 * These must match the WG_MR / WG_NR the ISA files define. */
static void wg_layout(cpu_isa isa, int *vw, int *mr, int *mblk) {
#if WG_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        *vw = 16, *mr = 8, *mblk = 32;
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        *vw = 8, *mr = 6, *mblk = 16;
        return;
    }
#endif
    (void)isa;
    *vw = 1, *mr = 4, *mblk = 4;
}

static void wg_geom_for(const cpu_conv2d *d, cpu_isa isa, wg_geom *g) {
    int vw, mr, mblk;
    wg_layout(isa, &vw, &mr, &mblk);
    wg_geom_init(d, vw, mr, mblk, g);
}

/* C is capped at 512: the float32 error of F(4x4, 3x3) grows with the
 * number of channels summed (test_winograd measures 0.66 of the per-op
 * tolerance at C = 512), and the 3x3 layers of the usual CNNs stay at or
 * below 512 input channels; deeper ones take the gemm path. */
#define WG_MAX_C 512

static int wg_applies(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return !d->exact && d->KH == 3 && d->KW == 3 && d->SH == 1 && d->SW == 1 && d->DH == 1 && d->DW == 1 && d->group == 1 &&
           d->C >= 1 && d->C <= WG_MAX_C && d->M >= 1 && d->OH >= 1 && d->OW >= 1;
}

/* In the gemm path's units (conv_gemm.c), which on this machine read about
 * 4x the measured time for both algorithms, so both are calibrated alike:
 * the 36 GEMMs over padded channels and tiles at 13.5 (AVX-512) / 9.5
 * (AVX2) MACs per ns and thread (measured ~54 / ~38), the transforms and
 * the scattered output stores, and U streamed once per tile block: a
 * 512x512 layer has 38 MB of U, which at 7x7 (one block of 4 tiles) costs
 * more than the multiplies save, and the gemm path wins there. */
static double wg_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    wg_geom g;
    wg_geom_for(d, isa, &g);
    double rate = isa == CPU_ISA_AVX512 ? 13.5 : isa == CPU_ISA_AVX2 ? 9.5 : 1.0;
    double lanes = g.vw;
    double tiles = (double)((g.T + g.mr - 1) / g.mr * g.mr);
    double gemm = 36.0 * g.Mpad * g.Cpad * tiles / rate;
    double in_tf = (double)g.Cpad * g.T * 150.0 / lanes * 0.4; /* ~150 vector ops per tile and channel vector */
    double out_tf = (double)g.Mpad * g.T * 110.0 / lanes * 0.4;
    double stores = (double)d->M * d->OH * d->OW * 0.8; /* scalar scatter of the channel vectors */
    double pack = (double)g.Cpad * g.Hp * g.Wp * 0.4;
    double u_bytes = 36.0 * g.Mpad * g.Cpad * sizeof(float);
    double blocks = (double)((g.T + g.nt - 1) / g.nt);
    double u_ns = blocks * u_bytes / (u_bytes > 16e6 ? 4.0 : 16.0); /* DRAM beyond L3, same 4x scale */
    int thr = g.threads;
    return (gemm + in_tf + out_tf + stores + pack + u_ns) / thr + 500.0; /* + the parallel region's start */
}

static size_t wg_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    wg_geom g;
    wg_geom_for(d, isa, &g);
    return ((size_t)36 * g.Mpad * g.Cpad + (size_t)g.Mpad) * sizeof(float);
}

/* U = G g G^T per (m, c), in double, scattered into the panel layout. G's
 * rows go with the points of conv_winograd_tmpl.h (0, 1, -1, 1/2, -2, inf):
 * row j is (1, a, a^2) / prod_{l != j} (a_j - a_l) for finite a = a_j. */
static void wg_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    static const double G[6][3] = {
        {1.0, 0, 0},
        {1.0 / 3, 1.0 / 3, 1.0 / 3},
        {-1.0 / 3, 1.0 / 3, -1.0 / 3},
        {-16.0 / 15, -8.0 / 15, -4.0 / 15},
        {1.0 / 15, -2.0 / 15, 4.0 / 15},
        {0, 0, 1},
    };
    wg_geom g;
    wg_geom_for(d, isa, &g);
    const int mblk = g.mblk, nmb = g.Mpad / mblk;
    float *U = packed;
    memset(U, 0, wg_packed_size(d, isa));
    for (int m = 0; m < d->M; ++m)
        for (int c = 0; c < d->C; ++c) {
            const float *k = w + ((size_t)m * d->C + c) * 9;
            double t[6][3]; /* G g */
            for (int i = 0; i < 6; ++i)
                for (int j = 0; j < 3; ++j)
                    t[i][j] = G[i][0] * k[0 * 3 + j] + G[i][1] * k[1 * 3 + j] + G[i][2] * k[2 * 3 + j];
            const int mb = m / mblk, mm = m % mblk;
            for (int i = 0; i < 6; ++i)
                for (int j = 0; j < 6; ++j) {
                    double u = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
                    const int p = i * 6 + j;
                    U[(((size_t)p * nmb + mb) * g.Cpad + c) * mblk + mm] = (float)u;
                }
        }
    float *b = U + (size_t)36 * g.Mpad * g.Cpad;
    if (bias) memcpy(b, bias, (size_t)d->M * sizeof(float));
}

static size_t wg_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    int vw, mr, mblk;
    wg_layout(isa, &vw, &mr, &mblk);
    return wg_scratch_floats(d, vw, mr, mblk) * sizeof(float);
}

static void wg_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                   void *scratch) {
#if WG_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        cpu_wino_run__avx512(d, packed, x, sum, y, scratch);
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        cpu_wino_run__avx2(d, packed, x, sum, y, scratch);
        return;
    }
#endif
    (void)isa;
    cpu_wino_run__scalar(d, packed, x, sum, y, scratch);
}

const cpu_conv_algo cpu_conv_winograd = {
    .name = "f32_conv3x3s1_winograd_f4x4",
    .applies = wg_applies,
    .estimate_ns = wg_estimate_ns,
    .packed_size = wg_packed_size,
    .pack = wg_pack,
    .scratch_size = wg_scratch_size,
    .run = wg_run,
};
