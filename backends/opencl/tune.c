/* backends/opencl/tune.c - the fast convolutions' variants, their launch
 * geometry and default choice, and the auto-tuner.
 *
 * The tuner (levels: none, fast, full; the session's `tune`, else
 * ENGINE_OPENCL_TUNE) times candidate (Winograd or direct) x kernel
 * variant x local size x split-K choices for one layer shape on the
 * device, on seeded data. A candidate is accepted only when its output
 * matches the plain f_conv kernel's (the conformance suite's kernel) on the
 * same data; the fastest accepted one wins. Winners are kept per device in
 * a text file beside the program-binary cache:
 *
 *   $XDG_CACHE_HOME/engine/opencl/tune-<hash of device, driver, platform,
 *   kernel source, precision>.txt
 *
 * first line "ENGTUNE1 <entries> <checksum of the rest>", then one line per
 * layer: "<19 geometry ints> <batch> : <wino> <variant name> <ks> <lx> <ly>
 * <median us>". A missing, short or corrupt file is ignored and rewritten
 * (temporary file + rename) after the next tuning, silently. Level none
 * still uses the entries of an existing file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conv_tune.h"

const conv_variant ocl_conv_variants[] = {
    {"f_conv_pw_8x16", CV_PW, 8, 16},       {"f_conv_pw_8x8", CV_PW, 8, 8},
    {"f_conv_rv_8x16", CV_RV, 8, 16},       {"f_conv_rv_8x8", CV_RV, 8, 8},
    {"f_conv_rb_8x4", CV_RB, 8, 4},         {"f_conv_rb_8x8", CV_RB, 8, 8},
    {"f_conv_tile_64x64", CV_TILE, 64, 64}, {"f_conv_tile_32x64", CV_TILE, 32, 64},
    {"f_conv_tile_64x32", CV_TILE, 64, 32}, {"f_conv_tile_32x32", CV_TILE, 32, 32},
};
const int ocl_n_conv_variants = (int)(sizeof ocl_conv_variants / sizeof *ocl_conv_variants);

int ocl_conv_variant_find(const char *name) {
    for (int i = 0; i < ocl_n_conv_variants; ++i)
        if (strcmp(ocl_conv_variants[i].name, name) == 0) return i;
    return -1;
}

void ocl_conv_geometry(const conv_variant *v, int P, int OH, int OW, int M, int Mp, int batch, int ks, int lx, int ly,
                       size_t *gs, size_t *ls, int *use_local) {
    *use_local = 0;
    ls[0] = ls[1] = ls[2] = 1;
    switch (v->kind) {
    case CV_PW:
    case CV_RB:
        gs[0] = (size_t)((P + v->rn - 1) / v->rn);
        gs[1] = (size_t)(Mp / v->rm);
        gs[2] = (size_t)batch;
        break;
    case CV_RV:
        gs[0] = (size_t)((OW + v->rn - 1) / v->rn);
        gs[1] = (size_t)(Mp / v->rm);
        gs[2] = (size_t)batch * (size_t)OH;
        break;
    case CV_TILE:
        gs[0] = (size_t)((P + v->rn - 1) / v->rn) * (size_t)(v->rn / 4);
        gs[1] = (size_t)((M + v->rm - 1) / v->rm) * (size_t)(v->rm / 4);
        gs[2] = (size_t)batch * (size_t)ks;
        ls[0] = (size_t)(v->rn / 4);
        ls[1] = (size_t)(v->rm / 4);
        *use_local = 1;
        return;
    }
    if (lx > 0 && ly > 0) {
        /* whole work groups; the kernels return early past P and Mp */
        ls[0] = (size_t)lx;
        ls[1] = (size_t)ly;
        gs[0] = (gs[0] + ls[0] - 1) / ls[0] * ls[0];
        gs[1] = (gs[1] + ls[1] - 1) / ls[1] * ls[1];
        *use_local = 1;
    }
}

/* The largest divisor of n not above cap. */
static int divisor_upto(int n, int cap) {
    for (int d = cap; d > 1; --d)
        if (n % d == 0) return d;
    return 1;
}

