/* engine-run - run, check and benchmark an ONNX model with engine.
 *
 * The command-line contract is documented in README.md and in usage()
 * below; later tools (benchmark and conformance scripts) rely on it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "engine/backend.h"
#include "engine/engine.h"
#include "results.h"

#define MAX_IO 64

typedef struct options {
    const char *model;
    const char *backends;
    const char *input_spec[MAX_IO];
    int n_input_spec;
    const char *output;
    const char *output_dir;
    const char *image;
    int size_w, size_h;
    float mean[4], std[4];
    int n_mean, n_std;
    int top;
    int bench, warmup;
    int profile;
    const char *trace;
    int json;
    int dump_graph;
    int threads;
    const char *device;
    const char *precision; /* --precision fp32|fp16|bf16 (backends that offer them) */
    const char *tune;      /* --tune none|fast|full (backends with a tuner) */
    int no_fuse;
    int keep_weights;
    int strict;
    int list_backends;
    unsigned seed;
    const char *plugins[MAX_IO]; /* --plugin FILE, in order */
    int n_plugins;
    const char *spin;            /* --spin latency|default|shared|none|US */
    const char *shapes[MAX_IO]; /* --shape NAME=DIMS, in order */
    int n_shapes;
    const char *labels; /* --labels FILE: class names, one a line */
    const char *draw;   /* --draw OUT.png: results drawn over --image */
} options;

/* What --image did: the picture's own size and the network input's, so that
 * coordinates in the outputs map back to the picture. */
typedef struct image_map {
    const char *path;
    int image_w, image_h, net_w, net_h;
} image_map;

static void usage(FILE *f) {
    fprintf(f,
            "usage: engine-run MODEL [options]\n"
            "  -b, --backend LIST       ref | cpu | opencl | auto (default auto); a comma list is a priority order\n"
            "  -i, --input [NAME=]FILE  .npy or .pb; repeatable; without NAME, in the order of the graph's\n"
            "                           non-initializer inputs; inputs not given are seeded random\n"
            "  -o, --output FILE        the first output as .npy\n"
            "  --output-dir DIR         every output as DIR/output_<k>.npy, k = the graph output's index (DIR made if missing)\n"
            "  --image FILE             PNG/JPEG input, with --size N|WxH, --mean M[,M,M], --std S[,S,S]\n"
            "                           (pixels scaled to [0,1] first; default mean 0, std 1)\n"
            "                           (an input [N,C,H,W] or [C,H,W]; symbolic H, W: the image's own size)\n"
            "  --top K                  top-K classes of a 1xN output\n"
            "  --labels FILE            class names, one a line (line k names class k), for --top, --json, --draw\n"
            "  --draw OUT.png           with --image: the detections (boxes, names and scores, masks, keypoints),\n"
            "                           segmentation or top classes drawn over the image at its own size\n"
            "  --bench N, --warmup N    N timed runs after the warm-up; min/median/p90/max ms\n"
            "  --profile                per-node table: node, op, backend, output shape, ms, %% of total\n"
            "  --trace FILE             Chrome trace-event JSON of one run (opens in Perfetto)\n"
            "  --json                   machine-readable stdout: with --bench, --dump-graph; else the results:\n"
            "                           detections [{\"box\":[x1,y1,x2,y2],\"score\":s,\"label\":id,\"name\":..},..]\n"
            "                           (boxes in the --image's pixels), top-K classes or segmentation classes\n"
            "  --dump-graph             the graph after optimisation (and placement)\n"
            "  --threads N, --device SPEC, --plugin FILE (repeatable), --no-fuse,\n"
            "  --strict                 fail instead of falling back to another backend\n"
            "  --seed N                 seed of the random inputs (default 42)\n"
            "  --keep-weights           keep the model's copy of weights the backends hold packed (default:\n"
            "                           handed back to the system, read back from the file at a new shape)\n"
            "  --spin latency|default|shared|none|US  how the cpu backend's idle threads wait: spin 2 ms,\n"
            "                           100 us (default), or sleep at once (cores shared with other work)\n"
            "  --shape NAME=DIMS        dims of input NAME (e.g. x=1x3x320x320; repeatable): binds the model's\n"
            "                           symbolic dims, compiles that shape ahead and shapes the random input\n"
            "  --precision fp32|fp16|bf16  fp16: half storage (opencl); bf16: convolutions in bf16\n"
            "                           with float32 sums (cpu with AVX512_BF16 or AMX)\n"
            "  --tune none|fast|full    auto-tune kernels per layer where a backend can (opencl); winners are\n"
            "                           cached beside the program cache and reused by later runs\n"
            "  --list-backends, --version, --help\n");
}

/* One clear line on stderr, then a non-zero exit. */
static int fail(const char *what, const char *detail) {
    fprintf(stderr, "engine-run: %s%s%s\n", what, detail && detail[0] ? ": " : "", detail ? detail : "");
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void write_stdout(void *user, const char *text) {
    (void)user;
    fputs(text, stdout);
}

static void write_stderr(void *user, const char *text) {
    (void)user;
    fputs(text, stderr);
}

static int parse_floats(const char *s, float *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtof(s, &end);
        if (end == s) return -1;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

static int parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000000000) return -1;
    *out = (int)v;
    return 0;
}

