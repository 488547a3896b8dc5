/* draw.c - the canvas behind engine-run --draw (contracts in draw.h). */
#include "draw.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <stb_image_write.h>

/* ---- colours ---- */

colour draw_class_colour(int64_t id) {
    /* Hue steps of the golden angle keep neighbouring ids apart; saturation
     * and value alternate a little so that ids a full turn apart differ. */
    double h = fmod((double)(id < 0 ? -id : id) * 0.61803398875 + 0.08, 1.0) * 6.0;
    double s = (id & 1) ? 0.75 : 0.95, v = (id & 2) ? 0.85 : 1.0;
    int sector = (int)h;
    double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    colour c = {(uint8_t)lround(r * 255), (uint8_t)lround(g * 255), (uint8_t)lround(b * 255)};
    return c;
}

colour draw_text_colour(colour c) {
    /* Rec. 601 luma */
    double y = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
    colour black = {0, 0, 0}, white = {255, 255, 255};
    return y > 140 ? black : white;
}

/* ---- primitives ---- */

void draw_blend(canvas *cv, int x, int y, colour c, float alpha) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) return;
    uint8_t *p = cv->rgb + ((size_t)y * (size_t)cv->w + (size_t)x) * 3;
    if (alpha >= 1.0f) {
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
        return;
    }
    p[0] = (uint8_t)lrintf(p[0] + (c.r - p[0]) * alpha);
    p[1] = (uint8_t)lrintf(p[1] + (c.g - p[1]) * alpha);
    p[2] = (uint8_t)lrintf(p[2] + (c.b - p[2]) * alpha);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Rounds a coordinate to an int kept a little beyond the canvas, so that
 * huge or non-finite values cannot overflow and loops stay short. */
static int coord(double v, int limit) {
    if (!(v == v)) return -1; /* NaN */
    if (v < -2.0) return -2;
    if (v > (double)limit + 2.0) return limit + 2;
    return (int)floor(v + 0.5);
}

void draw_fill_rect(canvas *cv, int x0, int y0, int x1, int y1, colour c, float alpha) {
    x0 = clampi(x0, 0, cv->w), x1 = clampi(x1, 0, cv->w);
    y0 = clampi(y0, 0, cv->h), y1 = clampi(y1, 0, cv->h);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) draw_blend(cv, x, y, c, alpha);
}

void draw_box(canvas *cv, double bx0, double by0, double bx1, double by1, int thick, colour c) {
    int x0 = coord(bx0 < bx1 ? bx0 : bx1, cv->w), x1 = coord(bx0 < bx1 ? bx1 : bx0, cv->w);
    int y0 = coord(by0 < by1 ? by0 : by1, cv->h), y1 = coord(by0 < by1 ? by1 : by0, cv->h);
    if (thick < 1) thick = 1;
    /* A box thinner than two strokes is filled. */
    int tx = x1 - x0 < 2 * thick ? x1 - x0 + 1 : thick, ty = y1 - y0 < 2 * thick ? y1 - y0 + 1 : thick;
    draw_fill_rect(cv, x0, y0, x1 + 1, y0 + ty, c, 1.0f);     /* top */
    draw_fill_rect(cv, x0, y1 + 1 - ty, x1 + 1, y1 + 1, c, 1.0f); /* bottom */
    draw_fill_rect(cv, x0, y0, x0 + tx, y1 + 1, c, 1.0f);     /* left */
    draw_fill_rect(cv, x1 + 1 - tx, y0, x1 + 1, y1 + 1, c, 1.0f); /* right */
}

void draw_dot(canvas *cv, double x, double y, double r, colour c) {
    if (!(x == x) || !(y == y) || x < -r - 1 || y < -r - 1 || x > cv->w + r + 1 || y > cv->h + r + 1) return;
    int x0 = (int)floor(x - r), x1 = (int)ceil(x + r), y0 = (int)floor(y - r), y1 = (int)ceil(y + r);
    for (int py = y0; py <= y1; ++py)
        for (int px = x0; px <= x1; ++px) {
            double dx = px + 0.5 - x, dy = py + 0.5 - y;
            if (dx * dx + dy * dy <= r * r) draw_blend(cv, px, py, c, 1.0f);
        }
}

