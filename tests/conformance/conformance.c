/*
 * conformance.c - engine-conformance: every suite on every loaded backend,
 * against the stored oracle and against ref; a pass list to catch
 * regressions; first-divergence search between two backends.
 *
 *   engine-conformance [options] SUITE_DIR...
 *   engine-conformance --diverge MODEL --backends A,B [--no-fuse] [--input FILE...]
 *
 * A suite folder holds one case folder per test (tests/README-cases.md:
 * model.onnx, input_<k>.npy, output_<k>.npy, tolerance) and an INDEX naming
 * the cases in order; an EXCLUDED file ("name<TAB>reason" lines) lists tests
 * the generator left out, which the --markdown report repeats. The suite's
 * name is the folder's base name; a test is named SUITE/CASE.
 *
 * For each case and each backend (every loaded one, or --backends; each in
 * each --precision mode, a column "backend" or "backend/fp16"), the model
 * is loaded, optimised (unless --no-fuse), compiled with strict placement
 * on that backend alone and run; the result is
 *   pass         every output within the case's tolerance of the oracle and,
 *                for backends other than ref, within the cross-backend
 *                tolerance of ref's output;
 *   unsupported  the engine or the backend refused the model
 *                (ENGINE_ERR_UNSUPPORTED at load or at session creation);
 *   fail         anything else, with the error figures.
 * Tolerances: the case's `tolerance` file against the oracle ("allclose
 * ATOL RTOL": |got - exp| <= ATOL + RTOL |exp| per element, ONNX's node
 * tests use 1e-7 / 1e-3; "rel_l2 TOL": ||got - exp|| / ||exp||, the zoo
 * uses 1e-4); against ref: rel L2 1e-4 for rel_l2 cases, else atol 1e-5 +
 * rtol 1e-4 per element. fp16 columns use 1e-2 rel L2 / atol 1e-3 + rtol
 * 1e-2 for both. NaN and Inf must match in position (and Inf in sign);
 * integer and bool outputs must match exactly.
 *
 * --expected FILE compares with a committed pass list (lines "TEST<TAB>
 * COLUMN<TAB>pass|fail|unsupported"): a test that passed there and does not
 * now is a regression and makes the exit status 1; new passes and new tests
 * are reported, not failures. Columns not run (a backend that is not loaded)
 * are skipped with a notice and keep their entries. --update rewrites FILE
 * with this run's results (entries of columns or tests not run are kept).
 *
 * --diverge runs MODEL (a .onnx file, or a case folder: its model.onnx and
 * input_<k>.npy) on backend A and on B with every intermediate value kept
 * (engine_session_options.keep_intermediates), walks the nodes in
 * topological order and names the first whose output differs beyond
 * tolerance (rel L2 1e-4 per node output, the model tolerance, since
 * intermediates inherit earlier rounding; --elementwise: atol 1e-5 + rtol
 * 1e-4 per element), with max abs error, max rel error and rel L2.
 * B may fall back to ref for nodes it does not support (A and B are each
 * tried first, then ref); both sessions share one model, so the node lists
 * match. Exit status 0 when no node diverges, 1 when one does, 2 on errors.
 *
 * Uses only the public API (engine/include/engine/engine.h).
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"

#define MSG_CAP 512
#define MAX_COLS 16
#define MAX_IO 32

/* ---- small helpers ------------------------------------------------------ */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "engine-conformance: out of memory\n");
        exit(2); /* a tool, not the library: giving up is the right answer */
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xcalloc(n, 1);
    memcpy(p, s, n);
    return p;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xcalloc(n, 1);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static void sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, (size_t)l->cap * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "engine-conformance: out of memory\n");
            exit(2);
        }
        l->v = nv;
    }
    l->v[l->n++] = xstrdup(s);
}

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Splits "a,b,c" into l. */
static void sl_split(strlist *l, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char buf[256];
            if (n >= sizeof buf)
                n = sizeof buf - 1;
            memcpy(buf, p, n);
            buf[n] = 0;
            sl_push(l, buf);
        }
        p += n + (e ? 1 : 0);
    }
}

/* Reads the lines of a file (no trailing newline, empty lines skipped). */
static int read_lines(const char *path, strlist *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n)
            sl_push(l, line);
    }
    fclose(f);
    return 0;
}

static const char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *p = path + n;
    while (p > path && p[-1] != '/')
        p--;
    return p;
}