conv_choice ocl_conv_default(const ocl_state *s, const ocl_conv_desc *d) {
    const int *g = d->g;
    int M = g[3], OW = g[5], P = g[4] * g[5], Mp = g[14], K = g[0] * g[6] * g[7];
    conv_choice c = {d->wino_ok, 0, 1, 0, 0};
    if (s->dev.type & CL_DEVICE_TYPE_CPU) {
        /* work groups across output channels: a group's items share their
         * input columns, which then come from cache (measured on POCL) */
        int w16 = s->dev.vec_float == 0 || s->dev.vec_float >= 16;
        c.variant = d->pointwise || c.wino ? (w16 ? CVI_PW_8x16 : CVI_PW_8x8) : OW >= 12 && w16 ? CVI_RV_8x16 : CVI_RV_8x8;
        c.lx = 1;
        c.ly = divisor_upto(Mp / 8, 16);
        return c;
    }
    c.variant = M <= 32 ? CVI_TILE_32x64 : CVI_TILE_64x64;
    if (c.wino) return c; /* its GEMMs are 16 per image already */
    const conv_variant *v = &ocl_conv_variants[c.variant];
    int64_t groups = (int64_t)((P + v->rn - 1) / v->rn) * ((M + v->rm - 1) / v->rm) * d->batch;
    int64_t want = 2 * (int64_t)(s->dev.compute_units ? s->dev.compute_units : 16);
    /* measured on an H200 (docs/PERFORMANCE.md): splitting 5-fold took
     * 1024x14x14 -> 256 1x1 from 0.118 to 0.037 ms, 2-fold the 147-deep stem
     * from 0.052 to 0.047 ms */
    while (groups * c.ks < want && K / (c.ks * 2) >= 64 && c.ks < 8) c.ks *= 2;
    return c;
}

void ocl_conv_pack(const ocl_conv_desc *d, int wino, float *out) {
    const int *g = d->g;
    int C = g[0], M = g[3], Mp = g[14], K = C * g[6] * g[7];
    if (!wino) {
        memset(out, 0, sizeof(float) * (size_t)K * Mp);
        for (int m = 0; m < M; ++m)
            for (int k = 0; k < K; ++k) out[(size_t)k * Mp + m] = d->w[(size_t)m * K + k];
        return;
    }
    static const float G[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
    memset(out, 0, sizeof(float) * 16 * (size_t)C * Mp);
    for (int m = 0; m < M; ++m)
        for (int c = 0; c < C; ++c) {
            const float *k3 = d->w + ((size_t)m * C + c) * 9;
            float t[4][3];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 3; ++j) t[i][j] = G[i][0] * k3[j] + G[i][1] * k3[3 + j] + G[i][2] * k3[6 + j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j)
                    out[wino == 2 ? (((size_t)(i * 4 + j) * (Mp / 8) + m / 8) * C + c) * 8 + m % 8
                                  : ((size_t)(i * 4 + j) * C + c) * Mp + m] =
                        t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
        }
}

static conv_choice ocl_conv_pick(ocl_state *s, const ocl_conv_desc *d);
static int choice_fits(ocl_state *s, const conv_choice *c);

/* ---- the table ---- */

typedef struct tune_entry {
    int g[19], batch;
    conv_choice c;
    double us;
} tune_entry;

typedef struct tune_table {
    tune_entry *e;
    int n, cap;
    int dirty;
    char path[4200];
} tune_table;

static uint64_t fnv64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 0x100000001b3ull;
    return h;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int table_add(ocl_state *s, tune_table *t, const tune_entry *e) {
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 32;
        tune_entry *ne = s->a.alloc(s->a.user, sizeof *ne * (size_t)nc, 16);
        if (!ne) return 0;
        if (t->e) {
            memcpy(ne, t->e, sizeof *ne * (size_t)t->n);
            s->a.free(s->a.user, t->e);
        }
        t->e = ne;
        t->cap = nc;
    }
    t->e[t->n++] = *e;
    return 1;
}