/* ---- inputs ---- */

static uint64_t rng_next(uint64_t *state) {
    /* splitmix64: small, seeded, the same on every platform */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int fill_random(engine_tensor *t, const engine_tensor_info *info, uint64_t *rng) {
    t->dtype = info->dtype;
    t->rank = info->rank;
    memcpy(t->dims, info->dims, sizeof t->dims);
    int64_t n = engine_tensor_numel(t);
    size_t es = engine_dtype_size(info->dtype);
    t->data = calloc((size_t)(n ? n : 1), es ? es : 1);
    if (!t->data) return -1;
    for (int64_t k = 0; k < n; ++k) {
        double u = (double)(rng_next(rng) >> 11) / 9007199254740992.0; /* [0,1) */
        switch (info->dtype) {
        case ENGINE_DTYPE_F32: ((float *)t->data)[k] = (float)(2.0 * u - 1.0); break;
        case ENGINE_DTYPE_I64: ((int64_t *)t->data)[k] = (int64_t)(u * 10); break;
        case ENGINE_DTYPE_I32: ((int32_t *)t->data)[k] = (int32_t)(u * 10); break;
        case ENGINE_DTYPE_BOOL: ((uint8_t *)t->data)[k] = u < 0.5; break;
        default: break;
        }
    }
    return 0;
}

/* The size of the picture at path, checked against the pixel limit before
 * anything is decoded. */
static int image_size(const char *path, int *w, int *h, char *err, size_t errsz) {
    int c;
    if (!stbi_info(path, w, h, &c)) {
        snprintf(err, errsz, "%s: %s", path, stbi_failure_reason());
        return -1;
    }
    if (*w <= 0 || *h <= 0 || (int64_t)*w * *h > RESULTS_MAX_IMAGE_PIXELS) {
        snprintf(err, errsz, "%s: %dx%d pixels, more than the %lld allowed", path, *w, *h,
                 (long long)RESULTS_MAX_IMAGE_PIXELS);
        return -1;
    }
    return 0;
}

/* Loads, resizes and normalises an image into a float tensor shaped like
 * the model's input, [N,C,H,W] or [C,H,W] with C 1 or 3 (each batch item
 * the same picture); records the sizes in map. */
static int load_image(const options *o, const engine_tensor_info *info, engine_tensor *t, image_map *map, char *err,
                      size_t errsz) {
    int rank = info->rank;
    if ((rank != 4 && rank != 3) || (info->dims[rank - 3] != 1 && info->dims[rank - 3] != 3) ||
        info->dtype != ENGINE_DTYPE_F32) {
        snprintf(err, errsz, "--image needs a float32 [N,1|3,H,W] or [1|3,H,W] model input; '%s' is not", info->name);
        return -1;
    }
    int channels = (int)info->dims[rank - 3];
    int w = o->size_w ? o->size_w : (int)info->dims[rank - 1];
    int h = o->size_h ? o->size_h : (int)info->dims[rank - 2];
    if (w != info->dims[rank - 1] || h != info->dims[rank - 2]) {
        snprintf(err, errsz, "--size %dx%d does not match the model input %lldx%lld", w, h,
                 (long long)info->dims[rank - 1], (long long)info->dims[rank - 2]);
        return -1;
    }
    int iw, ih, ic;
    if (image_size(o->image, &iw, &ih, err, errsz)) return -1;
    unsigned char *pix = stbi_load(o->image, &iw, &ih, &ic, channels);
    if (!pix) {
        snprintf(err, errsz, "%s: %s", o->image, stbi_failure_reason());
        return -1;
    }
    unsigned char *resized = malloc((size_t)w * (size_t)h * (size_t)channels);
    if (!resized) {
        stbi_image_free(pix);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (iw == w && ih == h)
        memcpy(resized, pix, (size_t)w * (size_t)h * (size_t)channels);
    else if (!stbir_resize_uint8(pix, iw, ih, 0, resized, w, h, 0, channels)) {
        stbi_image_free(pix);
        free(resized);
        snprintf(err, errsz, "%s: resize failed", o->image);
        return -1;
    }
    stbi_image_free(pix);
    int64_t batch = rank == 4 ? info->dims[0] : 1;
    t->dtype = ENGINE_DTYPE_F32;
    t->rank = rank;
    memcpy(t->dims, info->dims, sizeof t->dims);
    float *data = malloc(sizeof(float) * (size_t)(batch * channels * h * w));
    if (!data) {
        free(resized);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (int64_t b = 0; b < batch; ++b)
        for (int c = 0; c < channels; ++c) {
            float mean = o->n_mean ? o->mean[o->n_mean == 1 ? 0 : c] : 0.0f;
            float sd = o->n_std ? o->std[o->n_std == 1 ? 0 : c] : 1.0f;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    float v = resized[((size_t)y * (size_t)w + (size_t)x) * (size_t)channels + (size_t)c] / 255.0f;
                    data[((b * channels + c) * h + y) * w + x] = (v - mean) / sd;
                }
        }
    free(resized);
    t->data = data;
    map->path = o->image;
    map->image_w = iw, map->image_h = ih, map->net_w = w, map->net_h = h;
    return 0;
}

/* ---- reporting ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The process's peak resident memory in KiB: Linux's VmHWM, the high-water
 * mark of this address space (getrusage's ru_maxrss keeps the maximum from
 * before exec, so a child of a large process, a benchmark script with
 * PyTorch loaded, would report its parent's size); ru_maxrss elsewhere. */
static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return kb;
    }
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void print_summary(const engine_tensor_info *info, const void *data) {
    int64_t n = 1;
    for (int k = 0; k < info->rank; ++k) n *= info->dims[k];
    printf("output '%s' %s[", info->name, engine_dtype_name(info->dtype));
    for (int k = 0; k < info->rank; ++k) printf(k ? ",%lld" : "%lld", (long long)info->dims[k]);
    printf("]");
    if (info->dtype == ENGINE_DTYPE_F32 && n > 0) {
        const float *f = data;
        double lo = f[0], hi = f[0], sum = 0;
        for (int64_t k = 0; k < n; ++k) {
            lo = f[k] < lo ? f[k] : lo;
            hi = f[k] > hi ? f[k] : hi;
            sum += f[k];
        }
        printf(" min %.6g max %.6g mean %.6g first:", lo, hi, sum / (double)n);
        for (int64_t k = 0; k < n && k < 6; ++k) printf(" %.6g", f[k]);
    } else if (info->dtype == ENGINE_DTYPE_I64 && n > 0) {
        printf(" first:");
        for (int64_t k = 0; k < n && k < 8; ++k) printf(" %lld", (long long)((const int64_t *)data)[k]);
    }
    printf("\n");
}

static int write_trace(const char *path, const engine_node_timing *t, int count) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"traceEvents\":[\n");
    for (int k = 0; k < count; ++k) {
        fprintf(f, "%s{\"name\":", k ? ",\n" : "");
        results_json_string(f, t[k].node);
        fprintf(f, ",\"cat\":");
        results_json_string(f, t[k].op);
        fprintf(f, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":1,\"args\":{\"op\":", t[k].start_ms * 1e3,
                t[k].ms * 1e3);
        results_json_string(f, t[k].op);
        fprintf(f, ",\"backend\":");
        results_json_string(f, t[k].backend);
        fprintf(f, "}}");
    }
    fprintf(f, "\n],\"displayTimeUnit\":\"ms\"}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void print_profile(const engine_model *model, const engine_node_timing *t, int count) {
    (void)model;
    double total = 0;
    for (int k = 0; k < count; ++k) total += t[k].ms;
    printf("%-32s %-20s %-8s %10s %7s\n", "node", "op", "backend", "ms", "%");
    for (int k = 0; k < count; ++k)
        printf("%-32.32s %-20.20s %-8.8s %10.4f %6.2f%%\n", t[k].node ? t[k].node : "?", t[k].op ? t[k].op : "?",
               t[k].backend ? t[k].backend : "?", t[k].ms,
               total > 0 ? 100.0 * t[k].ms / total : 0.0);
    printf("%-32s %-20s %-8s %10.4f %6.2f%%\n", "total", "", "", total, 100.0);
}

