/* results.c - engine-run's reading, reporting and drawing of outputs
 * (the conventions and contracts are in results.h). */
#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <stb_image.h>

#include "draw.h"

/* ---- labels ---- */

#define LABELS_MAX_BYTES ((long long)16 << 20)

int labels_load(labels *l, const char *path, char *err, size_t errsz) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s: not a regular file", path);
        goto fail;
    }
    if ((long long)st.st_size > LABELS_MAX_BYTES) {
        snprintf(err, errsz, "%s: %lld bytes, more than the %lld a labels file may have", path,
                 (long long)st.st_size, LABELS_MAX_BYTES);
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    l->text = malloc(size + 1);
    if (!l->text) {
        snprintf(err, errsz, "%s: out of memory", path);
        goto fail;
    }
    if (fread(l->text, 1, size, f) != size) {
        snprintf(err, errsz, "%s: read error", path);
        goto fail;
    }
    l->text[size] = '\0';
    int lines = 0;
    for (size_t k = 0; k < size; ++k)
        if (l->text[k] == '\n' || k + 1 == size) lines++;
    if (lines == 0) {
        snprintf(err, errsz, "%s: no class names in it (one a line)", path);
        goto fail;
    }
    l->names = malloc(sizeof *l->names * (size_t)lines);
    if (!l->names) {
        snprintf(err, errsz, "%s: out of memory", path);
        goto fail;
    }
    char *p = l->text;
    while (l->count < lines) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[len - 1] = '\0';
        l->names[l->count++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    labels_free(l);
    return -1;
}

void labels_free(labels *l) {
    free(l->names);
    free(l->text);
    memset(l, 0, sizeof *l);
}

const char *labels_name(const labels *l, int64_t id) {
    if (!l || id < 0 || id >= l->count || !l->names[id][0]) return NULL;
    return l->names[id];
}

/* ---- reading the outputs ---- */

static int64_t numel(const engine_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->rank; ++d) n *= t->dims[d];
    return n;
}

static int is_float(const engine_tensor *t) { return t->dtype == ENGINE_DTYPE_F32; }
static int is_int(const engine_tensor *t) { return t->dtype == ENGINE_DTYPE_I64 || t->dtype == ENGINE_DTYPE_I32; }

static double value_at(const engine_tensor *t, int64_t k) {
    switch (t->dtype) {
    case ENGINE_DTYPE_F32: return ((const float *)t->data)[k];
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)t->data)[k];
    case ENGINE_DTYPE_I32: return ((const int32_t *)t->data)[k];
    default: return NAN;
    }
}

/* A class id from a float column: the nearest integer, or -1 for what is no id. */
static int64_t to_label(double v) {
    if (!isfinite(v) || fabs(v) > 1e15) return -1;
    return (int64_t)llround(v);
}

static void shape_text(const engine_tensor *t, char *buf, size_t size) {
    size_t w = (size_t)snprintf(buf, size, "%s[", engine_dtype_name(t->dtype));
    for (int d = 0; d < t->rank && w < size; ++d)
        w += (size_t)snprintf(buf + w, size - w, d ? ",%lld" : "%lld", (long long)t->dims[d]);
    if (w < size) snprintf(buf + w, size - w, "]");
}

/* "'a' float32[2,3], 'b' int64[7]" */
static void seen_text(const engine_tensor *outs, const char *const *names, int n_out, char *buf, size_t size) {
    size_t w = 0;
    buf[0] = '\0';
    for (int k = 0; k < n_out && w < size; ++k) {
        char shape[128];
        shape_text(&outs[k], shape, sizeof shape);
        w += (size_t)snprintf(buf + w, size - w, "%s'%s' %s", k ? ", " : "", names[k], shape);
    }
}

static int classes_shape(const engine_tensor *t) {
    int64_t n = numel(t), big = 1;
    for (int d = 0; d < t->rank; ++d) big = t->dims[d] > big ? t->dims[d] : big;
    return is_float(t) && n >= 1 && n == big;
}

static int alloc_dets(results *r, int64_t n, char *err, size_t errsz) {
    r->n = n;
    if (n == 0) return 0;
    r->dets = calloc((size_t)n, sizeof *r->dets);
    if (!r->dets) {
        snprintf(err, errsz, "out of memory for %lld detections", (long long)n);
        return -1;
    }
    return 0;
}