/* Parses one entry line; 0 on any defect. */
static int parse_entry(const char *line, tune_entry *e) {
    const char *p = line;
    char *end;
    for (int i = 0; i < 19; ++i) {
        long v = strtol(p, &end, 10);
        if (end == p) return 0;
        e->g[i] = (int)v;
        p = end;
    }
    long bt = strtol(p, &end, 10);
    if (end == p) return 0;
    e->batch = (int)bt;
    char name[64];
    int n = 0;
    if (sscanf(end, " : %d %63s %d %d %d %lf%n", &e->c.wino, name, &e->c.ks, &e->c.lx, &e->c.ly, &e->us, &n) != 6)
        return 0;
    e->c.variant = ocl_conv_variant_find(name);
    return e->c.variant >= 0 && e->c.ks >= 1 && e->c.ks <= 64 && e->c.lx >= 0 && e->c.ly >= 0 && e->c.lx <= 1024 &&
           e->c.ly <= 1024;
}

static int format_entry(char *buf, size_t size, const tune_entry *e) {
    int n = 0;
    for (int i = 0; i < 19; ++i) n += snprintf(buf + n, size - (size_t)n, "%d ", e->g[i]);
    n += snprintf(buf + n, size - (size_t)n, "%d : %d %s %d %d %d %.1f\n", e->batch, e->c.wino,
                  ocl_conv_variants[e->c.variant].name, e->c.ks, e->c.lx, e->c.ly, e->us);
    return n;
}

static tune_table *table_get(ocl_state *s) {
    if (s->tune) return s->tune;
    tune_table *t = s->a.alloc(s->a.user, sizeof *t, 16);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    s->tune = t;
    char dir[4096];
    if (!ocl_cache_dir(dir, sizeof dir)) return t;
    uint64_t h = 0xcbf29ce484222325ull;
    const char *fields[] = {s->dev.name, s->dev.driver_version, s->dev.platform_version, ocl_kernels_source,
                            s->fp16 ? "fp16" : "fp32"};
    for (size_t k = 0; k < sizeof fields / sizeof *fields; ++k) h = fnv64(h, fields[k], strlen(fields[k]) + 1);
    snprintf(t->path, sizeof t->path, "%s/tune-%016llx.txt", dir, (unsigned long long)h);
    FILE *f = fopen(t->path, "r");
    if (!f) return t;
    char line[512];
    long count = 0;
    unsigned long long sum = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, "ENGTUNE1 %ld %llx", &count, &sum) != 2 || count < 0 ||
        count > 100000) {
        fclose(f);
        return t;
    }
    uint64_t hs = 0xcbf29ce484222325ull;
    int ok = 1;
    long got = 0;
    while (fgets(line, sizeof line, f)) {
        tune_entry e;
        hs = fnv64(hs, line, strlen(line));
        if (!parse_entry(line, &e) || !table_add(s, t, &e)) {
            ok = 0;
            break;
        }
        ++got;
    }
    fclose(f);
    if (!ok || got != count || hs != sum) t->n = 0; /* corrupt: ignored, rewritten after the next tuning */
    return t;
}

void ocl_tune_save(ocl_state *s) {
    tune_table *t = s->tune;
    if (!t || !t->dirty) return;
    t->dirty = 0;
    if (t->path[0]) {
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", t->path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (f) {
            uint64_t hs = 0xcbf29ce484222325ull;
            char line[512];
            for (int i = 0; i < t->n; ++i) {
                format_entry(line, sizeof line, &t->e[i]);
                hs = fnv64(hs, line, strlen(line));
            }
            int ok = fprintf(f, "ENGTUNE1 %d %llx\n", t->n, (unsigned long long)hs) > 0;
            for (int i = 0; i < t->n && ok; ++i) {
                format_entry(line, sizeof line, &t->e[i]);
                ok = fputs(line, f) >= 0;
            }
            ok &= fclose(f) == 0;
            if (!ok || rename(tmp, t->path) != 0) remove(tmp);
        }
    }
}