static int list_backends(engine_context *ctx) {
    int n = engine_backend_count(ctx);
    printf("%d backend%s loaded\n", n, n == 1 ? "" : "s");
    for (int k = 0; k < n; ++k)
        printf("  %-8s score %5d  %s\n", engine_backend_name(ctx, k), engine_backend_score(ctx, k),
               engine_backend_description(ctx, k));
    const char *rej = engine_backend_rejections(ctx);
    if (rej[0]) printf("refused modules:\n%s", rej);
    printf("%d plugin op%s registered\n", engine_plugin_op_count(ctx), engine_plugin_op_count(ctx) == 1 ? "" : "s");
    rej = engine_plugin_rejections(ctx);
    if (rej[0]) printf("refused plugins:\n%s", rej);
    return 0;
}

/* ---- main ---- */

enum {
    OPT_OUTPUT_DIR = 256, OPT_IMAGE, OPT_SIZE, OPT_MEAN, OPT_STD, OPT_TOP, OPT_BENCH, OPT_WARMUP, OPT_PROFILE,
    OPT_TRACE, OPT_JSON, OPT_DUMP, OPT_THREADS, OPT_DEVICE, OPT_PLUGIN, OPT_NO_FUSE, OPT_STRICT, OPT_LIST,
    OPT_VERSION, OPT_HELP, OPT_SEED, OPT_PRECISION, OPT_TUNE, OPT_SHAPE, OPT_SPIN, OPT_LABELS, OPT_DRAW,
    OPT_KEEP_WEIGHTS
};