/* ---- the font ----
 *
 * 5 columns by up to 9 rows a glyph: rows 0-6 hold capitals and digits
 * (the baseline is under row 6), rows 7-8 the descenders of g j p q y , ;
 * Each glyph is its rows of five, '#' for ink; rows left out at the end
 * are blank. Drawn for this tool. */
#define GLYPH_W 5
#define GLYPH_H 9
#define GLYPH_ADVANCE 6 /* one blank column between glyphs */
#define LINE_H 10

static const struct glyph {
    char ch;
    const char *rows;
} glyphs[] = {
    {' ', ""},
    {'!', "..#.." "..#.." "..#.." "..#.." "..#.." "....." "..#.."},
    {'"', ".#.#." ".#.#."},
    {'#', ".#.#." ".#.#." "#####" ".#.#." "#####" ".#.#." ".#.#."},
    {'$', "..#.." ".####" "#.#.." ".###." "..#.#" "####." "..#.."},
    {'%', "##..#" "##..#" "...#." "..#.." ".#..." "#..##" "#..##"},
    {'&', ".##.." "#..#." "#.#.." ".#..." "#.#.#" "#..#." ".##.#"},
    {'\'', "..#.." "..#.."},
    {'(', "...#." "..#.." ".#..." ".#..." ".#..." "..#.." "...#."},
    {')', ".#..." "..#.." "...#." "...#." "...#." "..#.." ".#..."},
    {'*', "....." "..#.." "#.#.#" ".###." "#.#.#" "..#.."},
    {'+', "....." "..#.." "..#.." "#####" "..#.." "..#.."},
    {',', "....." "....." "....." "....." "....." ".##.." "..#.." ".#..."},
    {'-', "....." "....." "....." "#####"},
    {'.', "....." "....." "....." "....." "....." ".##.." ".##.."},
    {'/', "....#" "....#" "...#." "..#.." ".#..." "#...." "#...."},
    {'0', ".###." "#...#" "#..##" "#.#.#" "##..#" "#...#" ".###."},
    {'1', "..#.." ".##.." "..#.." "..#.." "..#.." "..#.." ".###."},
    {'2', ".###." "#...#" "....#" "...#." "..#.." ".#..." "#####"},
    {'3', "#####" "...#." "..#.." "...#." "....#" "#...#" ".###."},
    {'4', "...#." "..##." ".#.#." "#..#." "#####" "...#." "...#."},
    {'5', "#####" "#...." "####." "....#" "....#" "#...#" ".###."},
    {'6', "..##." ".#..." "#...." "####." "#...#" "#...#" ".###."},
    {'7', "#####" "....#" "...#." "..#.." ".#..." ".#..." ".#..."},
    {'8', ".###." "#...#" "#...#" ".###." "#...#" "#...#" ".###."},
    {'9', ".###." "#...#" "#...#" ".####" "....#" "...#." ".##.."},
    {':', "....." ".##.." ".##.." "....." ".##.." ".##.."},
    {';', "....." ".##.." ".##.." "....." ".##.." ".##.." "..#.." ".#..."},
    {'<', "...#." "..#.." ".#..." "#...." ".#..." "..#.." "...#."},
    {'=', "....." "....." "#####" "....." "#####"},
    {'>', ".#..." "..#.." "...#." "....#" "...#." "..#.." ".#..."},
    {'?', ".###." "#...#" "....#" "...#." "..#.." "....." "..#.."},
    {'@', ".###." "#...#" "#.###" "#.#.#" "#.###" "#...." ".###."},
    {'A', ".###." "#...#" "#...#" "#####" "#...#" "#...#" "#...#"},
    {'B', "####." "#...#" "#...#" "####." "#...#" "#...#" "####."},
    {'C', ".###." "#...#" "#...." "#...." "#...." "#...#" ".###."},
    {'D', "####." "#...#" "#...#" "#...#" "#...#" "#...#" "####."},
    {'E', "#####" "#...." "#...." "####." "#...." "#...." "#####"},
    {'F', "#####" "#...." "#...." "####." "#...." "#...." "#...."},
    {'G', ".###." "#...#" "#...." "#.###" "#...#" "#...#" ".####"},
    {'H', "#...#" "#...#" "#...#" "#####" "#...#" "#...#" "#...#"},
    {'I', ".###." "..#.." "..#.." "..#.." "..#.." "..#.." ".###."},
    {'J', "..###" "...#." "...#." "...#." "...#." "#..#." ".##.."},
    {'K', "#...#" "#..#." "#.#.." "##..." "#.#.." "#..#." "#...#"},
    {'L', "#...." "#...." "#...." "#...." "#...." "#...." "#####"},
    {'M', "#...#" "##.##" "#.#.#" "#.#.#" "#...#" "#...#" "#...#"},
    {'N', "#...#" "#...#" "##..#" "#.#.#" "#..##" "#...#" "#...#"},
    {'O', ".###." "#...#" "#...#" "#...#" "#...#" "#...#" ".###."},
    {'P', "####." "#...#" "#...#" "####." "#...." "#...." "#...."},
    {'Q', ".###." "#...#" "#...#" "#...#" "#.#.#" "#..#." ".##.#"},
    {'R', "####." "#...#" "#...#" "####." "#.#.." "#..#." "#...#"},
    {'S', ".####" "#...." "#...." ".###." "....#" "....#" "####."},
    {'T', "#####" "..#.." "..#.." "..#.." "..#.." "..#.." "..#.."},
    {'U', "#...#" "#...#" "#...#" "#...#" "#...#" "#...#" ".###."},
    {'V', "#...#" "#...#" "#...#" "#...#" "#...#" ".#.#." "..#.."},
    {'W', "#...#" "#...#" "#...#" "#.#.#" "#.#.#" "#.#.#" ".#.#."},
    {'X', "#...#" "#...#" ".#.#." "..#.." ".#.#." "#...#" "#...#"},
    {'Y', "#...#" "#...#" ".#.#." "..#.." "..#.." "..#.." "..#.."},
    {'Z', "#####" "....#" "...#." "..#.." ".#..." "#...." "#####"},
    {'[', ".###." ".#..." ".#..." ".#..." ".#..." ".#..." ".###."},
    {']', ".###." "...#." "...#." "...#." "...#." "...#." ".###."},
    {'_', "....." "....." "....." "....." "....." "....." "#####"},
    {'a', "....." "....." ".###." "....#" ".####" "#...#" ".####"},
    {'b', "#...." "#...." "####." "#...#" "#...#" "#...#" "####."},
    {'c', "....." "....." ".###." "#...." "#...." "#...#" ".###."},
    {'d', "....#" "....#" ".####" "#...#" "#...#" "#...#" ".####"},
    {'e', "....." "....." ".###." "#...#" "#####" "#...." ".###."},
    {'f', "..##." ".#..#" ".#..." "###.." ".#..." ".#..." ".#..."},
    {'g', "....." "....." ".####" "#...#" "#...#" "#...#" ".####" "....#" ".###."},
    {'h', "#...." "#...." "#.##." "##..#" "#...#" "#...#" "#...#"},
    {'i', "..#.." "....." ".##.." "..#.." "..#.." "..#.." ".###."},
    {'j', "...#." "....." "..##." "...#." "...#." "...#." "...#." "#..#." ".##.."},
    {'k', "#...." "#...." "#..#." "#.#.." "##..." "#.#.." "#..#."},
    {'l', ".##.." "..#.." "..#.." "..#.." "..#.." "..#.." ".###."},
    {'m', "....." "....." "##.#." "#.#.#" "#.#.#" "#.#.#" "#.#.#"},
    {'n', "....." "....." "#.##." "##..#" "#...#" "#...#" "#...#"},
    {'o', "....." "....." ".###." "#...#" "#...#" "#...#" ".###."},
    {'p', "....." "....." "####." "#...#" "#...#" "#...#" "####." "#...." "#...."},
    {'q', "....." "....." ".####" "#...#" "#...#" "#...#" ".####" "....#" "....#"},
    {'r', "....." "....." "#.##." "##..#" "#...." "#...." "#...."},
    {'s', "....." "....." ".####" "#...." ".###." "....#" "####."},
    {'t', ".#..." ".#..." "###.." ".#..." ".#..." ".#..#" "..##."},
    {'u', "....." "....." "#...#" "#...#" "#...#" "#..##" ".##.#"},
    {'v', "....." "....." "#...#" "#...#" "#...#" ".#.#." "..#.."},
    {'w', "....." "....." "#...#" "#...#" "#.#.#" "#.#.#" ".#.#."},
    {'x', "....." "....." "#...#" ".#.#." "..#.." ".#.#." "#...#"},
    {'y', "....." "....." "#...#" "#...#" "#...#" "#...#" ".####" "....#" ".###."},
    {'z', "....." "....." "#####" "...#." "..#.." ".#..." "#####"},
    {'|', "..#.." "..#.." "..#.." "..#.." "..#.." "..#.." "..#.."},
};

