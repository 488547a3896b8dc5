/* results.h - what engine-run makes of a model's outputs for people:
 * class names (--labels), detections, segmentations and top-k classes as
 * JSON (--json) or text, and drawn over the input image (--draw).
 *
 * The conventions recognised (README.md, "engine-run"; docs/CLI.md):
 *
 *  - torchvision-style detections: boxes float [N,4] (x1,y1,x2,y2), scores
 *    float [N], labels int64/int32 [N], optionally masks float [N,1,H,W]
 *    (probabilities, drawn where >= 0.5) and keypoints float [N,K,3]
 *    (x, y, visibility). Found by output name (boxes, scores, labels,
 *    masks, keypoints; other outputs are ignored) or, when no output has
 *    those names, by rank, shape and dtype alone.
 *  - YOLO-style detections with NMS in the graph: one float output [N,6]
 *    or [1,N,6], each row x1,y1,x2,y2,score,class; or [N,7] / [1,N,7],
 *    each row batch,x1,y1,x2,y2,class,score (YOLOv7's end-to-end export).
 *    A rank-2 output whose first dim the model fixes at 1 is a classifier's.
 *  - a segmentation: the first output float [1,C,H,W], C >= 2, H*W > 1;
 *    the class of a pixel is its argmax; class 0 is background.
 *  - a classifier: the first output float with one dim > 1 (1xN, N, ...).
 *
 * Anything else is refused with a message naming what was seen. */
#ifndef ENGINE_TOOLS_RESULTS_H
#define ENGINE_TOOLS_RESULTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "engine/engine.h"

/* Class names from a file, one a line (line k, from 0, names class k). */
typedef struct labels {
    char **names;
    int count;
    char *text; /* the file's bytes, which names point into */
} labels;

/* Reads FILE into l; 0, or -1 with a message in err. Files above 16 MiB
 * are refused before anything is allocated. */
int labels_load(labels *l, const char *path, char *err, size_t errsz);
void labels_free(labels *l);
/* The name of class id, or NULL when there is none. */
const char *labels_name(const labels *l, int64_t id);

typedef enum results_kind { RESULTS_DETECTIONS, RESULTS_SEGMENTATION, RESULTS_CLASSES } results_kind;

typedef struct detection {
    double box[4]; /* x1,y1,x2,y2 in the network input's pixels */
    double score;
    int64_t label;
    int64_t batch; /* -1 when the output has no batch column */
    int64_t row;   /* the detection's row in the outputs (masks, keypoints) */
} detection;

typedef struct results {
    results_kind kind;
    const char *convention; /* in words, for the text report */
    /* detections */
    detection *dets;
    int64_t n;
    const float *masks; /* [n,1,mask_h,mask_w] or NULL */
    int64_t mask_h, mask_w;
    const float *keypoints; /* [n,n_keypoints,3] or NULL */
    int64_t n_keypoints;
    /* segmentation and classes: the output read */
    const engine_tensor *tensor;
    const char *name;
} results;

/* Reads the outputs of a run (tensors and their names; declared: what the
 * model file declares of each, for its fixed dims) as one of the conventions
 * above. want_classes: read the first output as a classifier's, whatever
 * it holds (--top). 0, or -1 with a one-line message in err. */
int results_read(results *r, const engine_tensor *outs, const char *const *names, const engine_tensor_info *declared,
                 int n_out, int want_classes, char *err, size_t errsz);
void results_free(results *r);

/* Where --image resized: coordinates in the network input times (sx, sy)
 * are the original image's. */
typedef struct results_scale {
    double sx, sy;
} results_scale;

/* s as a JSON string (quoted, escaped) on f. */
void results_json_string(FILE *f, const char *s);

/* JSON on stdout: a list of {"box","score","label","name"[,"keypoints"][,"batch"]}
 * for detections (boxes mapped by scale), of {"label","score","name"} for
 * the top-k classes, of {"label","name","pixels","fraction"} for the classes
 * a segmentation holds. */
void results_print_json(const results *r, const labels *l, results_scale scale, int top);
/* The same as text for people. */
void results_print_text(const results *r, const labels *l, results_scale scale, int top);

/* Draws the results over the image file `image` at its own size (boxes
 * and keypoints mapped by scale, masks and segmentations stretched to it)
 * and writes the PNG `out`. 0, or -1 with a one-line message in err. */
int results_draw(const results *r, const labels *l, results_scale scale, int top, const char *image, const char *out,
                 char *err, size_t errsz);

/* Images larger than this many pixels are refused before decoding. */
#define RESULTS_MAX_IMAGE_PIXELS ((int64_t)1 << 27)

#endif