static int parse_args(int argc, char **argv, options *o) {
    static const struct option longs[] = {
        {"backend", required_argument, 0, 'b'}, {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'}, {"output-dir", required_argument, 0, OPT_OUTPUT_DIR},
        {"image", required_argument, 0, OPT_IMAGE}, {"size", required_argument, 0, OPT_SIZE},
        {"mean", required_argument, 0, OPT_MEAN}, {"std", required_argument, 0, OPT_STD},
        {"top", required_argument, 0, OPT_TOP}, {"bench", required_argument, 0, OPT_BENCH},
        {"warmup", required_argument, 0, OPT_WARMUP}, {"profile", no_argument, 0, OPT_PROFILE},
        {"trace", required_argument, 0, OPT_TRACE}, {"json", no_argument, 0, OPT_JSON},
        {"dump-graph", no_argument, 0, OPT_DUMP}, {"threads", required_argument, 0, OPT_THREADS},
        {"device", required_argument, 0, OPT_DEVICE}, {"plugin", required_argument, 0, OPT_PLUGIN},
        {"no-fuse", no_argument, 0, OPT_NO_FUSE}, {"strict", no_argument, 0, OPT_STRICT},
        {"keep-weights", no_argument, 0, OPT_KEEP_WEIGHTS},
        {"list-backends", no_argument, 0, OPT_LIST}, {"version", no_argument, 0, OPT_VERSION},
        {"help", no_argument, 0, OPT_HELP}, {"seed", required_argument, 0, OPT_SEED},
        {"precision", required_argument, 0, OPT_PRECISION}, {"tune", required_argument, 0, OPT_TUNE},
        {"shape", required_argument, 0, OPT_SHAPE}, {"spin", required_argument, 0, OPT_SPIN},
        {"labels", required_argument, 0, OPT_LABELS}, {"draw", required_argument, 0, OPT_DRAW}, {0, 0, 0, 0}};
    o->warmup = -1;
    o->seed = 42;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "b:i:o:h", longs, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'b': o->backends = optarg; break;
        case 'i':
            if (o->n_input_spec >= MAX_IO) return fail("too many --input options", NULL) ? 2 : 2;
            o->input_spec[o->n_input_spec++] = optarg;
            break;
        case 'o': o->output = optarg; break;
        case OPT_OUTPUT_DIR: o->output_dir = optarg; break;
        case OPT_IMAGE: o->image = optarg; break;
        case OPT_SIZE:
            if (sscanf(optarg, "%dx%d", &o->size_w, &o->size_h) == 2) break;
            bad = parse_int(optarg, &o->size_w);
            o->size_h = o->size_w;
            break;
        case OPT_MEAN: bad = (o->n_mean = parse_floats(optarg, o->mean, 4)) <= 0; break;
        case OPT_STD:
            bad = (o->n_std = parse_floats(optarg, o->std, 4)) <= 0;
            for (int k = 0; k < o->n_std && !bad; ++k) bad = o->std[k] == 0.0f;
            break;
        case OPT_TOP: bad = parse_int(optarg, &o->top) || o->top < 1; break;
        case OPT_BENCH: bad = parse_int(optarg, &o->bench) || o->bench < 1; break;
        case OPT_WARMUP: bad = parse_int(optarg, &o->warmup); break;
        case OPT_PROFILE: o->profile = 1; break;
        case OPT_TRACE: o->trace = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_DUMP: o->dump_graph = 1; break;
        case OPT_THREADS: bad = parse_int(optarg, &o->threads); break;
        case OPT_DEVICE: o->device = optarg; break;
        case OPT_PRECISION:
            o->precision = optarg;
            bad = strcmp(optarg, "fp16") != 0 && strcmp(optarg, "fp32") != 0 && strcmp(optarg, "bf16") != 0;
            break;
        case OPT_TUNE:
            o->tune = optarg;
            bad = strcmp(optarg, "none") != 0 && strcmp(optarg, "fast") != 0 && strcmp(optarg, "full") != 0;
            break;
        case OPT_SPIN: {
            o->spin = optarg;
            char *end = NULL;
            long us = strtol(optarg, &end, 10);
            bad = !(strcmp(optarg, "latency") == 0 || strcmp(optarg, "default") == 0 || strcmp(optarg, "shared") == 0 ||
                    strcmp(optarg, "none") == 0 || (end != optarg && !*end && us >= 0));
            break;
        }
        case OPT_SHAPE:
            if (o->n_shapes >= MAX_IO) return fail("too many --shape options", NULL) ? 2 : 2;
            o->shapes[o->n_shapes++] = optarg;
            bad = !strchr(optarg, '=');
            break;
        case OPT_PLUGIN:
            if (o->n_plugins >= MAX_IO) return fail("too many --plugin options", NULL) ? 2 : 2;
            o->plugins[o->n_plugins++] = optarg;
            break;
        case OPT_LABELS: o->labels = optarg; break;
        case OPT_DRAW: o->draw = optarg; break;
        case OPT_NO_FUSE: o->no_fuse = 1; break;
        case OPT_KEEP_WEIGHTS: o->keep_weights = 1; break;
        case OPT_STRICT: o->strict = 1; break;
        case OPT_LIST: o->list_backends = 1; break;
        case OPT_SEED: {
            int s;
            bad = parse_int(optarg, &s);
            o->seed = (unsigned)s;
            break;
        }
        case OPT_VERSION:
            printf("engine-run %s (backend ABI %u)\n", ENGINE_VERSION_STRING, ENGINE_BACKEND_ABI_VERSION);
            exit(0);
        case 'h':
        case OPT_HELP: usage(stdout); exit(0);
        default:
            fprintf(stderr, "engine-run: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "engine-run: bad value '%s' for option '%s'\n", optarg, argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) o->model = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "engine-run: unexpected argument '%s' (one MODEL only)\n", argv[optind]);
        return 2;
    }
    if (!o->model && !o->list_backends) {
        fprintf(stderr, "engine-run: no MODEL given (see --help)\n");
        return 2;
    }
    if (o->draw && !o->image) {
        fprintf(stderr, "engine-run: --draw %s needs --image FILE: the picture to draw on\n", o->draw);
        return 2;
    }
    if (o->draw && o->bench) {
        fprintf(stderr, "engine-run: --draw and --bench do not go together\n");
        return 2;
    }
    return 0;
}

/* "[1,3,H,W]" with the model's names for symbolic dims. */
static void dims_str(const engine_model *m, int input, const engine_tensor_info *info, char *buf, size_t size) {
    size_t w = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < info->rank && w < size; ++d) {
        const char *sym = info->dims[d] < 0 ? engine_model_input_dim_name(m, input, d) : NULL;
        if (info->dims[d] >= 0)
            w += (size_t)snprintf(buf + w, size - w, d ? ",%lld" : "%lld", (long long)info->dims[d]);
        else
            w += (size_t)snprintf(buf + w, size - w, "%s%s", d ? "," : "", sym && sym[0] ? sym : "?");
    }
    if (w < size) snprintf(buf + w, size - w, "]");
}