/* torchvision-style outputs, given which output plays each part (-1: none). */
static int read_torchvision(results *r, const engine_tensor *outs, const char *const *names, int ib, int is, int il,
                            int im, int ik, char *err, size_t errsz) {
    const engine_tensor *b = &outs[ib], *s = &outs[is];
    char shape[128];
    int64_t n = b->rank == 2 ? b->dims[0] : -1;
#define WRONG(k, want)                                                                                                 \
    do {                                                                                                               \
        shape_text(&outs[k], shape, sizeof shape);                                                                     \
        snprintf(err, errsz, "output '%s' is %s; torchvision-style detections have %s", names[k], shape, want);       \
        return -1;                                                                                                     \
    } while (0)
    if (!is_float(b) || b->rank != 2 || b->dims[1] != 4) WRONG(ib, "boxes float32 [N,4]");
    if (!is_float(s) || s->rank != 1 || s->dims[0] != n) WRONG(is, "scores float32 [N], N as in boxes");
    if (il >= 0 && (!is_int(&outs[il]) || outs[il].rank != 1 || outs[il].dims[0] != n))
        WRONG(il, "labels int64 [N], N as in boxes");
    if (im >= 0 && (!is_float(&outs[im]) || outs[im].rank != 4 || outs[im].dims[0] != n || outs[im].dims[1] != 1))
        WRONG(im, "masks float32 [N,1,H,W], N as in boxes");
    if (ik >= 0 && (!is_float(&outs[ik]) || outs[ik].rank != 3 || outs[ik].dims[0] != n || outs[ik].dims[2] != 3))
        WRONG(ik, "keypoints float32 [N,K,3], N as in boxes");
#undef WRONG
    r->kind = RESULTS_DETECTIONS;
    r->convention = "torchvision-style boxes, scores, labels";
    if (alloc_dets(r, n, err, errsz)) return -1;
    const float *box = b->data, *score = s->data;
    for (int64_t k = 0; k < n; ++k) {
        detection *d = &r->dets[k];
        for (int c = 0; c < 4; ++c) d->box[c] = box[k * 4 + c];
        d->score = score[k];
        d->label = il >= 0 ? (int64_t)value_at(&outs[il], k) : 0;
        d->batch = -1;
        d->row = k;
    }
    if (im >= 0) {
        r->masks = outs[im].data;
        r->mask_h = outs[im].dims[2];
        r->mask_w = outs[im].dims[3];
    }
    if (ik >= 0) {
        r->keypoints = outs[ik].data;
        r->n_keypoints = outs[ik].dims[1];
    }
    return 0;
}

/* One [N,6|7] or [1,N,6|7] output of a graph that ends in NMS. */
static int yolo_shape(const engine_tensor *t, const engine_tensor_info *declared) {
    if (!is_float(t)) return 0;
    if (t->rank == 3 && t->dims[0] == 1 && (t->dims[2] == 6 || t->dims[2] == 7)) return 1;
    if (t->rank != 2 || (t->dims[1] != 6 && t->dims[1] != 7)) return 0;
    /* [1,6] with the 1 fixed by the model is a 6-class classifier's output */
    return !(declared && declared->rank == 2 && declared->dims[0] == 1);
}

static int read_yolo(results *r, const engine_tensor *t, char *err, size_t errsz) {
    int64_t n = t->rank == 3 ? t->dims[1] : t->dims[0], cols = t->dims[t->rank - 1];
    r->kind = RESULTS_DETECTIONS;
    r->convention = cols == 6 ? "[N,6] rows x1,y1,x2,y2,score,class" : "[N,7] rows batch,x1,y1,x2,y2,class,score";
    if (alloc_dets(r, n, err, errsz)) return -1;
    const float *v = t->data;
    for (int64_t k = 0; k < n; ++k) {
        const float *row = v + k * cols;
        detection *d = &r->dets[k];
        int off = cols == 7;
        for (int c = 0; c < 4; ++c) d->box[c] = row[off + c];
        d->score = cols == 6 ? row[4] : row[6];
        d->label = to_label(row[5]); /* the class is column 5 in both */
        d->batch = cols == 7 ? to_label(row[0]) : -1;
        d->row = k;
    }
    return 0;
}