void ocl_tune_close(ocl_state *s) {
    tune_table *t = s->tune;
    if (!t) return;
    ocl_tune_save(s);
    if (t->e) s->a.free(s->a.user, t->e);
    s->a.free(s->a.user, t);
    s->tune = NULL;
}

static const tune_entry *table_find(const tune_table *t, const ocl_conv_desc *d) {
    for (int i = 0; i < t->n; ++i)
        if (t->e[i].batch == d->batch && memcmp(t->e[i].g, d->g, 15 * sizeof(int)) == 0) return &t->e[i];
    return NULL;
}

/* ---- timing candidates on the device ---- */

/* Device buffers of one tuning job. */
typedef struct tune_job {
    ocl_state *s;
    const ocl_conv_desc *d;
    cl_mem meta, x, w, wp, u, bias, yref, y, v, mo, part;
    int TT;
    size_t ny;
    float *host; /* ny floats: the candidate's output read back */
    float *ref;
} tune_job;

/* A device buffer of `count` elements of the storage type plus 64 bytes of
 * slack, filled from data (converted) when given; the host copy covers the
 * whole buffer (the slack zeroed), since CL_MEM_COPY_HOST_PTR reads it all. */
static cl_mem dev_buffer(tune_job *j, size_t count, const float *data) {
    ocl_state *s = j->s;
    size_t es = s->fp16 ? 2 : 4;
    cl_int e;
    void *host = NULL;
    if (data) {
        host = s->a.alloc(s->a.user, count * es + 64, 64);
        if (!host) return NULL;
        memset((char *)host + count * es, 0, 64);
        if (s->fp16)
            for (size_t i = 0; i < count; ++i) ((uint16_t *)host)[i] = ocl_f32_to_f16(data[i]);
        else
            memcpy(host, data, count * es);
    }
    cl_mem m = s->cl->CreateBuffer(s->ctx, data ? CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR : CL_MEM_READ_WRITE,
                                   count * es + 64, host, &e);
    if (host) s->a.free(s->a.user, host);
    return e ? NULL : m;
}

/* Reads a device buffer of ny elements into out as float. */
static int read_out(tune_job *j, cl_mem m, float *out) {
    ocl_state *s = j->s;
    if (!s->fp16) return s->cl->EnqueueReadBuffer(s->queue, m, CL_TRUE, 0, j->ny * 4, out, 0, NULL, NULL) == 0;
    uint16_t *h = s->a.alloc(s->a.user, j->ny * 2 + 1, 64);
    if (!h) return 0;
    int ok = s->cl->EnqueueReadBuffer(s->queue, m, CL_TRUE, 0, j->ny * 2, h, 0, NULL, NULL) == 0;
    for (size_t i = 0; ok && i < j->ny; ++i) out[i] = ocl_f16_to_f32(h[i]);
    s->a.free(s->a.user, h);
    return ok;
}

/* A kernel with its arguments: (meta, mo) then a list of (buffer) / int /
 * float arguments as kinds 'b' (buffer + offset 0), 'i', 'f'. */
typedef struct karg {
    char kind;
    cl_mem m;
    int i;
    float f;
} karg;

static cl_kernel make_kernel(tune_job *j, const char *name, int mo, const karg *a, int n) {
    ocl_state *s = j->s;
    cl_int e;
    cl_kernel k = s->cl->CreateKernel(s->program, name, &e);
    if (!k || e) return NULL;
    cl_uint ai = 0;
    int zero = 0;
    e = s->cl->SetKernelArg(k, ai++, sizeof(cl_mem), &j->meta);
    e |= s->cl->SetKernelArg(k, ai++, sizeof(int), &mo);
    for (int i = 0; i < n && !e; ++i) {
        if (a[i].kind == 'b') {
            e |= s->cl->SetKernelArg(k, ai++, sizeof(cl_mem), &a[i].m);
            e |= s->cl->SetKernelArg(k, ai++, sizeof(int), &zero);
        } else if (a[i].kind == 'i') {
            e |= s->cl->SetKernelArg(k, ai++, sizeof(int), &a[i].i);
        } else {
            e |= s->cl->SetKernelArg(k, ai++, sizeof(float), &a[i].f);
        }
    }
    if (e) {
        s->cl->ReleaseKernel(k);
        return NULL;
    }
    return k;
}