/* The dims --shape gives input `name`: 1 found (rank and dims set), 0 not
 * given, -1 malformed. */
static int shape_option(const options *o, const char *name, int *rank, int64_t *dims) {
    for (int k = 0; k < o->n_shapes; ++k) {
        const char *spec = o->shapes[k], *eq = strrchr(spec, '=');
        if (!eq || strlen(name) != (size_t)(eq - spec) || strncmp(spec, name, (size_t)(eq - spec)) != 0) continue;
        const char *q = eq + 1;
        int r = 0;
        while (*q) {
            char *stop;
            long long v = strtoll(q, &stop, 10);
            if (stop == q || v < 0 || r == ENGINE_MAX_RANK || (*stop && *stop != 'x')) return -1;
            dims[r++] = v;
            q = *stop ? stop + 1 : stop;
        }
        *rank = r;
        return 1;
    }
    return 0;
}

/* The outputs for people (--top, --labels, --json without --bench or
 * --dump-graph, --draw): read as detections, a segmentation or classes
 * (results.h), printed as JSON or text, drawn over the --image. 0, or -1
 * after one line on stderr. */
static int report_results(const options *o, const engine_model *model, const engine_tensor *outs, int n_out,
                          const image_map *imap, const labels *names) {
    const char *out_names[MAX_IO];
    engine_tensor_info declared[MAX_IO];
    for (int k = 0; k < n_out; ++k) {
        engine_model_output_info(model, k, &declared[k]);
        out_names[k] = declared[k].name ? declared[k].name : "";
    }
    results res;
    char err[2048];
    if (results_read(&res, outs, out_names, declared, n_out, o->top > 0, err, sizeof err)) {
        fail(o->draw ? "nothing to --draw" : "cannot report the outputs", err);
        return -1;
    }
    /* --image stretched the picture to the network's input: scale back */
    results_scale sc = {1.0, 1.0};
    if (imap->path && imap->net_w > 0 && imap->net_h > 0) {
        sc.sx = (double)imap->image_w / imap->net_w;
        sc.sy = (double)imap->image_h / imap->net_h;
    }
    const labels *l = names->count ? names : NULL;
    if (o->draw && !imap->path) {
        fail("--draw needs the --image to feed an input", "every input was given with -i");
        results_free(&res);
        return -1;
    }
    if (o->json && !o->bench && !o->dump_graph)
        results_print_json(&res, l, sc, o->top);
    else if (!o->json)
        results_print_text(&res, l, sc, o->top);
    int rc = 0;
    if (o->draw && results_draw(&res, l, sc, o->top, imap->path, o->draw, err, sizeof err)) {
        fail("--draw", err);
        rc = -1;
    }
    results_free(&res);
    return rc;
}

/* Inputs made here (random, images) are refused above this size before
 * anything is allocated: the dims come from the command line or a file. */
#define CLI_MAX_INPUT_BYTES ((uint64_t)8 << 30)

static int check_input_size(const engine_tensor_info *info) {
    uint64_t bytes = engine_dtype_size(info->dtype);
    for (int d = 0; d < info->rank; ++d) {
        if (info->dims[d] < 0) return -1;
        if (info->dims[d] && bytes > CLI_MAX_INPUT_BYTES / (uint64_t)info->dims[d]) return -1;
        bytes *= (uint64_t)info->dims[d];
    }
    return bytes > CLI_MAX_INPUT_BYTES ? -1 : 0;
}