int results_read(results *r, const engine_tensor *outs, const char *const *names, const engine_tensor_info *declared,
                 int n_out, int want_classes, char *err, size_t errsz) {
    memset(r, 0, sizeof *r);
    char seen[1024];
    seen_text(outs, names, n_out, seen, sizeof seen);
    if (n_out < 1) {
        snprintf(err, errsz, "the model has no outputs");
        return -1;
    }
    if (want_classes) {
        if (!classes_shape(&outs[0])) {
            snprintf(err, errsz, "--top needs a float32 1xN output first; saw %s", seen);
            return -1;
        }
        r->kind = RESULTS_CLASSES;
        r->convention = "classes";
        r->tensor = &outs[0];
        r->name = names[0];
        return 0;
    }

    /* torchvision-style, by name */
    static const char *const parts[] = {"boxes", "scores", "labels", "masks", "keypoints"};
    int part[5] = {-1, -1, -1, -1, -1};
    for (int k = 0; k < n_out; ++k)
        for (int p = 0; p < 5; ++p)
            if (strcasecmp(names[k], parts[p]) == 0) part[p] = part[p] < 0 ? k : part[p];
    if (part[0] >= 0 || part[1] >= 0 || part[2] >= 0) {
        if (part[0] < 0 || part[1] < 0) {
            snprintf(err, errsz, "outputs named like torchvision's detections need both 'boxes' and 'scores'; saw %s",
                     seen);
            return -1;
        }
        return read_torchvision(r, outs, names, part[0], part[1], part[2], part[3], part[4], err, errsz);
    }

    /* YOLO-style: one [N,6|7] output */
    int yolo = -1;
    for (int k = 0; k < n_out; ++k) {
        if (!yolo_shape(&outs[k], declared ? &declared[k] : NULL)) continue;
        if (yolo >= 0) {
            snprintf(err, errsz, "outputs '%s' and '%s' both look like [N,6|7] detections; which is meant is unclear",
                     names[yolo], names[k]);
            return -1;
        }
        yolo = k;
    }
    if (yolo >= 0) return read_yolo(r, &outs[yolo], err, errsz);

    /* torchvision-style, by shape: one float [N,4], one float [N], at most one integer [N] */
    int ib = -1, is = -1, il = -1, im = -1, ik = -1, several = 0;
    for (int k = 0; k < n_out; ++k) {
        const engine_tensor *t = &outs[k];
        int *slot = NULL;
        if (is_float(t) && t->rank == 2 && t->dims[1] == 4) slot = &ib;
        else if (is_float(t) && t->rank == 1) slot = &is;
        else if (is_int(t) && t->rank == 1) slot = &il;
        else if (is_float(t) && t->rank == 4 && t->dims[1] == 1) slot = &im;
        else if (is_float(t) && t->rank == 3 && t->dims[2] == 3) slot = &ik;
        if (slot && *slot >= 0) several = 1;
        if (slot) *slot = k;
    }
    if (!several && ib >= 0 && is >= 0 && outs[is].dims[0] == outs[ib].dims[0] &&
        (il < 0 || outs[il].dims[0] == outs[ib].dims[0]))
        return read_torchvision(r, outs, names, ib, is, il, im >= 0 && outs[im].dims[0] == outs[ib].dims[0] ? im : -1,
                                ik >= 0 && outs[ik].dims[0] == outs[ib].dims[0] ? ik : -1, err, errsz);

    /* a segmentation, then a classifier: the first output */
    const engine_tensor *t = &outs[0];
    if (is_float(t) && t->rank == 4 && t->dims[0] == 1 && t->dims[1] >= 2 && t->dims[2] * t->dims[3] > 1) {
        r->kind = RESULTS_SEGMENTATION;
        r->convention = "segmentation [1,C,H,W]";
        r->tensor = t;
        r->name = names[0];
        return 0;
    }
    if (classes_shape(t)) {
        r->kind = RESULTS_CLASSES;
        r->convention = "classes";
        r->tensor = t;
        r->name = names[0];
        return 0;
    }
    snprintf(err, errsz,
             "cannot read the outputs as detections, a segmentation or classes: saw %s; recognised are "
             "boxes [N,4] + scores [N] (+ labels [N], masks [N,1,H,W], keypoints [N,K,3]), one [N,6] or [1,N,6] "
             "(x1,y1,x2,y2,score,class) or [N,7] (batch,x1,y1,x2,y2,class,score), a [1,C,H,W] segmentation, "
             "a 1xN classifier",
             seen);
    return -1;
}

void results_free(results *r) {
    free(r->dets);
    memset(r, 0, sizeof *r);
}

/* ---- reports ---- */