#define B(mem) ((karg){'b', (mem), 0, 0.0f})
#define I(v) ((karg){'i', NULL, (v), 0.0f})
#define F(v) ((karg){'f', NULL, 0, (v)})

/* Up to three launches of one candidate. */
typedef struct tune_seq {
    cl_kernel k[3];
    int dims[3];
    size_t gs[3][3], ls[3][3];
    int use_local[3];
    int n;
} tune_seq;

static void seq_free(ocl_state *s, tune_seq *q) {
    for (int i = 0; i < q->n; ++i)
        if (q->k[i]) s->cl->ReleaseKernel(q->k[i]);
    q->n = 0;
}

static int seq_run(ocl_state *s, const tune_seq *q) {
    for (int i = 0; i < q->n; ++i)
        if (s->cl->EnqueueNDRangeKernel(s->queue, q->k[i], 3, NULL, q->gs[i], q->use_local[i] ? q->ls[i] : NULL, 0,
                                        NULL, NULL))
            return 0;
    return s->cl->Finish(s->queue) == 0;
}

/* meta layout of a job: 0 the f_conv reference's 23 ints, 32 the conv's
 * 19, 64 the Winograd GEMM's 19. */
static int seq_build(tune_job *j, const conv_choice *c, tune_seq *q) {
    const int *g = j->d->g;
    int C = g[0], M = g[3], OH = g[4], OW = g[5], Mp = g[14], N = j->d->batch, P = OH * OW;
    const conv_variant *v = &ocl_conv_variants[c->variant];
    ocl_state *s = j->s;
    int meta[19];
    memcpy(meta, g, sizeof meta);
    meta[16] = 0;
    meta[17] = 1;
    meta[18] = c->ks;
    meta[15] = 0; /* timed without the activation, compared with the reference's identity */
    if (s->cl->EnqueueWriteBuffer(s->queue, j->meta, CL_TRUE, 32 * sizeof(int), sizeof meta, meta, 0, NULL, NULL))
        return 0;
    memset(q, 0, sizeof *q);
    if (c->wino) {
        q->k[0] = make_kernel(j, "f_wino_in", 32, (karg[]){B(j->x), B(j->v)}, 2);
        q->gs[0][0] = (size_t)j->TT, q->gs[0][1] = (size_t)C, q->gs[0][2] = (size_t)N;
        q->k[1] = make_kernel(j, v->name, 64,
                              (karg[]){B(j->v), B(j->u), B(j->bias), I(0), B(j->bias), I(0), B(j->mo), F(0), F(0)}, 9);
        ocl_conv_geometry(v, j->TT, 1, j->TT, M, Mp, N * 16, 1, c->lx, c->ly, q->gs[1], q->ls[1], &q->use_local[1]);
        q->k[2] = make_kernel(j, "f_wino_out", 32, (karg[]){B(j->mo), B(j->bias), I(1), B(j->bias), I(0), B(j->y), F(0), F(0)},
                              8);
        q->gs[2][0] = (size_t)j->TT, q->gs[2][1] = (size_t)M, q->gs[2][2] = (size_t)N;
        for (int i = 0; i < 3; ++i)
            if (!q->ls[i][0]) q->ls[i][0] = q->ls[i][1] = q->ls[i][2] = 1;
        q->n = 3;
    } else if (c->ks > 1) {
        q->k[0] = make_kernel(j, v->name, 32,
                              (karg[]){B(j->x), B(j->wp), B(j->bias), I(0), B(j->bias), I(0), B(j->part), F(0), F(0)}, 9);
        ocl_conv_geometry(v, P, OH, OW, M, Mp, N, c->ks, c->lx, c->ly, q->gs[0], q->ls[0], &q->use_local[0]);
        q->k[1] = make_kernel(j, "f_splitk_sum", 32,
                              (karg[]){B(j->part), I(N * M * P), B(j->bias), I(1), B(j->bias), I(0), B(j->y), F(0), F(0)}, 9);
        q->gs[1][0] = (size_t)N * M * P, q->gs[1][1] = q->gs[1][2] = 1;
        q->n = 2;
    } else {
        q->k[0] = make_kernel(j, v->name, 32,
                              (karg[]){B(j->x), B(j->wp), B(j->bias), I(1), B(j->bias), I(0), B(j->y), F(0), F(0)}, 9);
        ocl_conv_geometry(v, P, OH, OW, M, Mp, N, 1, c->lx, c->ly, q->gs[0], q->ls[0], &q->use_local[0]);
        q->n = 1;
    }
    for (int i = 0; i < q->n; ++i)
        if (!q->k[i]) return 0;
    return 1;
}