/* ---- element access and comparison -------------------------------------- */

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp((double)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

static int is_float(engine_dtype t)
{
    return t == ENGINE_DTYPE_F32 || t == ENGINE_DTYPE_F64 || t == ENGINE_DTYPE_F16;
}

static double elem(const void *p, engine_dtype t, int64_t i)
{
    switch (t) {
    case ENGINE_DTYPE_F32: return ((const float *)p)[i];
    case ENGINE_DTYPE_F64: return ((const double *)p)[i];
    case ENGINE_DTYPE_F16: return half_to_double(((const uint16_t *)p)[i]);
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[i];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[i];
    case ENGINE_DTYPE_U8: return ((const uint8_t *)p)[i];
    case ENGINE_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return NAN;
    }
}

typedef struct tolerance {
    int rel_l2; /* 0: allclose */
    double atol, rtol, tol;
} tolerance;

static const tolerance TOL_CROSS_OP = {0, 1e-5, 1e-4, 0};
static const tolerance TOL_CROSS_MODEL = {1, 0, 0, 1e-4};
static const tolerance TOL_FP16_OP = {0, 1e-3, 1e-2, 0};
static const tolerance TOL_FP16_MODEL = {1, 0, 0, 1e-2};

/* Error figures of one comparison. */
typedef struct cmp_result {
    int ok;
    double max_abs, max_rel, rel_l2;
    int64_t worst, n_bad;
    char msg[MSG_CAP];
} cmp_result;

/* Compares n elements of got (dtype gt) with exp (dtype et) under tol. */
static void compare(const char *label, const void *got, engine_dtype gt, const void *exp, engine_dtype et, int64_t n,
                    const tolerance *tol, cmp_result *r)
{
    memset(r, 0, sizeof *r);
    r->ok = 1;
    r->worst = -1;
    int exact = !is_float(gt) || !is_float(et);
    double num = 0, den = 0, worst_excess = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double g = elem(got, gt, i), e = elem(exp, et, i);
        int bad;
        if (isnan(g) || isnan(e) || isinf(g) || isinf(e)) {
            /* Non-finite values must match in position (and sign for Inf). */
            bad = !((isnan(g) && isnan(e)) || (isinf(g) && isinf(e) && (g > 0) == (e > 0)));
            if (bad) {
                r->n_bad++;
                if (worst_excess < INFINITY || r->worst < 0) {
                    worst_excess = INFINITY;
                    r->worst = i;
                }
            }
            continue;
        }
        double d = fabs(g - e);
        num += d * d;
        den += e * e;
        if (d > r->max_abs)
            r->max_abs = d;
        double rel = d / fmax(fabs(e), 1e-30);
        if (d > 0 && rel > r->max_rel)
            r->max_rel = rel;
        double excess = exact ? (g != e ? d : -1) : tol->rel_l2 ? d : d - (tol->atol + tol->rtol * fabs(e));
        if (!tol->rel_l2 || exact) {
            if (excess > 0)
                r->n_bad++;
        }
        if (excess > worst_excess || r->worst < 0) {
            worst_excess = excess;
            r->worst = i;
        }
    }
    r->rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    if (!exact && tol->rel_l2 && !(r->rel_l2 <= tol->tol))
        r->n_bad = r->n_bad ? r->n_bad : 1;
    if (!r->n_bad)
        return;
    r->ok = 0;
    double g = r->worst >= 0 ? elem(got, gt, r->worst) : 0, e = r->worst >= 0 ? elem(exp, et, r->worst) : 0;
    if (exact)
        snprintf(r->msg, MSG_CAP, "%s: %lld of %lld elements differ (exact); element %lld: got %.17g, expected %.17g",
                 label, (long long)r->n_bad, (long long)n, (long long)r->worst, g, e);
    else if (tol->rel_l2)
        snprintf(r->msg, MSG_CAP, "%s: rel_l2 %.3g > %.3g (max abs %.3g); element %lld: got %.9g, expected %.9g", label,
                 r->rel_l2, tol->tol, r->max_abs, (long long)r->worst, g, e);
    else
        snprintf(r->msg, MSG_CAP,
                 "%s: %lld of %lld elements outside atol %.3g rtol %.3g (max abs %.3g, max rel %.3g); element %lld: "
                 "got %.9g, expected %.9g",
                 label, (long long)r->n_bad, (long long)n, tol->atol, tol->rtol, r->max_abs, r->max_rel,
                 (long long)r->worst, g, e);
}

static int read_tolerance(const char *dir, tolerance *t)
{
    t->rel_l2 = 0;
    t->atol = 1e-5;
    t->rtol = 1e-4;
    t->tol = 0;
    char *path = path_join(dir, "tolerance");
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
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
    return -1;
}

/* ---- one case on one backend -------------------------------------------- */

typedef enum verdict { V_NONE = 0, V_PASS, V_FAIL, V_UNSUP } verdict;
static const char *verdict_name(verdict v)
{
    return v == V_PASS ? "pass" : v == V_FAIL ? "fail" : v == V_UNSUP ? "unsupported" : "-";
}

typedef struct case_data {
    const char *dir;
    tolerance tol;
    int n_in, n_out;
    engine_tensor in[MAX_IO], exp[MAX_IO];
} case_data;

typedef struct run_out {
    int n;
    engine_tensor_info info[MAX_IO];
    void *data[MAX_IO];
} run_out;

static void run_out_free(run_out *o)
{
    for (int k = 0; k < o->n; k++)
        free(o->data[k]);
    memset(o, 0, sizeof *o);
}

typedef struct options {
    strlist backends, precisions, suites;
    const char *expected, *markdown, *only, *diverge, *backend_path;
    strlist diverge_inputs;
    int update, no_fuse, verbose, elementwise;
} options;

static void set_msg(char *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, MSG_CAP, fmt, ap);
    va_end(ap);
}

/* Loads model.onnx of the case (and optimises it) into *model. */
static verdict load_model(engine_context *ctx, const char *path, int no_fuse, engine_model **model, char *msg)
{
    engine_status st = engine_model_load_file(ctx, path, model);
    if (!st && !no_fuse && (st = engine_model_optimize(*model, ENGINE_OPT_DEFAULT))) {
        engine_model_free(*model);
        *model = NULL;
    }
    if (st) {
        set_msg(msg, "%s", engine_context_error(ctx));
        return st == ENGINE_ERR_UNSUPPORTED ? V_UNSUP : V_FAIL;
    }
    return V_PASS;
}

