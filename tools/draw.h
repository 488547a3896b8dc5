/* draw.h - a small RGB canvas for engine-run --draw: box outlines, filled
 * rectangles, dots, translucent fills, text in a built-in 5x7 bitmap font,
 * and PNG output (through stb_image_write).
 *
 * Coordinates are pixels of the canvas; everything is clipped to it, so
 * callers may pass boxes that stick out (or lie wholly outside). */
#ifndef ENGINE_TOOLS_DRAW_H
#define ENGINE_TOOLS_DRAW_H

#include <stddef.h>
#include <stdint.h>

typedef struct canvas {
    int w, h;
    uint8_t *rgb; /* w * h * 3, row-major; owned by the caller */
} canvas;

typedef struct colour {
    uint8_t r, g, b;
} colour;

/* A colour per class id, spread around the hue wheel (stable per id). */
colour draw_class_colour(int64_t id);
/* Black or white, whichever reads better on c. */
colour draw_text_colour(colour c);

/* Blends c over pixel (x, y) with opacity alpha in [0,1]; outside is ignored. */
void draw_blend(canvas *cv, int x, int y, colour c, float alpha);
/* A filled rectangle [x0,x1) x [y0,y1), opacity alpha. */
void draw_fill_rect(canvas *cv, int x0, int y0, int x1, int y1, colour c, float alpha);
/* The outline of the box with corners (x0,y0), (x1,y1), `thick` pixels
 * wide, drawn inward from the box's edge. */
void draw_box(canvas *cv, double x0, double y0, double x1, double y1, int thick, colour c);
/* A filled disc of radius r centred on (x, y). */
void draw_dot(canvas *cv, double x, double y, double r, colour c);

/* Text in the built-in font, each font pixel drawn as scale x scale; the top
 * left of the first glyph cell at (x, y). Characters without a glyph are
 * drawn as '?'; '\n' is not special. */
void draw_text(canvas *cv, int x, int y, const char *text, int scale, colour c);
/* The size draw_text gives text at scale (one line). */
int draw_text_width(const char *text, int scale);
int draw_text_height(int scale);
/* A label: text in a filled box of colour bg, placed above the point
 * (x, y) (or below it when there is no room above), kept on the canvas. */
void draw_label(canvas *cv, double x, double y, const char *text, int scale, colour bg);

/* Writes the canvas as an 8-bit RGB PNG. 0 on success; -1 with a message
 * (naming the path and the reason) in err otherwise. */
int draw_write_png(const canvas *cv, const char *path, char *err, size_t errsz);

#endif