void results_json_string(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* A number, or null where JSON has none (NaN, infinities). */
static void json_number(double v) {
    if (isfinite(v))
        printf("%.7g", v);
    else
        printf("null");
}

/* The k best classes of a classifier output, best first (ties: the lower
 * id first; NaN last): a new array of *count ids (NULL, 0 when out of memory). */
static int64_t *top_classes(const engine_tensor *t, int k, int64_t *count) {
    int64_t n = numel(t);
    const float *v = t->data;
    *count = 0;
    if (k > n) k = (int)n;
    int64_t *ids = malloc(sizeof *ids * (size_t)(k > 0 ? k : 1));
    unsigned char *taken = calloc((size_t)n, 1);
    if (!ids || !taken) {
        free(ids);
        free(taken);
        return NULL;
    }
    for (int r = 0; r < k; ++r) {
        int64_t best = -1;
        for (int64_t c = 0; c < n; ++c)
            if (!taken[c] && (best < 0 || v[c] > v[best] || (isnan(v[best]) && !isnan(v[c])))) best = c;
        taken[best] = 1;
        ids[r] = best;
    }
    free(taken);
    *count = k;
    return ids;
}

/* Pixels per class of a segmentation (argmax over C); counts has C entries. */
static void segmentation_counts(const engine_tensor *t, int64_t *counts) {
    int64_t C = t->dims[1], hw = t->dims[2] * t->dims[3];
    const float *v = t->data;
    memset(counts, 0, sizeof *counts * (size_t)C);
    for (int64_t p = 0; p < hw; ++p) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; ++c)
            if (v[c * hw + p] > v[best * hw + p]) best = c;
        counts[best]++;
    }
}

#define DEFAULT_TOP 5

void results_print_json(const results *r, const labels *l, results_scale sc, int top) {
    if (r->kind == RESULTS_DETECTIONS) {
        printf("[");
        for (int64_t k = 0; k < r->n; ++k) {
            const detection *d = &r->dets[k];
            printf("%s\n  {\"box\": [", k ? "," : "");
            for (int c = 0; c < 4; ++c) {
                if (c) printf(", ");
                json_number(d->box[c] * (c % 2 ? sc.sy : sc.sx));
            }
            printf("], \"score\": ");
            json_number(d->score);
            printf(", \"label\": %lld", (long long)d->label);
            const char *name = labels_name(l, d->label);
            if (name) {
                printf(", \"name\": ");
                results_json_string(stdout, name);
            }
            if (d->batch >= 0) printf(", \"batch\": %lld", (long long)d->batch);
            if (r->keypoints) {
                printf(", \"keypoints\": [");
                const float *kp = r->keypoints + d->row * r->n_keypoints * 3;
                for (int64_t j = 0; j < r->n_keypoints; ++j) {
                    printf("%s[", j ? ", " : "");
                    json_number(kp[j * 3] * sc.sx);
                    printf(", ");
                    json_number(kp[j * 3 + 1] * sc.sy);
                    printf(", ");
                    json_number(kp[j * 3 + 2]);
                    printf("]");
                }
                printf("]");
            }
            printf("}");
        }
        printf("%s]\n", r->n ? "\n" : "");
    } else if (r->kind == RESULTS_CLASSES) {
        int64_t k, *ids = top_classes(r->tensor, top > 0 ? top : DEFAULT_TOP, &k);
        const float *v = r->tensor->data;
        printf("[");
        for (int64_t q = 0; q < k; ++q) {
            printf("%s\n  {\"label\": %lld, \"score\": ", q ? "," : "", (long long)ids[q]);
            json_number(v[ids[q]]);
            const char *name = labels_name(l, ids[q]);
            if (name) {
                printf(", \"name\": ");
                results_json_string(stdout, name);
            }
            printf("}");
        }
        printf("%s]\n", k ? "\n" : "");
        free(ids);
    } else {
        int64_t C = r->tensor->dims[1], hw = r->tensor->dims[2] * r->tensor->dims[3];
        int64_t *counts = malloc(sizeof *counts * (size_t)C);
        if (!counts) {
            printf("[]\n");
            return;
        }
        segmentation_counts(r->tensor, counts);
        printf("[");
        int first = 1;
        for (int64_t c = 0; c < C; ++c) {
            if (!counts[c]) continue;
            printf("%s\n  {\"label\": %lld", first ? "" : ",", (long long)c);
            const char *name = labels_name(l, c);
            if (name) {
                printf(", \"name\": ");
                results_json_string(stdout, name);
            }
            printf(", \"pixels\": %lld, \"fraction\": %.6f}", (long long)counts[c], (double)counts[c] / (double)hw);
            first = 0;
        }
        printf("%s]\n", first ? "" : "\n");
        free(counts);
    }
}