/* Feeds the case's inputs, converted to the model's dtypes. */
static verdict run_case(engine_context *ctx, engine_model *model, const char *backend, case_data *cd, run_out *out,
                        char *msg)
{
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = backend;
    so.strict = 1;
    so.threads = 1;
    engine_session *s = NULL;
    engine_status st = engine_session_create(model, &so, &s);
    if (st) {
        set_msg(msg, "%s", engine_context_error(ctx));
        return st == ENGINE_ERR_UNSUPPORTED ? V_UNSUP : V_FAIL;
    }
    verdict v = V_FAIL;
    int ni = engine_model_input_count(model), no = engine_model_output_count(model);
    if (ni != cd->n_in || no != cd->n_out || no > MAX_IO) {
        set_msg(msg, "model has %d inputs / %d outputs, the case folder %d / %d", ni, no, cd->n_in, cd->n_out);
        goto done;
    }
    engine_tensor ins[MAX_IO], outs[MAX_IO];
    memset(outs, 0, sizeof outs);
    for (int k = 0; k < ni; k++) {
        engine_tensor_info info;
        engine_model_input_info(model, k, &info);
        engine_tensor *t = &cd->in[k];
        int fixed = 1;
        int64_t n = 1;
        for (int d = 0; d < info.rank; d++) {
            fixed &= info.dims[d] >= 0;
            n *= info.dims[d];
        }
        /* Rank-0 and [1] hold the same one element; with fixed dims the
         * file's element count must match (its shape is taken as the
         * model's), with symbolic ones its shape is the run's. */
        if (fixed && n != engine_tensor_numel(t)) {
            set_msg(msg, "input %d (%s): %lld elements in the file, the model wants %lld", k, info.name,
                    (long long)engine_tensor_numel(t), (long long)n);
            goto done;
        }
        if (t->dtype != info.dtype && (st = engine_tensor_convert(ctx, t, info.dtype))) {
            set_msg(msg, "input %d: %s", k, engine_context_error(ctx));
            goto done;
        }
        ins[k] = *t;
        ins[k].name = NULL;
        if (fixed) {
            ins[k].rank = info.rank;
            memcpy(ins[k].dims, info.dims, sizeof ins[k].dims);
        }
    }
    if ((st = engine_session_run_tensors(s, ins, ni, outs, no))) {
        set_msg(msg, "%s", engine_context_error(ctx));
        v = st == ENGINE_ERR_UNSUPPORTED ? V_UNSUP : V_FAIL;
        goto done;
    }
    out->n = no;
    for (int k = 0; k < no; k++) { /* the session's storage lasts until its next run: copied */
        engine_model_output_info(model, k, &out->info[k]);
        out->info[k].dtype = outs[k].dtype;
        out->info[k].rank = outs[k].rank;
        memcpy(out->info[k].dims, outs[k].dims, sizeof out->info[k].dims);
        size_t bytes = (size_t)engine_tensor_numel(&outs[k]) * engine_dtype_size(outs[k].dtype);
        out->data[k] = xcalloc(bytes ? bytes : 1, 1);
        if (bytes) memcpy(out->data[k], outs[k].data, bytes);
    }
    v = V_PASS;
done:
    engine_session_free(s);
    return v;
}

static int64_t info_numel(const engine_tensor_info *i)
{
    int64_t n = 1;
    for (int d = 0; d < i->rank; d++)
        n *= i->dims[d];
    return n;
}

/* Checks a run's outputs against the oracle (and ref's outputs when given). */
static verdict check_outputs(const case_data *cd, const run_out *o, const run_out *ref, int fp16, char *msg,
                             double *worst_metric)
{
    *worst_metric = 0;
    for (int k = 0; k < o->n; k++) {
        const engine_tensor *e = &cd->exp[k];
        int64_t n = info_numel(&o->info[k]);
        if (n != engine_tensor_numel(e)) {
            set_msg(msg, "output %d: %lld elements, the oracle has %lld", k, (long long)n,
                    (long long)engine_tensor_numel(e));
            return V_FAIL;
        }
        char label[128];
        snprintf(label, sizeof label, "output %d (%s) vs oracle", k, o->info[k].name);
        tolerance t = cd->tol;
        if (fp16)
            t = cd->tol.rel_l2 ? TOL_FP16_MODEL : TOL_FP16_OP;
        cmp_result r;
        compare(label, o->data[k], o->info[k].dtype, e->data, e->dtype, n, &t, &r);
        double metric = t.rel_l2 ? r.rel_l2 : r.max_abs;
        if (metric > *worst_metric)
            *worst_metric = metric;
        if (!r.ok) {
            set_msg(msg, "%s", r.msg);
            return V_FAIL;
        }
        if (ref) {
            snprintf(label, sizeof label, "output %d (%s) vs ref", k, o->info[k].name);
            t = cd->tol.rel_l2 ? (fp16 ? TOL_FP16_MODEL : TOL_CROSS_MODEL) : (fp16 ? TOL_FP16_OP : TOL_CROSS_OP);
            compare(label, o->data[k], o->info[k].dtype, ref->data[k], ref->info[k].dtype, n, &t, &r);
            if (!r.ok) {
                set_msg(msg, "%s", r.msg);
                return V_FAIL;
            }
        }
    }
    return V_PASS;
}

static void case_data_free(engine_context *ctx, case_data *cd)
{
    for (int k = 0; k < cd->n_in; k++)
        engine_tensor_release(ctx, &cd->in[k]);
    for (int k = 0; k < cd->n_out; k++)
        engine_tensor_release(ctx, &cd->exp[k]);
    cd->n_in = cd->n_out = 0;
}

/* Reads input_<k>.npy and output_<k>.npy of a case folder. */
static int case_data_load(engine_context *ctx, const char *dir, case_data *cd, int need_outputs, char *msg)
{
    memset(cd, 0, sizeof *cd);
    cd->dir = dir;
    if (read_tolerance(dir, &cd->tol)) {
        set_msg(msg, "%s: bad tolerance file", dir);
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < MAX_IO; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%d.npy", pass ? "output" : "input", k);
            char *p = path_join(dir, name);
            if (!file_exists(p)) {
                free(p);
                break;
            }
            engine_tensor *t = pass ? &cd->exp[cd->n_out] : &cd->in[cd->n_in];
            engine_status st = engine_tensor_load(ctx, p, t);
            free(p);
            if (st) {
                set_msg(msg, "%s/%s: %s", dir, name, engine_context_error(ctx));
                case_data_free(ctx, cd);
                return -1;
            }
            if (pass)
                cd->n_out++;
            else
                cd->n_in++;
        }
    }
    if (need_outputs && cd->n_out == 0) {
        set_msg(msg, "%s: no output_0.npy", dir);
        return -1;
    }
    return 0;
}

