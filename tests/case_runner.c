/*
 * case_runner.c - runs a folder of conformance cases through the public API.
 *
 *   case_runner [--backend LIST] [--no-fuse] [--case NAME] CASES_DIR
 *
 * CASES_DIR holds one folder per case (written by tests/gen_op_cases.py; the
 * format is in tests/README-cases.md): model.onnx, input_<k>.npy for each
 * non-initializer graph input, output_<k>.npy for each graph output and a
 * `tolerance` file ("allclose ATOL RTOL" or "rel_l2 TOL"). The cases run are
 * those listed in CASES_DIR/INDEX, one per line, or else every sub-folder
 * holding a model.onnx, sorted by name.
 *
 * Each case is one cmocka test: a fresh context, the model loaded, a session
 * on LIST (default "ref") with strict placement, the inputs fed, the outputs
 * compared. A failure names the case, the output and the worst element, or
 * carries the engine's own error message. Exit status: non-zero when any
 * case fails. Uses only engine/include/engine/engine.h.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"

#define MSG_CAP 2048

typedef struct case_info {
    char *name;
    char *dir;
} case_info;

static const char *g_backends = "ref";
static int g_no_fuse = 0; /* --no-fuse: skip engine_model_optimize, as engine-run does */

/* ---- small helpers ------------------------------------------------------ */

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void dims_str(char *buf, size_t cap, int rank, const int64_t *dims)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, cap - off, "[");
    for (int i = 0; i < rank && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (off < cap)
        snprintf(buf + off, cap - off, "]");
}