/* "ellipse" or "class 3" */
static void class_text(const labels *l, int64_t id, char *buf, size_t size) {
    const char *name = labels_name(l, id);
    if (name)
        snprintf(buf, size, "%s", name);
    else
        snprintf(buf, size, "class %lld", (long long)id);
}

void results_print_text(const results *r, const labels *l, results_scale sc, int top) {
    char cls[160];
    if (r->kind == RESULTS_DETECTIONS) {
        printf("%lld detection%s (%s):\n", (long long)r->n, r->n == 1 ? "" : "s", r->convention);
        for (int64_t k = 0; k < r->n; ++k) {
            const detection *d = &r->dets[k];
            class_text(l, d->label, cls, sizeof cls);
            printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]", cls, d->score, d->box[0] * sc.sx, d->box[1] * sc.sy,
                   d->box[2] * sc.sx, d->box[3] * sc.sy);
            if (d->batch >= 0) printf("  batch %lld", (long long)d->batch);
            printf("\n");
        }
    } else if (r->kind == RESULTS_CLASSES) {
        int64_t k, *ids = top_classes(r->tensor, top > 0 ? top : DEFAULT_TOP, &k);
        const float *v = r->tensor->data;
        printf("top-%lld of '%s':\n", (long long)k, r->name);
        for (int64_t q = 0; q < k; ++q) {
            const char *name = labels_name(l, ids[q]);
            printf("  %lld: class %lld%s%s%s  %.6f\n", (long long)q + 1, (long long)ids[q], name ? " (" : "",
                   name ? name : "", name ? ")" : "", v[ids[q]]);
        }
        free(ids);
    } else {
        int64_t C = r->tensor->dims[1], hw = r->tensor->dims[2] * r->tensor->dims[3];
        int64_t *counts = malloc(sizeof *counts * (size_t)C);
        if (!counts) return;
        segmentation_counts(r->tensor, counts);
        printf("segmentation '%s' (%lld classes, %lldx%lld); classes present:\n", r->name, (long long)C,
               (long long)r->tensor->dims[3], (long long)r->tensor->dims[2]);
        for (int64_t c = 0; c < C; ++c) {
            if (!counts[c]) continue;
            class_text(l, c, cls, sizeof cls);
            printf("  %-16s %5.1f%%\n", cls, 100.0 * (double)counts[c] / (double)hw);
        }
        free(counts);
    }
}

/* ---- drawing ---- */

static void draw_detections(canvas *cv, const results *r, const labels *l, results_scale sc) {
    int side = cv->w < cv->h ? cv->w : cv->h;
    int thick = side >= 400 ? side / 200 : 1;
    int fscale = side >= 600 ? side / 400 : 1;
    /* the first detections (the best, as NMS leaves them) are drawn last, on top */
    if (r->masks) {
        for (int64_t k = r->n - 1; k >= 0; --k) {
            const detection *d = &r->dets[k];
            if (d->batch > 0) continue;
            colour c = draw_class_colour(d->label);
            const float *m = r->masks + d->row * r->mask_h * r->mask_w;
            for (int y = 0; y < cv->h; ++y) {
                int64_t my = (int64_t)(((double)y + 0.5) * (double)r->mask_h / cv->h);
                for (int x = 0; x < cv->w; ++x) {
                    int64_t mx = (int64_t)(((double)x + 0.5) * (double)r->mask_w / cv->w);
                    if (m[my * r->mask_w + mx] >= 0.5f) draw_blend(cv, x, y, c, 0.45f);
                }
            }
        }
    }
    for (int64_t k = r->n - 1; k >= 0; --k) {
        const detection *d = &r->dets[k];
        if (d->batch > 0) continue;
        colour c = draw_class_colour(d->label);
        draw_box(cv, d->box[0] * sc.sx, d->box[1] * sc.sy, d->box[2] * sc.sx, d->box[3] * sc.sy, thick, c);
        if (r->keypoints) {
            const float *kp = r->keypoints + d->row * r->n_keypoints * 3;
            colour dark = {0, 0, 0};
            double rad = 1.5 + thick;
            for (int64_t j = 0; j < r->n_keypoints; ++j) {
                if (!(kp[j * 3 + 2] > 0)) continue;
                draw_dot(cv, kp[j * 3] * sc.sx, kp[j * 3 + 1] * sc.sy, rad + 1, dark);
                draw_dot(cv, kp[j * 3] * sc.sx, kp[j * 3 + 1] * sc.sy, rad, c);
            }
        }
    }
    for (int64_t k = r->n - 1; k >= 0; --k) {
        const detection *d = &r->dets[k];
        if (d->batch > 0 || !isfinite(d->box[0]) || !isfinite(d->box[1])) continue;
        char text[200], cls[160];
        class_text(l, d->label, cls, sizeof cls);
        snprintf(text, sizeof text, "%s %.2f", cls, d->score);
        draw_label(cv, d->box[0] * sc.sx, d->box[1] * sc.sy, text, fscale, draw_class_colour(d->label));
    }
}