/* ---- results and the pass list ------------------------------------------ */

typedef struct result {
    char *test;
    verdict v[MAX_COLS];
    double metric[MAX_COLS];
    char *msg[MAX_COLS];
} result;

typedef struct column {
    char name[64];     /* "ref", "cpu/fp16" */
    char backend[48];
    const char *precision; /* NULL: fp32 */
    engine_context *ctx;
} column;

typedef struct expected_entry {
    char *test, *col;
    verdict v;
} expected_entry;

typedef struct expected_list {
    expected_entry *e;
    int n, cap;
} expected_list;

static verdict parse_verdict(const char *s)
{
    return !strcmp(s, "pass") ? V_PASS : !strcmp(s, "fail") ? V_FAIL : !strcmp(s, "unsupported") ? V_UNSUP : V_NONE;
}

static expected_entry *exp_find(expected_list *l, const char *test, const char *col)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].test, test) && !strcmp(l->e[i].col, col))
            return &l->e[i];
    return NULL;
}

static void exp_set(expected_list *l, const char *test, const char *col, verdict v)
{
    expected_entry *e = exp_find(l, test, col);
    if (e) {
        e->v = v;
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        expected_entry *ne = realloc(l->e, (size_t)l->cap * sizeof *ne);
        if (!ne) {
            fprintf(stderr, "engine-conformance: out of memory\n");
            exit(2);
        }
        l->e = ne;
    }
    l->e[l->n].test = xstrdup(test);
    l->e[l->n].col = xstrdup(col);
    l->e[l->n].v = v;
    l->n++;
}

static int exp_load(const char *path, expected_list *l)
{
    strlist lines = {0};
    if (read_lines(path, &lines))
        return -1;
    for (int i = 0; i < lines.n; i++) {
        char *s = lines.v[i];
        if (s[0] == '#')
            continue;
        char *t1 = strchr(s, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = *t2 = 0;
        verdict v = parse_verdict(t2 + 1);
        if (v != V_NONE)
            exp_set(l, s, t1 + 1, v);
    }
    sl_free(&lines);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const expected_entry *x = a, *y = b;
    int c = strcmp(x->test, y->test);
    return c ? c : strcmp(x->col, y->col);
}

static int exp_save(const char *path, expected_list *l)
{
    qsort(l->e, (size_t)l->n, sizeof *l->e, cmp_entry);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# engine-conformance pass list: TEST<TAB>BACKEND<TAB>pass|fail|unsupported\n"
               "# Regenerate with: engine-conformance --update --expected THIS_FILE SUITE_DIR...\n");
    for (int i = 0; i < l->n; i++)
        fprintf(f, "%s\t%s\t%s\n", l->e[i].test, l->e[i].col, verdict_name(l->e[i].v));
    return fclose(f) ? -1 : 0;
}

static void exp_free(expected_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->e[i].test);
        free(l->e[i].col);
    }
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* ---- the markdown report ------------------------------------------------ */

static void md_cell(FILE *f, verdict v, double metric, const char *msg, int rel)
{
    if (v == V_PASS)
        fprintf(f, " pass |");
    else if (v == V_UNSUP)
        fprintf(f, " unsupported |");
    else if (v == V_FAIL) {
        char buf[200];
        snprintf(buf, sizeof buf, "%s", msg ? msg : "");
        for (char *p = buf; *p; p++)
            if (*p == '|' || *p == '\n')
                *p = ' ';
        if (metric > 0)
            fprintf(f, " **fail** (%s %.2g): %s |", rel ? "rel_l2" : "max abs", metric, buf);
        else
            fprintf(f, " **fail**: %s |", buf);
    } else
        fprintf(f, " - |");
}