static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0)
        v = ldexp((double)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

static int is_float_dtype(engine_dtype t)
{
    return t == ENGINE_DTYPE_F32 || t == ENGINE_DTYPE_F64 || t == ENGINE_DTYPE_F16;
}

/* Element i of a buffer of dtype t, as double (exact for the integer types
 * we meet here) and as int64 for exact comparison. */
static double elem_f(const void *p, engine_dtype t, int64_t i)
{
    switch (t) {
    case ENGINE_DTYPE_F32: return ((const float *)p)[i];
    case ENGINE_DTYPE_F64: return ((const double *)p)[i];
    case ENGINE_DTYPE_F16: return half_to_double(((const uint16_t *)p)[i]);
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[i];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[i];
    case ENGINE_DTYPE_U8:
    case ENGINE_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    default: return NAN;
    }
}

static int64_t elem_i(const void *p, engine_dtype t, int64_t i)
{
    switch (t) {
    case ENGINE_DTYPE_I64: return ((const int64_t *)p)[i];
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[i];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[i];
    case ENGINE_DTYPE_U8: return ((const uint8_t *)p)[i];
    case ENGINE_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

/* ---- tolerance ---------------------------------------------------------- */

typedef struct tolerance {
    int rel_l2; /* 0: allclose */
    double atol, rtol, tol;
} tolerance;

static int read_tolerance(const char *dir, tolerance *t, char *msg)
{
    t->rel_l2 = 0;
    t->atol = 1e-5;
    t->rtol = 1e-4;
    t->tol = 0;
    char *path = path_join(dir, "tolerance");
    if (!path)
        return snprintf(msg, MSG_CAP, "out of memory"), -1;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0; /* default */
    char kind[32] = {0};
    double a = 0, b = 0;
    int n = fscanf(f, "%31s %lf %lf", kind, &a, &b);
    fclose(f);
    if (n >= 3 && strcmp(kind, "allclose") == 0) {
        t->atol = a;
        t->rtol = b;
        return 0;
    }
    if (n >= 2 && strcmp(kind, "rel_l2") == 0) {
        t->rel_l2 = 1;
        t->tol = a;
        return 0;
    }
    snprintf(msg, MSG_CAP, "bad tolerance file (expected \"allclose ATOL RTOL\" or \"rel_l2 TOL\")");
    return -1;
}

/* ---- comparison --------------------------------------------------------- */

/* Returns 0 when got matches exp; otherwise writes the reason into msg. */
static int compare_output(const char *label, const void *got, engine_dtype gt, const engine_tensor *exp,
                          const tolerance *tol, char *msg)
{
    int64_t n = engine_tensor_numel(exp);
    engine_dtype et = exp->dtype;
    if (!is_float_dtype(gt) || !is_float_dtype(et)) {
        for (int64_t i = 0; i < n; i++) {
            int64_t g = is_float_dtype(gt) ? (int64_t)elem_f(got, gt, i) : elem_i(got, gt, i);
            int64_t e = is_float_dtype(et) ? (int64_t)elem_f(exp->data, et, i) : elem_i(exp->data, et, i);
            if (g != e) {
                snprintf(msg, MSG_CAP, "%s: element %lld: got %lld, expected %lld (exact %s comparison)", label,
                         (long long)i, (long long)g, (long long)e, engine_dtype_name(gt));
                return -1;
            }
        }
        return 0;
    }

    if (tol->rel_l2) {
        double num = 0, den = 0, worst = -1;
        int64_t wi = 0;
        for (int64_t i = 0; i < n; i++) {
            double g = elem_f(got, gt, i), e = elem_f(exp->data, et, i);
            double d = fabs(g - e);
            if (isnan(g) || isnan(e) || isinf(g) || isinf(e)) {
                int same = (isnan(g) && isnan(e)) || (isinf(g) && isinf(e) && (g > 0) == (e > 0));
                if (!same) {
                    snprintf(msg, MSG_CAP, "%s: element %lld: got %.9g, expected %.9g (non-finite mismatch)", label,
                             (long long)i, g, e);
                    return -1;
                }
                continue;
            }
            num += d * d;
            den += e * e;
            if (d > worst) {
                worst = d;
                wi = i;
            }
        }
        double rel = den > 0 ? sqrt(num) / sqrt(den) : sqrt(num);
        if (!(rel <= tol->tol)) {
            snprintf(msg, MSG_CAP, "%s: rel_l2 %.6g > %.6g; worst element %lld: got %.9g, expected %.9g", label, rel,
                     tol->tol, (long long)wi, elem_f(got, gt, wi), elem_f(exp->data, et, wi));
            return -1;
        }
        return 0;
    }

    int64_t bad = 0, wi = -1;
    double worst = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double g = elem_f(got, gt, i), e = elem_f(exp->data, et, i);
        double excess;
        if (isnan(e))
            excess = isnan(g) ? -INFINITY : INFINITY;
        else if (isinf(e))
            excess = (g == e) ? -INFINITY : INFINITY;
        else if (isnan(g) || isinf(g))
            excess = INFINITY;
        else
            excess = fabs(g - e) - (tol->atol + tol->rtol * fabs(e));
        if (excess > 0)
            bad++;
        if (excess > worst || wi < 0) {
            worst = excess;
            wi = i;
        }
    }
    if (bad) {
        double g = elem_f(got, gt, wi), e = elem_f(exp->data, et, wi);
        snprintf(msg, MSG_CAP,
                 "%s: %lld of %lld elements outside atol %g rtol %g; worst element %lld: got %.9g, expected %.9g "
                 "(|diff| %.3g)",
                 label, (long long)bad, (long long)n, tol->atol, tol->rtol, (long long)wi, g, e, fabs(g - e));
        return -1;
    }
    return 0;
}

/* ---- one case ----------------------------------------------------------- */

static void engine_msg(char *msg, engine_context *ctx, engine_status st, const char *what)
{
    const char *e = ctx ? engine_context_error(ctx) : "";
    snprintf(msg, MSG_CAP, "%s: %s%s%s", what, engine_status_str(st), (e && *e) ? ": " : "", e ? e : "");
}

/* Runs one case; returns 0 on success, else -1 with the reason in msg. */
static int run_one(const case_info *ci, char *msg)
{
    int rc = -1;
    engine_status st;
    engine_context *ctx = NULL;
    engine_model *model = NULL;
    engine_session *sess = NULL;
    engine_tensor *ins = NULL, *exps = NULL;
    const void **in_ptrs = NULL;
    engine_tensor *out_ptrs = NULL;
    engine_tensor_info *out_infos = NULL;
    int n_in = 0, n_out = 0;
    char *path = NULL;
    char fname[64];
    char d1[160], d2[160];
    tolerance tol;

    if (read_tolerance(ci->dir, &tol, msg))
        goto out;
    if ((st = engine_context_create(NULL, &ctx)) != ENGINE_OK) {
        snprintf(msg, MSG_CAP, "engine_context_create: %s", engine_status_str(st));
        ctx = NULL;
        goto out;
    }
    path = path_join(ci->dir, "model.onnx");
    if (!path) {
        snprintf(msg, MSG_CAP, "out of memory");
        goto out;
    }
    if ((st = engine_model_load_file(ctx, path, &model)) != ENGINE_OK) {
        engine_msg(msg, ctx, st, "engine_model_load_file");
        model = NULL;
        goto out;
    }
    free(path);
    path = NULL;
    /* Run what users run: the optimised graph (unless --no-fuse). */
    if (!g_no_fuse && (st = engine_model_optimize(model, ENGINE_OPT_DEFAULT)) != ENGINE_OK) {
        engine_msg(msg, ctx, st, "engine_model_optimize");
        goto out;
    }

    engine_session_options opts;
    memset(&opts, 0, sizeof opts);
    opts.backends = g_backends;
    opts.strict = 1;
    if ((st = engine_session_create(model, &opts, &sess)) != ENGINE_OK) {
        engine_msg(msg, ctx, st, "engine_session_create");
        sess = NULL;
        goto out;
    }

    n_in = engine_model_input_count(model);
    n_out = engine_model_output_count(model);
    if (n_in < 0 || n_out <= 0) {
        snprintf(msg, MSG_CAP, "model reports %d inputs, %d outputs", n_in, n_out);
        n_in = n_out = 0;
        goto out;
    }
    ins = calloc((size_t)n_in + 1, sizeof *ins);
    in_ptrs = calloc((size_t)n_in + 1, sizeof *in_ptrs);
    exps = calloc((size_t)n_out, sizeof *exps);
    out_ptrs = calloc((size_t)n_out, sizeof *out_ptrs);
    out_infos = calloc((size_t)n_out, sizeof *out_infos);
    if (!ins || !in_ptrs || !exps || !out_ptrs || !out_infos) {
        snprintf(msg, MSG_CAP, "out of memory");
        goto out;
    }

    for (int k = 0; k < n_in; k++) {
        engine_tensor_info info;
        if ((st = engine_model_input_info(model, k, &info)) != ENGINE_OK) {
            engine_msg(msg, ctx, st, "engine_model_input_info");
            goto out;
        }
        snprintf(fname, sizeof fname, "input_%d.npy", k);
        path = path_join(ci->dir, fname);
        if (!path) {
            snprintf(msg, MSG_CAP, "out of memory");
            goto out;
        }
        if ((st = engine_tensor_load(ctx, path, &ins[k])) != ENGINE_OK) {
            engine_msg(msg, ctx, st, fname);
            memset(&ins[k], 0, sizeof ins[k]);
            goto out;
        }
        free(path);
        path = NULL;
        if (ins[k].dtype != info.dtype && (st = engine_tensor_convert(ctx, &ins[k], info.dtype)) != ENGINE_OK) {
            engine_msg(msg, ctx, st, fname);
            goto out;
        }
        int fits = ins[k].rank == info.rank; /* symbolic dims (-1) take any size */
        for (int d = 0; fits && d < info.rank; ++d) fits = info.dims[d] < 0 || ins[k].dims[d] == info.dims[d];
        if (!fits) {
            dims_str(d1, sizeof d1, ins[k].rank, ins[k].dims);
            dims_str(d2, sizeof d2, info.rank, info.dims);
            snprintf(msg, MSG_CAP, "%s has shape %s, model input %d (%s) wants %s", fname, d1, k,
                     info.name ? info.name : "?", d2);
            goto out;
        }
        ins[k].name = NULL; /* bound by position */
        in_ptrs[k] = ins[k].data;
    }

    /* Outputs come back with their run-time shapes, in the session's storage. */
    for (int k = 0; k < n_out; k++) memset(&out_ptrs[k], 0, sizeof out_ptrs[k]);
    if ((st = engine_session_run_tensors(sess, ins, n_in, out_ptrs, n_out)) != ENGINE_OK) {
        engine_msg(msg, ctx, st, "engine_session_run_tensors");
        goto out;
    }
    for (int k = 0; k < n_out; k++) {
        engine_tensor_info *info = &out_infos[k];
        engine_tensor_info model_info;
        if ((st = engine_model_output_info(model, k, &model_info)) != ENGINE_OK) {
            engine_msg(msg, ctx, st, "engine_model_output_info");
            goto out;
        }
        info->name = model_info.name;
        info->dtype = out_ptrs[k].dtype;
        info->rank = out_ptrs[k].rank;
        memcpy(info->dims, out_ptrs[k].dims, sizeof info->dims);
        snprintf(fname, sizeof fname, "output_%d.npy", k);
        path = path_join(ci->dir, fname);
        if (!path) {
            snprintf(msg, MSG_CAP, "out of memory");
            goto out;
        }
        if ((st = engine_tensor_load(ctx, path, &exps[k])) != ENGINE_OK) {
            engine_msg(msg, ctx, st, fname);
            memset(&exps[k], 0, sizeof exps[k]);
            goto out;
        }
        free(path);
        path = NULL;
        if (exps[k].rank != info->rank ||
            memcmp(exps[k].dims, info->dims, (size_t)info->rank * sizeof(int64_t)) != 0) {
            dims_str(d1, sizeof d1, info->rank, info->dims);
            dims_str(d2, sizeof d2, exps[k].rank, exps[k].dims);
            snprintf(msg, MSG_CAP, "output %d (%s): engine shape %s, expected %s", k, info->name ? info->name : "?",
                     d1, d2);
            goto out;
        }
    }

    for (int k = 0; k < n_out; k++) {
        char label[192];
        snprintf(label, sizeof label, "output %d (%s, %s)", k, out_infos[k].name ? out_infos[k].name : "?",
                 engine_dtype_name(out_infos[k].dtype));
        if (compare_output(label, out_ptrs[k].data, out_infos[k].dtype, &exps[k], &tol, msg))
            goto out;
    }
    rc = 0;

out:
    free(path);
    free(out_ptrs); /* the data is the session's */
    free(out_infos);
    if (exps)
        for (int k = 0; k < n_out; k++)
            engine_tensor_release(ctx, &exps[k]);
    free(exps);
    if (ins)
        for (int k = 0; k < n_in; k++)
            engine_tensor_release(ctx, &ins[k]);
    free(ins);
    free(in_ptrs);
    engine_session_free(sess);
    engine_model_free(model);
    engine_context_destroy(ctx);
    return rc;
}

static void case_test(void **state)
{
    const case_info *ci = *state;
    char msg[MSG_CAP];
    msg[0] = '\0';
    if (run_one(ci, msg) != 0) {
        print_error("case %s: %s\n", ci->name, msg);
        fail();
    }
}

/* ---- case discovery ----------------------------------------------------- */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static int list_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = str_dup(s)))
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_index(const char *dir, name_list *l)
{
    char *path = path_join(dir, "INDEX");
    if (!path)
        return -1;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 1; /* no INDEX */
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        if (!*s || *s == '#')
            continue;
        if (list_push(l, s)) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static int scan_dir(const char *dir, name_list *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = path_join(dir, e->d_name);
        char *model = sub ? path_join(sub, "model.onnx") : NULL;
        int ok = model && file_exists(model);
        free(model);
        free(sub);
        if (ok && list_push(l, e->d_name)) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: case_runner [--backend LIST] [--no-fuse] [--case NAME] CASES_DIR\n");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
            g_backends = argv[++i];
        else if (strncmp(argv[i], "--backend=", 10) == 0)
            g_backends = argv[i] + 10;
        else if (strcmp(argv[i], "--no-fuse") == 0)
            g_no_fuse = 1;
        else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strncmp(argv[i], "--case=", 7) == 0)
            only = argv[i] + 7;
        else if (argv[i][0] == '-' || dir) {
            usage();
            return 2;
        } else
            dir = argv[i];
    }
    if (!dir) {
        usage();
        return 2;
    }

    name_list names = {0};
    int r = read_index(dir, &names);
    if (r > 0)
        r = scan_dir(dir, &names);
    if (r < 0) {
        fprintf(stderr, "case_runner: cannot read cases in %s\n", dir);
        return 2;
    }

    size_t n = 0;
    struct CMUnitTest *tests = calloc(names.n ? names.n : 1, sizeof *tests);
    case_info *infos = calloc(names.n ? names.n : 1, sizeof *infos);
    if (!tests || !infos) {
        fprintf(stderr, "case_runner: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < names.n; i++) {
        if (only && strcmp(only, names.v[i]) != 0)
            continue;
        infos[n].name = names.v[i];
        infos[n].dir = path_join(dir, names.v[i]);
        if (!infos[n].dir) {
            fprintf(stderr, "case_runner: out of memory\n");
            return 2;
        }
        tests[n].name = names.v[i];
        tests[n].test_func = case_test;
        tests[n].initial_state = &infos[n];
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "case_runner: no cases%s%s in %s\n", only ? " named " : "", only ? only : "", dir);
        return 2;
    }

    int failed = _cmocka_run_group_tests("op_cases", tests, n, NULL, NULL);

    for (size_t i = 0; i < n; i++)
        free(infos[i].dir);
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    free(infos);
    free(tests);
    return failed ? 1 : 0;
}