static const char *glyph_rows(unsigned char ch) {
    for (size_t k = 0; k < sizeof glyphs / sizeof glyphs[0]; ++k)
        if ((unsigned char)glyphs[k].ch == ch) return glyphs[k].rows;
    return NULL;
}

int draw_text_width(const char *text, int scale) {
    size_t n = strlen(text);
    return n ? (int)n * GLYPH_ADVANCE * scale - scale : 0;
}

int draw_text_height(int scale) { return GLYPH_H * scale; }

void draw_text(canvas *cv, int x, int y, const char *text, int scale, colour c) {
    if (scale < 1) scale = 1;
    for (; *text; ++text, x += GLYPH_ADVANCE * scale) {
        if (x >= cv->w) break;
        const char *rows = glyph_rows((unsigned char)*text);
        if (!rows) rows = glyph_rows('?');
        size_t len = strlen(rows);
        for (size_t k = 0; k < len && k < (size_t)(GLYPH_W * GLYPH_H); ++k) {
            if (rows[k] != '#') continue;
            int gx = x + (int)(k % GLYPH_W) * scale, gy = y + (int)(k / GLYPH_W) * scale;
            draw_fill_rect(cv, gx, gy, gx + scale, gy + scale, c, 1.0f);
        }
    }
}

void draw_label(canvas *cv, double px, double py, const char *text, int scale, colour bg) {
    int pad = scale;
    int tw = draw_text_width(text, scale) + 2 * pad, th = (LINE_H - 1) * scale + 2 * pad;
    int x = coord(px, cv->w), y = coord(py, cv->h) - th;
    if (y < 0) y = coord(py, cv->h); /* no room above: inside the box, at its top */
    if (x + tw > cv->w) x = cv->w - tw;
    if (x < 0) x = 0;
    if (y + th > cv->h) y = cv->h - th;
    if (y < 0) y = 0;
    draw_fill_rect(cv, x, y, x + tw, y + th, bg, 0.85f);
    draw_text(cv, x + pad, y + pad, text, scale, draw_text_colour(bg));
}

/* ---- PNG ---- */

typedef struct png_sink {
    FILE *f;
    int failed;
} png_sink;

static void png_write(void *context, void *data, int size) {
    png_sink *s = context;
    if (!s->failed && size > 0 && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->failed = errno ? errno : EIO;
}

int draw_write_png(const canvas *cv, const char *path, char *err, size_t errsz) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errsz, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    png_sink sink = {f, 0};
    errno = 0;
    int ok = stbi_write_png_to_func(png_write, &sink, cv->w, cv->h, 3, cv->rgb, cv->w * 3);
    int close_failed = fclose(f) != 0;
    if (!ok || sink.failed || close_failed) {
        int e = sink.failed ? sink.failed : errno;
        snprintf(err, errsz, "cannot write '%s': %s", path, !ok ? "PNG encoding failed (out of memory?)" : strerror(e ? e : EIO));
        remove(path);
        return -1;
    }
    return 0;
}