static int write_markdown(const char *path, const options *o, column *cols, int nc, result *res, int nr,
                          int argc, char **argv)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "<!-- Generated by engine-conformance --markdown; do not edit by hand. -->\n");
    fprintf(f, "Command:\n\n```\n");
    for (int i = 0; i < argc; i++)
        fprintf(f, "%s%s", i ? " " : "", i == 0 ? "engine-conformance" : argv[i]);
    fprintf(f, "\n```\n\n");
    /* Summary per suite and column. */
    fprintf(f, "| suite | tests |");
    for (int c = 0; c < nc; c++)
        fprintf(f, " %s pass / fail / unsupported |", cols[c].name);
    fprintf(f, "\n| --- | --- |");
    for (int c = 0; c < nc; c++)
        fprintf(f, " --- |");
    fprintf(f, "\n");
    for (int s = 0; s < o->suites.n; s++) {
        const char *sn = base_name(o->suites.v[s]);
        size_t sl = strlen(sn);
        int count = 0, np[MAX_COLS] = {0}, nf[MAX_COLS] = {0}, nu[MAX_COLS] = {0};
        for (int r = 0; r < nr; r++) {
            if (strncmp(res[r].test, sn, sl) || res[r].test[sl] != '/')
                continue;
            count++;
            for (int c = 0; c < nc; c++) {
                np[c] += res[r].v[c] == V_PASS;
                nf[c] += res[r].v[c] == V_FAIL;
                nu[c] += res[r].v[c] == V_UNSUP;
            }
        }
        fprintf(f, "| %s | %d |", sn, count);
        for (int c = 0; c < nc; c++)
            fprintf(f, " %d / %d / %d |", np[c], nf[c], nu[c]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n### Results\n\n| test |");
    for (int c = 0; c < nc; c++)
        fprintf(f, " %s |", cols[c].name);
    fprintf(f, "\n| --- |");
    for (int c = 0; c < nc; c++)
        fprintf(f, " --- |");
    fprintf(f, "\n");
    for (int r = 0; r < nr; r++) {
        fprintf(f, "| %s |", res[r].test);
        for (int c = 0; c < nc; c++)
            md_cell(f, res[r].v[c], res[r].metric[c], res[r].msg[c], strncmp(res[r].test, "zoo/", 4) == 0);
        fprintf(f, "\n");
    }
    /* Every unsupported verdict with the engine's own reason (the
     * exclusions of selected tests). */
    int any_unsup = 0;
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            if (res[r].v[c] != V_UNSUP)
                continue;
            if (!any_unsup++)
                fprintf(f, "\n### Unsupported, with the engine's reason\n\n| test | backend | reason |\n"
                           "| --- | --- | --- |\n");
            fprintf(f, "| %s | %s | ", res[r].test, cols[c].name);
            for (const char *m = res[r].msg[c] ? res[r].msg[c] : ""; *m; m++)
                fputs(*m == '|' ? "\\|" : *m == '\n' ? " " : (char[2]){*m, 0}, f);
            fprintf(f, " |\n");
        }
    /* What each generator left out, with its reason. */
    for (int s = 0; s < o->suites.n; s++) {
        char *p = path_join(o->suites.v[s], "EXCLUDED");
        strlist ex = {0};
        if (!read_lines(p, &ex) && ex.n) {
            fprintf(f, "\n### Out of scope: %s (%d tests, not run)\n\n| test | reason |\n| --- | --- |\n",
                    base_name(o->suites.v[s]), ex.n);
            for (int i = 0; i < ex.n; i++) {
                char *t = strchr(ex.v[i], '\t');
                if (t)
                    *t++ = 0;
                fprintf(f, "| %s | %s |\n", ex.v[i], t ? t : "");
            }
        }
        sl_free(&ex);
        free(p);
    }
    return fclose(f) ? -1 : 0;
}

/* ---- suites ------------------------------------------------------------- */

/* --backend-path: extra module folders or .so files, searched first. */
static engine_status context_create(const options *o, engine_context **ctx)
{
    engine_context_options co;
    memset(&co, 0, sizeof co);
    co.backend_path = o->backend_path;
    return engine_context_create(&co, ctx);
}