/* The candidate's median time in ms over `reps` runs after one checked
 * run, or -1 when it fails or its output differs from the reference. */
static double try_candidate(tune_job *j, const conv_choice *c, int reps) {
    ocl_state *s = j->s;
    tune_seq q;
    double med = -1.0;
    q.n = 0;
    if (choice_fits(s, c) != 1) return -1.0;
    if (!seq_build(j, c, &q) || !seq_run(s, &q) || !read_out(j, j->y, j->host)) goto done;
    double at = s->fp16 ? 2e-2 : 1e-4, rt = s->fp16 ? 2e-2 : 1e-3;
    for (size_t i = 0; i < j->ny; ++i)
        if (!(fabsf(j->host[i] - j->ref[i]) <= at + rt * fabsf(j->ref[i]))) goto done;
    double t[16];
    if (reps > 16) reps = 16;
    for (int r = 0; r < reps; ++r) {
        double t0 = now_ms();
        if (!seq_run(s, &q)) goto done;
        t[r] = now_ms() - t0;
    }
    for (int a = 1; a < reps; ++a)
        for (int b2 = a; b2 > 0 && t[b2] < t[b2 - 1]; --b2) {
            double x = t[b2];
            t[b2] = t[b2 - 1];
            t[b2 - 1] = x;
        }
    med = t[reps / 2];
done:
    seq_free(s, &q);
    return med;
}