int main(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;

    engine_context *ctx = NULL;
    engine_model *model = NULL;
    engine_session *session = NULL;
    engine_tensor inputs[MAX_IO];
    int loaded[MAX_IO] = {0}; /* 1: from engine_tensor_load (engine-owned) */
    engine_tensor outs[MAX_IO]; /* session-provided storage */
    char shapes_opt[4096] = "";
    memset(inputs, 0, sizeof inputs);
    memset(outs, 0, sizeof outs);
    int n_in = 0, n_out = 0;
    image_map imap;
    memset(&imap, 0, sizeof imap);
    labels names;
    memset(&names, 0, sizeof names);
    rc = 1;
    if (o.labels) {
        char err[1024];
        if (labels_load(&names, o.labels, err, sizeof err)) return fail("cannot read --labels", err);
    }

    /* Tensor sizes implied by a file or the command line are checked before
     * anything is allocated (the engine refuses bigger ones at load). */
    engine_context_options co;
    memset(&co, 0, sizeof co);
    co.max_tensor_bytes = (size_t)CLI_MAX_INPUT_BYTES;
    if (engine_context_create(&co, &ctx) != ENGINE_OK) return fail("cannot create a context", "out of memory");
    /* A refused plugin is reported and the run goes on (the engine does):
     * a model that needs its op then fails to load, naming the op. */
    for (int k = 0; k < o.n_plugins; ++k)
        if (engine_context_load_plugin(ctx, o.plugins[k]) != ENGINE_OK)
            fprintf(stderr, "engine-run: warning: %s\n", engine_context_error(ctx));
    if (o.list_backends) {
        rc = list_backends(ctx);
        if (!o.model) goto done;
    }

    double t_load = now_ms();
    if (engine_model_load_file(ctx, o.model, &model) != ENGINE_OK) {
        fail("cannot load model", engine_context_error(ctx));
        goto done;
    }
    if (!o.no_fuse && engine_model_optimize(model, ENGINE_OPT_DEFAULT) != ENGINE_OK) {
        fail("optimisation failed", engine_context_error(ctx));
        goto done;
    }
    t_load = now_ms() - t_load;

    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = o.backends;
    so.strict = o.strict;
    so.threads = o.threads;
    so.device = o.device;
    so.precision = o.precision;
    so.tune = o.tune;
    so.spin = o.spin;
    so.keep_weights = o.keep_weights;
    so.profile = o.profile || o.trace;
    for (int k = 0; k < o.n_shapes; ++k) {
        size_t len = strlen(shapes_opt);
        snprintf(shapes_opt + len, sizeof shapes_opt - len, "%s%s", k ? ";" : "", o.shapes[k]);
    }
    so.shapes = o.n_shapes ? shapes_opt : NULL;
    double t_compile = now_ms();
    if (engine_session_create(model, &so, &session) != ENGINE_OK) {
        fail("cannot compile model", engine_context_error(ctx));
        goto done;
    }
    t_compile = now_ms() - t_compile;

    if (o.dump_graph) {
        engine_model_dump(model, session, o.json, write_stdout, NULL);
        if (!o.json) engine_session_placement(session, write_stdout, NULL);
    }

    /* Inputs: named, positional, image, then seeded random for the rest. */
    n_in = engine_model_input_count(model);
    n_out = engine_model_output_count(model);
    if (n_in > MAX_IO || n_out > MAX_IO) {
        fail("model has too many inputs or outputs", NULL);
        goto done;
    }
    int positional = 0;
    for (int s = 0; s < o.n_input_spec; ++s) {
        const char *spec = o.input_spec[s], *eq = strchr(spec, '='), *file = spec;
        int index = -1;
        if (eq) {
            for (int k = 0; k < n_in; ++k) {
                engine_tensor_info info;
                engine_model_input_info(model, k, &info);
                if (strlen(info.name) == (size_t)(eq - spec) && strncmp(info.name, spec, (size_t)(eq - spec)) == 0)
                    index = k;
            }
            struct stat st;
            if (index < 0 && stat(spec, &st) != 0) {
                fprintf(stderr, "engine-run: --input %s: the model has no input named '%.*s'\n", spec,
                        (int)(eq - spec), spec);
                goto done;
            }
            if (index >= 0) file = eq + 1;
        }
        if (index < 0) {
            while (positional < n_in && inputs[positional].data) positional++;
            index = positional;
        }
        if (index >= n_in) {
            fprintf(stderr, "engine-run: --input %s: the model has only %d input%s\n", spec, n_in, n_in == 1 ? "" : "s");
            goto done;
        }
        if (inputs[index].data) {
            fprintf(stderr, "engine-run: --input %s: input %d is given twice\n", spec, index);
            goto done;
        }
        engine_tensor_info info;
        engine_model_input_info(model, index, &info);
        if (engine_tensor_load(ctx, file, &inputs[index]) != ENGINE_OK) {
            fail("cannot read input", engine_context_error(ctx));
            goto done;
        }
        loaded[index] = 1;
        if (inputs[index].dtype != info.dtype && engine_tensor_convert(ctx, &inputs[index], info.dtype) != ENGINE_OK) {
            fail("cannot convert input", engine_context_error(ctx));
            goto done;
        }
        int same = inputs[index].rank == info.rank;
        for (int d = 0; same && d < info.rank; ++d) same = info.dims[d] < 0 || inputs[index].dims[d] == info.dims[d];
        if (!same) {
            char want[256] = "", got[128] = "";
            dims_str(model, index, &info, want, sizeof want);
            for (int d = 0; d < inputs[index].rank; ++d)
                snprintf(got + strlen(got), sizeof got - strlen(got), d ? ",%lld" : "%lld",
                         (long long)inputs[index].dims[d]);
            fprintf(stderr, "engine-run: input '%s' from %s has shape [%s]; the model expects %s\n", info.name, file,
                    got, want);
            goto done;
        }
    }
    uint64_t rng = o.seed;
    for (int k = 0; k < n_in; ++k) {
        if (inputs[k].data) continue;
        engine_tensor_info info;
        engine_model_input_info(model, k, &info);
        /* Dims: --shape, else the model's; a symbolic batch (axis 0) is 1. */
        int rank = 0;
        int64_t dims[ENGINE_MAX_RANK];
        int given = shape_option(&o, info.name, &rank, dims);
        if (given < 0 || (given && rank != info.rank)) {
            fprintf(stderr, "engine-run: --shape for '%s': bad dims (the input has rank %d; e.g. %s=1x3x224x224)\n",
                    info.name, info.rank, info.name);
            goto done;
        }
        if (engine_model_input_is_shape_param(model, k)) {
            fprintf(stderr, "engine-run: input '%s' holds values that decide shapes; give it with -i %s=FILE\n",
                    info.name, info.name);
            goto done;
        }
        for (int d = 0; d < info.rank; ++d) {
            if (given) {
                if (info.dims[d] >= 0 && dims[d] != info.dims[d]) {
                    char want[256];
                    dims_str(model, k, &info, want, sizeof want);
                    fprintf(stderr, "engine-run: --shape for '%s': axis %d is %lld; the model expects %s\n", info.name,
                            d, (long long)dims[d], want);
                    goto done;
                }
                info.dims[d] = dims[d];
            } else if (info.dims[d] < 0) {
                if (o.image && (info.rank == 4 || info.rank == 3) && d >= info.rank - 2) {
                    /* the picture's H or W: --size, else the picture's own */
                    int iw = o.size_w, ih = o.size_h;
                    char err[512];
                    if (!iw && image_size(o.image, &iw, &ih, err, sizeof err)) {
                        fail("cannot use --image", err);
                        goto done;
                    }
                    info.dims[d] = d == info.rank - 2 ? ih : iw;
                } else if (d == 0) {
                    info.dims[d] = 1;
                } else {
                    const char *sym = engine_model_input_dim_name(model, k, d);
                    fprintf(stderr,
                            "engine-run: input '%s' has symbolic dim '%s' at axis %d: give --shape %s=DIMS or -i %s=FILE\n",
                            info.name, sym && sym[0] ? sym : "?", d, info.name, info.name);
                    goto done;
                }
                if (info.dims[d] < 0) {
                    fprintf(stderr, "engine-run: input '%s' axis %d is symbolic: give --shape\n", info.name, d);
                    goto done;
                }
            }
        }
        if (check_input_size(&info)) {
            fprintf(stderr, "engine-run: input '%s' would need more than %llu bytes; refused\n", info.name,
                    (unsigned long long)CLI_MAX_INPUT_BYTES);
            goto done;
        }
        if (o.image) {
            char err[512];
            if (load_image(&o, &info, &inputs[k], &imap, err, sizeof err)) {
                fail("cannot use --image", err);
                goto done;
            }
            o.image = NULL; /* the image feeds the first input left */
            continue;
        }
        if (fill_random(&inputs[k], &info, &rng)) {
            fail("out of memory", NULL);
            goto done;
        }
    }
    for (int k = 0; k < n_in; ++k) inputs[k].name = NULL; /* matched by position */

    int warmup = o.warmup >= 0 ? o.warmup : (o.bench ? 3 : 0);
    int runs = o.bench ? o.bench : 1;
    double *times = calloc((size_t)runs, sizeof *times);
    if (!times) {
        fail("out of memory", NULL);
        goto done;
    }
    double first_run_ms = 0, first_build_ms = 0;
    engine_session_cache_info ci0, ci1;
    memset(&ci0, 0, sizeof ci0);
    ci0.struct_size = sizeof ci0;
    ci1 = ci0;
    engine_session_cache_info_get(session, &ci0);
    for (int r = 0; r < warmup + runs; ++r) {
        double t0 = now_ms();
        if (engine_session_run_tensors(session, inputs, n_in, outs, n_out) != ENGINE_OK) {
            free(times);
            fail("run failed", engine_context_error(ctx));
            goto done;
        }
        double dt = now_ms() - t0;
        if (r == 0) {
            first_run_ms = dt;
            engine_session_cache_info_get(session, &ci1);
            if (ci1.misses > ci0.misses) first_build_ms = ci1.last_build_ms;
        }
        if (r >= warmup) times[r - warmup] = dt;
    }

    /* Outputs. */
    for (int k = 0; k < n_out; ++k) {
        engine_tensor_info info;
        engine_model_output_info(model, k, &info);
        info.dtype = outs[k].dtype;
        info.rank = outs[k].rank;
        memcpy(info.dims, outs[k].dims, sizeof info.dims);
        engine_tensor t = outs[k];
        t.name = NULL;
        char path[4096];
        const char *dest = NULL;
        if (k == 0 && o.output) dest = o.output;
        if (o.output_dir) {
            /* The folder is made when missing (one level, like mkdir). */
            if (k == 0 && mkdir(o.output_dir, 0777) != 0 && errno != EEXIST) {
                free(times);
                fail("cannot create the --output-dir folder", strerror(errno));
                goto done;
            }
            snprintf(path, sizeof path, "%s/output_%d.npy", o.output_dir, k);
            if (engine_tensor_save(ctx, path, &t) != ENGINE_OK) {
                free(times);
                fail("cannot write output", engine_context_error(ctx));
                goto done;
            }
        }
        if (dest && engine_tensor_save(ctx, dest, &t) != ENGINE_OK) {
            free(times);
            fail("cannot write output", engine_context_error(ctx));
            goto done;
        }
        if (!o.json && !o.top && !o.bench && !o.output && !o.output_dir && !o.dump_graph && !o.profile && !o.draw &&
            !o.labels)
            print_summary(&info, outs[k].data);
    }
    if ((o.top || o.labels || o.draw || (o.json && !o.bench && !o.dump_graph)) &&
        report_results(&o, model, outs, n_out, &imap, &names)) {
        free(times);
        goto done;
    }

    if (o.profile || o.trace) {
        const engine_node_timing *t;
        int count;
        engine_session_timings(session, &t, &count);
        if (o.profile) print_profile(model, t, count);
        if (o.trace && write_trace(o.trace, t, count)) {
            free(times);
            fail("cannot write trace", o.trace);
            goto done;
        }
    }

    if (o.bench) {
        engine_session_stats ss;
        if (engine_session_get_stats(session, &ss)) memset(&ss, 0, sizeof ss);
        engine_session_cache_info ci2;
        memset(&ci2, 0, sizeof ci2);
        ci2.struct_size = sizeof ci2;
        engine_session_cache_info_get(session, &ci2);
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        double mn = times[0], mx = times[runs - 1], med = times[runs / 2];
        if (runs % 2 == 0) med = 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
        int p90i = (int)ceil(0.9 * runs) - 1;
        double p90 = times[p90i < 0 ? 0 : p90i];
        if (o.json) {
            printf("{\"latency_ms\":{\"min\":%.4f,\"median\":%.4f,\"p90\":%.4f,\"max\":%.4f},\"runs\":%d,\"warmup\":%d,"
                   "\"macs\":%lld,\"nodes\":%d,\"load_ms\":%.3f,\"compile_ms\":%.3f,\"first_run_ms\":%.3f,"
                   "\"arena_bytes\":%zu,\"partition_arena_bytes\":%zu,\"weight_bytes\":%zu,\"device_bytes\":%zu,"
                   "\"partitions\":%d,\"kernels_built\":%d,\"kernels_from_cache\":%d,\"peak_rss_kb\":%ld,"
                   "\"specialize_ms\":%.3f,\"specializations\":%d,\"released_weight_bytes\":%zu,\"backend\":",
                   mn, med, p90, mx, runs, warmup, (long long)engine_model_macs(model), engine_model_node_count(model),
                   t_load, t_compile, first_run_ms, engine_session_arena_bytes(session), ss.arena_bytes,
                   ss.weight_bytes, ss.device_bytes, ss.n_partitions, ss.kernels_built, ss.kernels_from_cache,
                   peak_rss_kb(), first_build_ms, ci1.entries, ci2.released_weight_bytes);
            results_json_string(stdout, o.backends ? o.backends : "auto");
            printf("}\n");
        } else {
            printf("latency ms over %d runs (after %d warm-up): min %.3f  median %.3f  p90 %.3f  max %.3f\n", runs,
                   warmup, mn, med, p90, mx);
            printf("load %.1f ms, compile %.1f ms, first run %.3f ms, %.3f GMACs, seam arena %zu bytes, partition "
                   "arenas %zu bytes, packed weights %zu bytes (the model's copy released: %zu bytes), peak RSS %ld KiB\n",
                   t_load, t_compile, first_run_ms, (double)engine_model_macs(model) * 1e-9,
                   engine_session_arena_bytes(session), ss.arena_bytes, ss.weight_bytes, ci2.released_weight_bytes,
                   peak_rss_kb());
            if (first_build_ms > 0)
                printf("first run at a new input shape: %.3f ms, of which %.3f ms specialising and compiling "
                       "(%d shape%s compiled)\n",
                       first_run_ms, first_build_ms, ci1.entries, ci1.entries == 1 ? "" : "s");
            if (ss.kernels_built || ss.kernels_from_cache)
                printf("device kernels: %d built from source, %d from the binary cache; device memory %zu bytes\n",
                       ss.kernels_built, ss.kernels_from_cache, ss.device_bytes);
        }
    }
    free(times);
    /* The placement is always visible (on stderr, so stdout stays data). */
    if (!o.dump_graph) engine_session_placement(session, write_stderr, NULL);
    rc = 0;
done:
    for (int k = 0; k < MAX_IO; ++k) {
        if (loaded[k])
            engine_tensor_release(ctx, &inputs[k]);
        else
            free(inputs[k].data);
    }
    engine_session_free(session);
    engine_model_free(model);
    engine_context_destroy(ctx);
    labels_free(&names);
    return rc;
}