static int run_suites(options *o, int argc, char **argv)
{
    column cols[MAX_COLS];
    int nc = 0, rc = 0;
    memset(cols, 0, sizeof cols);
    if (!o->precisions.n)
        sl_push(&o->precisions, "fp32");
    /* One context per precision: a backend takes its precision when it is
     * first created. */
    engine_context *pctx[8] = {0};
    int ref_col[8];
    for (int p = 0; p < o->precisions.n && p < 8; p++) {
        ref_col[p] = -1;
        if (context_create(o, &pctx[p])) {
            fprintf(stderr, "engine-conformance: cannot create a context\n");
            return 2;
        }
        engine_context *ctx = pctx[p];
        const char *prec = strcmp(o->precisions.v[p], "fp32") ? o->precisions.v[p] : NULL;
        int nb = engine_backend_count(ctx);
        strlist want = {0};
        if (o->backends.n)
            for (int i = 0; i < o->backends.n; i++)
                sl_push(&want, o->backends.v[i]);
        else {
            /* ref first: the column every other is compared with. */
            for (int b = 0; b < nb; b++)
                if (!strcmp(engine_backend_name(ctx, b), "ref"))
                    sl_push(&want, "ref");
            for (int b = 0; b < nb; b++)
                if (strcmp(engine_backend_name(ctx, b), "ref"))
                    sl_push(&want, engine_backend_name(ctx, b));
        }
        for (int i = 0; i < want.n && nc < MAX_COLS; i++) {
            int found = 0;
            for (int b = 0; b < nb; b++)
                found |= !strcmp(engine_backend_name(ctx, b), want.v[i]);
            if (!found) {
                if (p == 0)
                    printf("notice: backend '%s' is not loaded: skipped (its pass-list entries are kept)\n",
                           want.v[i]);
                continue;
            }
            /* Test-only backends (the loader test's modules) are not part of
             * the table unless asked for by name. */
            if (!o->backends.n && (!strcmp(want.v[i], "reluonly") || !strcmp(want.v[i], "skew")))
                continue;
            column *c = &cols[nc];
            snprintf(c->backend, sizeof c->backend, "%s", want.v[i]);
            if (prec)
                snprintf(c->name, sizeof c->name, "%s/%s", want.v[i], prec);
            else
                snprintf(c->name, sizeof c->name, "%s", want.v[i]);
            c->precision = prec;
            c->ctx = ctx;
            if (!strcmp(want.v[i], "ref"))
                ref_col[p] = nc;
            nc++;
        }
        sl_free(&want);
    }
    if (!nc) {
        fprintf(stderr, "engine-conformance: no backend to run (loaded: %d)\n", engine_backend_count(pctx[0]));
        for (int p = 0; p < 8; p++)
            engine_context_destroy(pctx[p]);
        return 2;
    }
    printf("columns:");
    for (int c = 0; c < nc; c++)
        printf(" %s", cols[c].name);
    printf("\n");

    /* Every test of every suite. */
    strlist tests = {0}, dirs = {0};
    for (int s = 0; s < o->suites.n; s++) {
        const char *sd = o->suites.v[s];
        char *idx = path_join(sd, "INDEX");
        strlist names = {0};
        if (read_lines(idx, &names)) {
            fprintf(stderr, "engine-conformance: %s: no INDEX (is this a suite folder?)\n", sd);
            free(idx);
            rc = 2;
            goto out;
        }
        free(idx);
        for (int i = 0; i < names.n; i++) {
            if (names.v[i][0] == '#') /* comment lines, as case_runner reads them */
                continue;
            char t[1024];
            snprintf(t, sizeof t, "%s/%s", base_name(sd), names.v[i]);
            if (o->only && !strstr(t, o->only))
                continue;
            sl_push(&tests, t);
            char *d = path_join(sd, names.v[i]);
            sl_push(&dirs, d);
            free(d);
        }
        sl_free(&names);
    }

    result *res = xcalloc((size_t)tests.n + 1, sizeof *res);
    int totals[MAX_COLS][4] = {{0}};
    for (int t = 0; t < tests.n; t++) {
        result *r = &res[t];
        r->test = xstrdup(tests.v[t]);
        for (int p = 0; p < o->precisions.n && p < 8; p++) {
            engine_context *ctx = pctx[p];
            char msg[MSG_CAP] = "";
            case_data cd;
            char *mp = path_join(dirs.v[t], "model.onnx");
            engine_model *model = NULL;
            verdict lv = V_FAIL;
            int have_data = case_data_load(ctx, dirs.v[t], &cd, 1, msg) == 0;
            if (have_data)
                lv = load_model(ctx, mp, o->no_fuse, &model, msg);
            free(mp);
            run_out ref_out = {0};
            int have_ref = 0;
            /* ref first, so the other columns can be compared with it. */
            int order[MAX_COLS], no = 0;
            if (ref_col[p] >= 0)
                order[no++] = ref_col[p];
            for (int c = 0; c < nc; c++)
                if (cols[c].ctx == ctx && c != ref_col[p])
                    order[no++] = c;
            for (int i = 0; i < no; i++) {
                int c = order[i];
                verdict v = have_data ? lv : V_FAIL;
                double metric = 0;
                run_out ro = {0};
                if (v == V_PASS) {
                    v = run_case(ctx, model, cols[c].backend, &cd, &ro, msg);
                    if (v == V_PASS) {
                        int is_ref = c == ref_col[p];
                        v = check_outputs(&cd, &ro, (!is_ref && have_ref) ? &ref_out : NULL,
                                          cols[c].precision != NULL, msg, &metric);
                        if (is_ref) {
                            ref_out = ro;
                            have_ref = 1;
                            memset(&ro, 0, sizeof ro);
                        }
                    }
                }
                run_out_free(&ro);
                r->v[c] = v;
                r->metric[c] = metric;
                r->msg[c] = v == V_PASS ? NULL : xstrdup(msg);
                totals[c][v]++;
                if (o->verbose || v == V_FAIL)
                    printf("%-60s %-10s %s%s%s\n", r->test, cols[c].name, verdict_name(v), v == V_PASS ? "" : ": ",
                           v == V_PASS ? "" : msg);
            }
            run_out_free(&ref_out);
            engine_model_free(model);
            if (have_data)
                case_data_free(ctx, &cd);
        }
    }

    printf("\n%-12s %6s %6s %12s\n", "backend", "pass", "fail", "unsupported");
    for (int c = 0; c < nc; c++)
        printf("%-12s %6d %6d %12d\n", cols[c].name, totals[c][V_PASS], totals[c][V_FAIL], totals[c][V_UNSUP]);

    /* The pass list. */
    if (o->expected) {
        expected_list el = {0};
        int have = exp_load(o->expected, &el) == 0;
        if (!have && !o->update)
            printf("notice: no pass list at %s (run with --update to write one)\n", o->expected);
        int regressions = 0, improvements = 0, fresh = 0;
        for (int t = 0; t < tests.n; t++)
            for (int c = 0; c < nc; c++) {
                expected_entry *e = have ? exp_find(&el, res[t].test, cols[c].name) : NULL;
                if (!e) {
                    fresh++;
                    continue;
                }
                if (e->v == V_PASS && res[t].v[c] != V_PASS) {
                    regressions++;
                    printf("REGRESSION %s on %s: was pass, now %s: %s\n", res[t].test, cols[c].name,
                           verdict_name(res[t].v[c]), res[t].msg[c] ? res[t].msg[c] : "");
                } else if (e->v != V_PASS && res[t].v[c] == V_PASS) {
                    improvements++;
                    printf("new pass   %s on %s (was %s)\n", res[t].test, cols[c].name, verdict_name(e->v));
                }
            }
        /* Columns in the list that this run did not have. */
        for (int i = 0; i < el.n; i++) {
            int seen = 0;
            for (int c = 0; c < nc && !seen; c++)
                seen = !strcmp(el.e[i].col, cols[c].name);
            if (!seen) {
                int dup = 0;
                for (int j = 0; j < i && !dup; j++)
                    dup = !strcmp(el.e[j].col, el.e[i].col);
                if (!dup)
                    printf("notice: pass list has column '%s', not run here: its entries are not checked\n",
                           el.e[i].col);
            }
        }
        printf("pass list: %d regression%s, %d new pass%s, %d result%s not in the list\n", regressions,
               regressions == 1 ? "" : "s", improvements, improvements == 1 ? "" : "es", fresh,
               fresh == 1 ? "" : "s");
        if (o->update) {
            for (int t = 0; t < tests.n; t++)
                for (int c = 0; c < nc; c++)
                    exp_set(&el, res[t].test, cols[c].name, res[t].v[c]);
            if (exp_save(o->expected, &el)) {
                fprintf(stderr, "engine-conformance: cannot write %s\n", o->expected);
                rc = 2;
            } else
                printf("pass list updated: %s (%d entries)\n", o->expected, el.n);
        } else if (regressions)
            rc = 1;
        exp_free(&el);
    }
    if (o->markdown && write_markdown(o->markdown, o, cols, nc, res, tests.n, argc, argv)) {
        fprintf(stderr, "engine-conformance: cannot write %s\n", o->markdown);
        rc = 2;
    }
    for (int t = 0; t < tests.n; t++) {
        free(res[t].test);
        for (int c = 0; c < nc; c++)
            free(res[t].msg[c]);
    }
    free(res);
out:
    sl_free(&tests);
    sl_free(&dirs);
    for (int p = 0; p < 8; p++)
        engine_context_destroy(pctx[p]);
    return rc;
}