static int draw_segmentation(canvas *cv, const results *r, const labels *l, char *err, size_t errsz) {
    const engine_tensor *t = r->tensor;
    int64_t C = t->dims[1], H = t->dims[2], W = t->dims[3], hw = H * W;
    const float *v = t->data;
    int64_t *counts = malloc(sizeof *counts * (size_t)C);
    if (!counts) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    segmentation_counts(t, counts);
    for (int y = 0; y < cv->h; ++y) {
        int64_t my = (int64_t)(((double)y + 0.5) * (double)H / cv->h);
        for (int x = 0; x < cv->w; ++x) {
            int64_t p = my * W + (int64_t)(((double)x + 0.5) * (double)W / cv->w), best = 0;
            for (int64_t c = 1; c < C; ++c)
                if (v[c * hw + p] > v[best * hw + p]) best = c;
            if (best) draw_blend(cv, x, y, draw_class_colour(best), 0.5f);
        }
    }
    /* a legend of the classes present, top left */
    int side = cv->w < cv->h ? cv->w : cv->h, fscale = side >= 600 ? side / 400 : 1;
    int y = 0;
    for (int64_t c = 1; c < C && y < cv->h; ++c) {
        if (!counts[c]) continue;
        char cls[160];
        class_text(l, c, cls, sizeof cls);
        int th = draw_text_height(fscale) + 3 * fscale;
        draw_label(cv, 0, y + th, cls, fscale, draw_class_colour(c));
        y += th;
    }
    free(counts);
    return 0;
}

static void draw_classes(canvas *cv, const results *r, const labels *l, int top) {
    int64_t k, *ids = top_classes(r->tensor, top > 0 ? top : 1, &k);
    const float *v = r->tensor->data;
    int side = cv->w < cv->h ? cv->w : cv->h, fscale = side >= 600 ? side / 400 : 1;
    int th = draw_text_height(fscale) + 3 * fscale;
    for (int64_t q = 0; q < k; ++q) {
        char text[200], cls[160];
        class_text(l, ids[q], cls, sizeof cls);
        snprintf(text, sizeof text, "%s %.2f", cls, v[ids[q]]);
        draw_label(cv, 0, (double)(q + 1) * th, text, fscale, draw_class_colour(ids[q]));
    }
    free(ids);
}

int results_draw(const results *r, const labels *l, results_scale sc, int top, const char *image, const char *out,
                 char *err, size_t errsz) {
    int w, h, ch;
    if (!stbi_info(image, &w, &h, &ch)) {
        snprintf(err, errsz, "%s: %s", image, stbi_failure_reason());
        return -1;
    }
    if (w <= 0 || h <= 0 || (int64_t)w * h > RESULTS_MAX_IMAGE_PIXELS) {
        snprintf(err, errsz, "%s: %dx%d pixels, more than the %lld allowed", image, w, h,
                 (long long)RESULTS_MAX_IMAGE_PIXELS);
        return -1;
    }
    canvas cv;
    cv.rgb = stbi_load(image, &cv.w, &cv.h, &ch, 3);
    if (!cv.rgb) {
        snprintf(err, errsz, "%s: %s", image, stbi_failure_reason());
        return -1;
    }
    int rc = 0;
    if (r->kind == RESULTS_DETECTIONS)
        draw_detections(&cv, r, l, sc);
    else if (r->kind == RESULTS_SEGMENTATION)
        rc = draw_segmentation(&cv, r, l, err, errsz);
    else
        draw_classes(&cv, r, l, top);
    if (rc == 0) rc = draw_write_png(&cv, out, err, errsz);
    stbi_image_free(cv.rgb);
    return rc;
}