/* Tunes one layer; 1 with *best set, 0 when nothing could be timed. */
static int tune_layer(ocl_state *s, const ocl_conv_desc *d, int full, conv_choice *best, double *best_ms) {
    const int *g = d->g;
    int C = g[0], IH = g[1], IW = g[2], M = g[3], OH = g[4], OW = g[5], KH = g[6], KW = g[7], Mp = g[14];
    int N = d->batch, K = C * KH * KW, P = OH * OW;
    tune_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.d = d;
    j.TT = ((OH + 1) / 2) * ((OW + 1) / 2);
    j.ny = (size_t)N * M * P;
    int ok = 0;
    size_t nx = (size_t)N * C * IH * IW, npk = d->wino_ok ? 16 * (size_t)C * Mp : 0;
    size_t nw = (size_t)K * Mp > npk ? (size_t)K * Mp : npk;
    size_t nscr = (size_t)M * K + nx + nw + 2 * j.ny + (size_t)M;
    float *h = s->a.alloc(s->a.user, sizeof(float) * nscr, 64);
    if (!h) return 0;
    float *hx = h, *hw = hx + nx, *hb = hw + nw, *hy = hb + M, *href = hy + j.ny;
    uint32_t r = 0x9e3779b9u;
    for (size_t i = 0; i < nx; ++i) {
        r = r * 1664525u + 1013904223u;
        hx[i] = (float)((r >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    for (int i = 0; i < M; ++i) hb[i] = d->bias ? d->bias[i] : 0.0f;
    j.host = hy;
    j.ref = href;
    /* the reference: f_conv on the weights as given */
    int gref[32] = {0};
    gref[0] = N, gref[1] = C, gref[2] = 1, gref[3] = IH, gref[4] = IW, gref[5] = M, gref[6] = 1, gref[7] = OH;
    gref[8] = OW, gref[9] = 1, gref[10] = KH, gref[11] = KW, gref[12] = 1, gref[13] = g[8], gref[14] = g[9];
    gref[15] = 1, gref[16] = g[12], gref[17] = g[13], gref[18] = 0, gref[19] = g[10], gref[20] = g[11];
    gref[21] = 1, gref[22] = 0;
    int meta[96] = {0};
    memcpy(meta, gref, sizeof gref);
    int gm[19] = {C, 1, j.TT, M, 1, j.TT, 1, 1, 1, 1, 0, 0, 1, 1, Mp, 0, C * Mp, 16, 1};
    memcpy(meta + 64, gm, sizeof gm);
    cl_int e;
    j.meta = s->cl->CreateBuffer(s->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof meta, meta, &e);
    if (e) j.meta = NULL;
    j.x = dev_buffer(&j, nx, hx);
    j.w = dev_buffer(&j, (size_t)M * K, d->w);
    ocl_conv_pack(d, 0, hw);
    j.wp = dev_buffer(&j, (size_t)K * Mp, hw);
    if (d->wino_ok) {
        ocl_conv_pack(d, 1, hw);
        j.u = dev_buffer(&j, npk, hw);
        j.v = dev_buffer(&j, (size_t)N * 16 * C * j.TT, NULL);
        j.mo = dev_buffer(&j, (size_t)N * 16 * M * j.TT, NULL);
    }
    j.bias = dev_buffer(&j, (size_t)M, hb);
    j.yref = dev_buffer(&j, j.ny, NULL);
    j.y = dev_buffer(&j, j.ny, NULL);
    j.part = dev_buffer(&j, 16 * j.ny, NULL);
    if (!j.meta || !j.x || !j.w || !j.wp || !j.bias || !j.yref || !j.y || (d->wino_ok && (!j.u || !j.v || !j.mo)))
        goto done;
    {
        cl_kernel k = make_kernel(&j, "f_conv", 0,
                                  (karg[]){B(j.x), B(j.w), B(j.bias), I(1), B(j.bias), I(0), B(j.yref), F(0), F(0)}, 9);
        if (!k) goto done;
        int fail = s->cl->EnqueueNDRangeKernel(s->queue, k, 1, NULL, &j.ny, NULL, 0, NULL, NULL) != 0 ||
                   s->cl->Finish(s->queue) != 0;
        s->cl->ReleaseKernel(k);
        if (fail || !read_out(&j, j.yref, href)) goto done;
    }
    /* candidates */
    conv_choice cands[512];
    int nc = 0;
    cands[nc++] = ocl_conv_default(s, d);
    int cpu = (s->dev.type & CL_DEVICE_TYPE_CPU) != 0;
    static const int lys[] = {0, 1, 2, 4, 8, 16, 32};
    static const int kss[] = {1, 2, 4, 8, 16};
    for (int wino = 0; wino <= d->wino_ok; ++wino)
        for (int vi = 0; vi < ocl_n_conv_variants; ++vi) {
            const conv_variant *v = &ocl_conv_variants[vi];
            if (v->kind == CV_PW && !d->pointwise && !wino) continue;
            if (v->kind == CV_RV && wino) continue;
            if (!full && (v->kind == CV_TILE) == cpu) continue; /* fast: the device type's family */
            if (v->kind == CV_TILE) {
                for (size_t k = 0; k < sizeof kss / sizeof *kss; ++k) {
                    if (kss[k] > 1 && (wino || K / kss[k] < 128)) continue;
                    if (!full && kss[k] > 4) continue;
                    if (nc < 512) cands[nc++] = (conv_choice){wino, vi, kss[k], 0, 0};
                }
                continue;
            }
            for (size_t l = 0; l < sizeof lys / sizeof *lys; ++l) {
                if (lys[l] && (Mp / v->rm) % lys[l]) continue;
                if (!full && lys[l] != 0 && lys[l] != 1 && lys[l] != 8 && lys[l] != divisor_upto(Mp / 8, 16)) continue;
                for (int lx = 1; lx <= (full ? 4 : 1); lx *= 2)
                    if (nc < 512) cands[nc++] = (conv_choice){wino, vi, 1, lys[l] ? lx : 0, lys[l]};
            }
        }
    int reps = full ? 7 : 3;
    double bt = -1;
    for (int i = 0; i < nc; ++i) {
        double t = try_candidate(&j, &cands[i], reps);
        if (t >= 0 && (bt < 0 || t < bt)) {
            bt = t;
            *best = cands[i];
        }
    }
    if (bt >= 0) {
        *best_ms = bt;
        ok = 1;
    }
done:
    {
        cl_mem all[] = {j.meta, j.x, j.w, j.wp, j.u, j.bias, j.yref, j.y, j.v, j.mo, j.part};
        for (size_t i = 0; i < sizeof all / sizeof *all; ++i)
            if (all[i]) s->cl->ReleaseMemObject(all[i]);
    }
    s->a.free(s->a.user, h);
    return ok;
}

/* The largest work group variant vi may use on this device under the caps
 * (probed once), -1 when it cannot run at all, -2 when the kernel could
 * not be created (an OpenCL failure, reported). */
static long variant_cap(ocl_state *s, int vi) {
    if (vi < 0 || vi >= 16) return -1;
    if (s->conv_cap[vi]) return s->conv_cap[vi];
    cl_int e;
    cl_kernel k = s->cl->CreateKernel(s->program, ocl_conv_variants[vi].name, &e);
    if (!k || e) return -2; /* not cached: the next probe tries again */
    long cap = -1;
    for (size_t wg = s->wg_cap ? s->wg_cap : 1024; wg >= 1; wg /= 2)
        if (ocl_kernel_fits(s, k, wg, NULL, 0)) {
            cap = (long)wg;
            break;
        }
    s->cl->ReleaseKernel(k);
    s->conv_cap[vi] = cap;
    return cap;
}

/* Whether choice c can launch here: its work group within the variant's
 * cap (the Winograd transforms and split-K sums leave it to the driver). */
static int choice_fits(ocl_state *s, const conv_choice *c) {
    const conv_variant *v = &ocl_conv_variants[c->variant];
    long wg = v->kind == CV_TILE ? (long)(v->rm / 4) * (v->rn / 4) : (long)c->lx * c->ly;
    if (wg < 1) wg = 1;
    long cap = variant_cap(s, c->variant);
    return cap == -2 ? -1 : cap >= wg;
}

int ocl_conv_choose(ocl_state *s, const ocl_conv_desc *d, conv_choice *out) {
    conv_choice c = ocl_conv_pick(s, d);
    int fits = choice_fits(s, &c);
    if (fits < 0) return 0;
    if (!fits) {
        /* the vector kernels without a local size fit every device */
        c.variant = d->pointwise || c.wino ? CVI_PW_8x16 : CVI_RV_8x16;
        c.ks = 1;
        c.lx = c.ly = 0;
        if (choice_fits(s, &c) < 0) return 0;
    }
    *out = c;
    return 1;
}

static conv_choice ocl_conv_pick(ocl_state *s, const ocl_conv_desc *d) {
    conv_choice c = ocl_conv_default(s, d);
    tune_table *t = table_get(s);
    if (!t) return c;
    const tune_entry *e = table_find(t, d);
    if (e) return e->c;
    if (s->tune_level == OCL_TUNE_NONE) return c;
    double t0 = now_ms(), ms = 0;
    tune_entry ne;
    memset(&ne, 0, sizeof ne);
    if (tune_layer(s, d, s->tune_level == OCL_TUNE_FULL, &ne.c, &ms)) {
        memcpy(ne.g, d->g, sizeof ne.g);
        ne.batch = d->batch;
        ne.us = ms * 1e3;
        if (table_add(s, t, &ne)) t->dirty = 1;
        c = ne.c;
        s->tuned++;
    }
    s->tune_ms += now_ms() - t0;
    return c;
}