/* ---- first divergence --------------------------------------------------- */

/* Seeded N(0,1)-ish input for models run without a case folder (xorshift +
 * the sum of 4 uniforms: deterministic, never all zeros). */
static void fill_random(engine_tensor *t, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    int64_t n = engine_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double acc = 0;
        for (int k = 0; k < 4; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            acc += (double)(s >> 11) / 9007199254740992.0;
        }
        double v = (acc - 2.0) * 1.7320508;
        switch (t->dtype) {
        case ENGINE_DTYPE_F32: ((float *)t->data)[i] = (float)v; break;
        case ENGINE_DTYPE_I64: ((int64_t *)t->data)[i] = (int64_t)(v * 3); break;
        case ENGINE_DTYPE_I32: ((int32_t *)t->data)[i] = (int32_t)(v * 3); break;
        case ENGINE_DTYPE_BOOL: ((uint8_t *)t->data)[i] = v > 0; break;
        case ENGINE_DTYPE_U8: ((uint8_t *)t->data)[i] = (uint8_t)(fabs(v) * 40); break;
        default: break;
        }
    }
}

static int run_diverge(options *o)
{
    if (o->backends.n != 2) {
        fprintf(stderr, "engine-conformance: --diverge needs --backends A,B (two backends)\n");
        return 2;
    }
    int rc = 2;
    engine_context *ctx = NULL;
    engine_model *model = NULL;
    engine_session *sa = NULL, *sb = NULL;
    case_data cd;
    memset(&cd, 0, sizeof cd);
    char msg[MSG_CAP] = "";
    char *model_path = is_dir(o->diverge) ? path_join(o->diverge, "model.onnx") : xstrdup(o->diverge);
    void *outs_a[MAX_IO] = {0}, *outs_b[MAX_IO] = {0};
    if (context_create(o, &ctx)) {
        fprintf(stderr, "engine-conformance: cannot create a context\n");
        free(model_path);
        return 2;
    }
    if (load_model(ctx, model_path, o->no_fuse, &model, msg) != V_PASS) {
        fprintf(stderr, "engine-conformance: %s\n", msg);
        goto out;
    }
    int ni = engine_model_input_count(model), no = engine_model_output_count(model);
    if (ni > MAX_IO || no > MAX_IO) {
        fprintf(stderr, "engine-conformance: too many inputs/outputs\n");
        goto out;
    }
    /* Inputs: --input files, else the case folder's, else seeded random. */
    if (o->diverge_inputs.n) {
        for (int k = 0; k < o->diverge_inputs.n && k < MAX_IO; k++) {
            if (engine_tensor_load(ctx, o->diverge_inputs.v[k], &cd.in[k])) {
                fprintf(stderr, "engine-conformance: %s\n", engine_context_error(ctx));
                goto out;
            }
            cd.n_in++;
        }
    } else if (is_dir(o->diverge)) {
        if (case_data_load(ctx, o->diverge, &cd, 0, msg)) {
            fprintf(stderr, "engine-conformance: %s\n", msg);
            goto out;
        }
    }
    if (cd.n_in == 0 && ni > 0) {
        for (int k = 0; k < ni; k++) {
            engine_tensor_info info;
            engine_model_input_info(model, k, &info);
            engine_tensor *t = &cd.in[k];
            t->dtype = info.dtype;
            t->rank = info.rank;
            memcpy(t->dims, info.dims, sizeof t->dims);
            /* Owned by us, not by the library: freed below, not released. */
            t->data = xcalloc((size_t)engine_tensor_numel(t), engine_dtype_size(info.dtype));
            fill_random(t, (uint64_t)k + 1);
        }
        cd.n_in = -ni; /* marks: our own buffers */
        printf("inputs: seeded random\n");
    }
    int n_in_abs = cd.n_in < 0 ? -cd.n_in : cd.n_in;
    if (n_in_abs != ni) {
        fprintf(stderr, "engine-conformance: the model has %d inputs, %d given\n", ni, n_in_abs);
        goto out;
    }
    const void *inputs[MAX_IO];
    for (int k = 0; k < ni; k++) {
        engine_tensor_info info;
        engine_model_input_info(model, k, &info);
        if (cd.in[k].dtype != info.dtype && engine_tensor_convert(ctx, &cd.in[k], info.dtype)) {
            fprintf(stderr, "engine-conformance: input %d: %s\n", k, engine_context_error(ctx));
            goto out;
        }
        inputs[k] = cd.in[k].data;
    }
    for (int k = 0; k < no; k++) {
        engine_tensor_info info;
        engine_model_output_info(model, k, &info);
        outs_a[k] = xcalloc((size_t)info_numel(&info), engine_dtype_size(info.dtype));
        outs_b[k] = xcalloc((size_t)info_numel(&info), engine_dtype_size(info.dtype));
    }
    engine_session **ss[2] = {&sa, &sb};
    void **outs[2] = {outs_a, outs_b};
    for (int i = 0; i < 2; i++) {
        char list[256];
        /* The backend under test first; nodes it lacks fall back to ref. */
        if (strcmp(o->backends.v[i], "ref"))
            snprintf(list, sizeof list, "%s,ref", o->backends.v[i]);
        else
            snprintf(list, sizeof list, "ref");
        engine_session_options so;
        memset(&so, 0, sizeof so);
        so.backends = list;
        so.threads = 1;
        so.keep_intermediates = 1;
        if (engine_session_create(model, &so, ss[i]) || engine_session_run(*ss[i], inputs, outs[i])) {
            fprintf(stderr, "engine-conformance: %s: %s\n", o->backends.v[i], engine_context_error(ctx));
            goto out;
        }
    }
    int nn = engine_model_node_count(model);
    /* Intermediates carry the rounding of everything before them, so a
     * per-element test would flag nodes that only inherit small differences;
     * the default is the model tolerance (rel L2 1e-4) per node output. */
    const tolerance *tol = o->elementwise ? &TOL_CROSS_OP : &TOL_CROSS_MODEL;
    printf("comparing %d nodes: %s vs %s (tolerance per node output: %s)\n", nn, o->backends.v[0], o->backends.v[1],
           o->elementwise ? "atol 1e-5 + rtol 1e-4 per element" : "rel L2 1e-4");
    rc = 0;
    for (int k = 0; k < nn && rc == 0; k++) {
        for (int out = 0;; out++) {
            const char *name = NULL, *op = NULL;
            engine_tensor_info ia, ib;
            const void *da = NULL, *db = NULL;
            engine_status st = engine_session_node_output(sa, k, out, &name, &op, &ia, &da);
            if (st == ENGINE_ERR_NOT_FOUND)
                break;
            if (st || engine_session_node_output(sb, k, out, NULL, NULL, &ib, &db)) {
                fprintf(stderr, "engine-conformance: %s\n", engine_context_error(ctx));
                rc = 2;
                break;
            }
            if (!da || !db)
                continue;
            cmp_result r;
            char label[256];
            snprintf(label, sizeof label, "node %d '%s' (%s) output %d '%s'", k, name, op, out, ia.name);
            compare(label, db, ib.dtype, da, ia.dtype, info_numel(&ia), tol, &r);
            if (o->verbose)
                printf("  %4d %-40s %-12s max abs %.3g  max rel %.3g  rel_l2 %.3g\n", k, name, op, r.max_abs,
                       r.max_rel, r.rel_l2);
            if (!r.ok) {
                printf("first divergence: node %d '%s' (%s), output %d '%s': max abs %.6g, max rel %.6g, rel_l2 "
                       "%.6g\n  %s\n",
                       k, name, op, out, ia.name, r.max_abs, r.max_rel, r.rel_l2, r.msg);
                rc = 1;
                break;
            }
        }
    }
    if (rc == 0)
        printf("no divergence: every node output of %s is within tolerance of %s\n", o->backends.v[1],
               o->backends.v[0]);
out:
    engine_session_free(sa);
    engine_session_free(sb);
    for (int k = 0; k < MAX_IO; k++) {
        free(outs_a[k]);
        free(outs_b[k]);
    }
    if (cd.n_in < 0) {
        for (int k = 0; k < -cd.n_in; k++)
            free(cd.in[k].data);
        cd.n_in = 0;
    }
    case_data_free(ctx, &cd);
    engine_model_free(model);
    engine_context_destroy(ctx);
    free(model_path);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: engine-conformance [--backends LIST] [--precision LIST] [--expected FILE [--update]]\n"
            "                          [--markdown FILE] [--only SUBSTR] [--no-fuse] [-v] SUITE_DIR...\n"
            "       engine-conformance --diverge MODEL --backends A,B [--input FILE]... [--no-fuse] [--elementwise] [-v]\n"
            "       --backend-path PATHS: extra backend modules (colon-separated folders or .so files)\n"
            "Runs conformance suites on every loaded backend (see the header of tests/conformance/conformance.c\n"
            "and docs/CONFORMANCE.md). Exit status: 0 ok, 1 regression (or divergence), 2 error.\n");
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--backends") && next)
            sl_split(&o.backends, argv[++i]);
        else if (!strcmp(a, "--precision") && next)
            sl_split(&o.precisions, argv[++i]);
        else if (!strcmp(a, "--expected") && next)
            o.expected = argv[++i];
        else if (!strcmp(a, "--markdown") && next)
            o.markdown = argv[++i];
        else if (!strcmp(a, "--only") && next)
            o.only = argv[++i];
        else if (!strcmp(a, "--diverge") && next)
            o.diverge = argv[++i];
        else if (!strcmp(a, "--backend-path") && next)
            o.backend_path = argv[++i];
        else if (!strcmp(a, "--elementwise"))
            o.elementwise = 1;
        else if (!strcmp(a, "--input") && next)
            sl_push(&o.diverge_inputs, argv[++i]);
        else if (!strcmp(a, "--update"))
            o.update = 1;
        else if (!strcmp(a, "--no-fuse"))
            o.no_fuse = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            o.verbose = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "engine-conformance: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else
            sl_push(&o.suites, a);
    }
    int rc;
    if (o.diverge)
        rc = run_diverge(&o);
    else if (!o.suites.n) {
        usage(stderr);
        rc = 2;
    } else
        rc = run_suites(&o, argc, argv);
    sl_free(&o.backends);
    sl_free(&o.precisions);
    sl_free(&o.suites);
    sl_free(&o.diverge_inputs);
    return rc;
}
