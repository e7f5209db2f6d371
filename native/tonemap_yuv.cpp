// Fused HDR10 -> SDR / lower-peak HDR10 tone mapping on 4:2:0 Y'CbCr planes (the CPU hot path).
//
// One pass per pair of luma rows; every 2x2 luma block shares one chroma sample:
//
//   codes -> Y'CbCr -> R'G'B' (clamped 0-1) -> linear light through the EOTF table
//   -> gain = curve table at max(R', G', B') (= PQ of max(R, G, B)) or at the 4th root of
//      the luminance -> RGB * gain (hue kept) -> above the peak: toward the grey of the
//      luminance -> 3x3 primaries matrix -> negative: clip (left to the OETF's clamp) or
//      toward the grey of the luminance -> OETF table at sqrt (SDR) or 4th root (PQ) of
//      L / peak -> Y' per pixel, Cb/Cr from the mean of the block's four R'G'B' -> code
//      values, optional dither, round half up, clamp, write.
//
// Every table and constant is built in Python (hdrvideo/ops/fused.py) and handed over as
// float32, so the pure-torch path computes the same float32 numbers in the same order.
// The floating-point expressions below are written in the order the torch path evaluates
// them; do not "simplify" them (no FMA contraction: see CMakeLists.txt, -ffp-contract=off).
//
// Tables are (n, 2) float32 arrays of (value at the left end, slope to the next entry):
// for x in [0, 1], p = x * n, i = min(int(p), n - 1), f = p - i, value = T[i,0] + f * T[i,1].

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "kernel_common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

// The per-pixel chain has a scalar version (the reference, any CPU) and an AVX2 version
// (8 pixels at a time with gathers) chosen at run time from CPUID (kernel_common.h: HDRV_AVX2,
// HDRV_TARGET_AVX2, cpu_has_avx2, lookup8, clamp01_8). Both evaluate the same IEEE float32
// operations in the same order: AVX2 does not enable FMA, and vector min/max/blend agree
// with the scalar ternaries for every non-NaN value.

namespace {

using namespace hdrv_common;  // Table, lookup, check_table, clamp01, lowbias32, tpdf_noise

// Layout of the float32 coefficient vector; must match ``COEFFICIENTS`` in hdrvideo/ops/fused.py.
enum Coeff : int {
    IN_Y_OFF, IN_Y_SCALE, IN_C_OFF, IN_C_SCALE,        // Y' = (D - off) * scale, C likewise
    IN_CR_R, IN_CB_G, IN_CR_G, IN_CB_B,                // R' = Y' + a Cr, G' = Y' + b Cb + c Cr, B' = Y' + d Cb
    IN_LUM_R, IN_LUM_G, IN_LUM_B,                      // luminance weights of the input primaries
    CURVE_INV_SCALE,                                   // luminance intensity: u = (Y * this)^(1/4)
    M00, M01, M02, M10, M11, M12, M20, M21, M22,       // linear primaries matrix (row-major)
    OUT_LUM_R, OUT_LUM_G, OUT_LUM_B,                   // luminance weights of the output primaries
    PEAK_NITS,                                         // display peak, cd/m²
    GAMUT_HIGH_NITS,                                   // peak * (1 + dead band): above, toward grey
    OETF_INV_SCALE,                                    // OETF table index = (L * this)^(1/2 or 1/4)
    OUT_Y_R, OUT_Y_G, OUT_Y_B,                         // output Y'CbCr matrix rows
    OUT_CB_R, OUT_CB_G, OUT_CB_B,
    OUT_CR_R, OUT_CR_G, OUT_CR_B,
    OUT_Y_SCALE, OUT_Y_OFF, OUT_C_SCALE, OUT_C_OFF,    // code = value * scale + off
    OUT_MAX_CODE,
    N_COEFFS
};

enum Dither : int { DITHER_NONE = 0, DITHER_ORDERED = 1, DITHER_TPDF = 2 };

// 8x8 Bayer matrix (recursive construction); noise = (b + 0.5) / 64 - 0.5 code values.
constexpr int kBayer8[64] = {
    0,  32, 8,  40, 2,  34, 10, 42,
    48, 16, 56, 24, 50, 18, 58, 26,
    12, 44, 4,  36, 14, 46, 6,  38,
    60, 28, 52, 20, 62, 30, 54, 22,
    3,  35, 11, 43, 1,  33, 9,  41,
    51, 19, 59, 27, 49, 17, 57, 25,
    15, 47, 7,  39, 13, 45, 5,  37,
    63, 31, 55, 23, 61, 29, 53, 21,
};

HDRV_INLINE float ordered_noise(uint32_t x, uint32_t y) {
    const int b = kBayer8[(y & 7U) * 8U + (x & 7U)];
    return (float)(2 * b + 1) * (1.0f / 128.0f) - 0.5f;
}

struct Job {
    // planes
    const uint16_t* y; const uint16_t* u; const uint16_t* v;
    ptrdiff_t ys, us, vs;          // row strides in elements
    void* yo; void* uo; void* vo;
    ptrdiff_t yos, uos, vos;
    int width, height;
    // tables and constants
    Table eotf, curve, oetf;
    float k[N_COEFFS];
    int dither;
    uint32_t key;
    bool avx2;
    bool desaturate;
    bool bilinear;  // chroma: bilinear up / [1,2,1] down (else 2x2 blocks)
};

constexpr int kTile = 128;  // chroma columns per tile (256 luma pixels per row)

// The per-pixel chain, from Y' and the block's chroma terms to output R'G'B' (scalar).
template <bool LUMINANCE, bool ROOT4>
HDRV_INLINE void map_pixel(const Job& j, float yv, float dr, float dg, float db, float& ro, float& go, float& bo) {
    const float* k = j.k;
    const float rn = clamp01(yv + dr);
    const float gn = clamp01(yv + dg);
    const float bn = clamp01(yv + db);
    float r = lookup(j.eotf, rn);
    float g = lookup(j.eotf, gn);
    float b = lookup(j.eotf, bn);
    float gain;
    if (LUMINANCE) {
        const float lum = (k[IN_LUM_R] * r + k[IN_LUM_G] * g) + k[IN_LUM_B] * b;
        const float s = clamp01(lum * k[CURVE_INV_SCALE]);
        gain = lookup(j.curve, std::sqrt(std::sqrt(s)));
    } else {
        gain = lookup(j.curve, std::max(std::max(rn, gn), bn));
    }
    r = r * gain;
    g = g * gain;
    b = b * gain;
    // Above the peak (beyond the dead band GAMUT_HIGH_NITS; only the luminance intensity
    // gets there): move toward the grey of the BT.2020 luminance, clamped to [0, peak],
    // just enough that the largest channel is the peak (Tonemap's fit_toward_grey).
    const float peak = k[PEAK_NITS];
    const float mx = std::max(std::max(r, g), b);
    if (mx > k[GAMUT_HIGH_NITS]) {
        const float lum = (k[IN_LUM_R] * r + k[IN_LUM_G] * g) + k[IN_LUM_B] * b;
        const float grey = std::min(std::max(lum, 0.0f), peak);
        const float t = std::min(std::max((peak - grey) / (mx - grey), 0.0f), 1.0f);
        r = grey + t * (r - grey);
        g = grey + t * (g - grey);
        b = grey + t * (b - grey);
    }
    float r3 = (k[M00] * r + k[M01] * g) + k[M02] * b;
    float g3 = (k[M10] * r + k[M11] * g) + k[M12] * b;
    float b3 = (k[M20] * r + k[M21] * g) + k[M22] * b;
    // Out of the output gamut (a negative channel after the primaries matrix): "clip" leaves
    // it to the OETF's clamp (as the writer clips); "desaturate" moves toward the grey of
    // the luminance until the smallest channel is 0 (gamut=mode=desaturate).
    const float mn = std::min(std::min(r3, g3), b3);
    if (j.desaturate && mn < 0.0f) {
        const float lum = (k[OUT_LUM_R] * r3 + k[OUT_LUM_G] * g3) + k[OUT_LUM_B] * b3;
        const float grey = std::max(lum, 0.0f);
        const float t = std::min(std::max(grey / (grey - mn), 0.0f), 1.0f);
        r3 = grey + t * (r3 - grey);
        g3 = grey + t * (g3 - grey);
        b3 = grey + t * (b3 - grey);
    }
    const float oinv = k[OETF_INV_SCALE];
    float sr = std::sqrt(clamp01(r3 * oinv));
    float sg = std::sqrt(clamp01(g3 * oinv));
    float sb = std::sqrt(clamp01(b3 * oinv));
    if (ROOT4) {
        sr = std::sqrt(sr);
        sg = std::sqrt(sg);
        sb = std::sqrt(sb);
    }
    ro = lookup(j.oetf, sr);
    go = lookup(j.oetf, sg);
    bo = lookup(j.oetf, sb);
}

// One tile row: yv, dr, dg, db (chroma terms already repeated per pixel) -> ro, go, bo.
template <bool LUMINANCE, bool ROOT4>
HDRV_INLINE void map_pixels_scalar(const Job& j, int from, int count, const float* yv, const float* dr,
                                   const float* dg, const float* db, float* ro, float* go, float* bo) {
    for (int x = from; x < count; ++x) map_pixel<LUMINANCE, ROOT4>(j, yv[x], dr[x], dg[x], db[x], ro[x], go[x], bo[x]);
}

template <typename Out>
HDRV_INLINE void quantise_row_scalar(const float* q, int from, int count, Out* out, float top, int dither,
                                     uint32_t key, uint32_t index0, uint32_t x0, uint32_t row) {
    for (int x = from; x < count; ++x) {
        float v = q[x];
        if (dither == DITHER_ORDERED) v = v + ordered_noise(x0 + (uint32_t)x, row);
        else if (dither == DITHER_TPDF) v = v + tpdf_noise(key, index0 + (uint32_t)x);
        v = std::min(std::max(v, 0.0f), top);
        out[x] = (Out)(int)(v + 0.5f);
    }
}

#if HDRV_AVX2
HDRV_TARGET_AVX2 HDRV_INLINE __m256 dot3(__m256 a, __m256 b, __m256 c, float ka, float kb, float kc) {
    // (ka * a + kb * b) + kc * c, as the scalar code rounds it
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(ka), a), _mm256_mul_ps(_mm256_set1_ps(kb), b)),
                         _mm256_mul_ps(_mm256_set1_ps(kc), c));
}

// The same chain 8 pixels at a time, split into three passes over the tile row. Each pass
// has a short dependency chain per iteration, so the out-of-order core overlaps several
// iterations and hides the latency of the gathers (one long loop body was latency bound).
template <bool LUMINANCE, bool ROOT4>
HDRV_TARGET_AVX2 void map_pixels_avx2(const Job& j, int count, const float* yv, const float* dr, const float* dg,
                                      const float* db, float* ro, float* go, float* bo) {
    const float* k = j.k;
    const __m256 zero = _mm256_setzero_ps();
    const __m256 peak = _mm256_set1_ps(k[PEAK_NITS]);
    const __m256 gamut_high = _mm256_set1_ps(k[GAMUT_HIGH_NITS]), oinv = _mm256_set1_ps(k[OETF_INV_SCALE]);
    const int n8 = count & ~7;
    alignas(32) float index[2 * kTile];
    // Pass 1: R'G'B' -> linear light, and the curve table's index.
    for (int x = 0; x < n8; x += 8) {
        const __m256 y8 = _mm256_loadu_ps(yv + x);
        const __m256 rn = clamp01_8(_mm256_add_ps(y8, _mm256_loadu_ps(dr + x)));
        const __m256 gn = clamp01_8(_mm256_add_ps(y8, _mm256_loadu_ps(dg + x)));
        const __m256 bn = clamp01_8(_mm256_add_ps(y8, _mm256_loadu_ps(db + x)));
        const __m256 r = lookup8(j.eotf, rn);
        const __m256 g = lookup8(j.eotf, gn);
        const __m256 b = lookup8(j.eotf, bn);
        __m256 s;
        if (LUMINANCE) {
            const __m256 lum = dot3(r, g, b, k[IN_LUM_R], k[IN_LUM_G], k[IN_LUM_B]);
            s = clamp01_8(_mm256_mul_ps(lum, _mm256_set1_ps(k[CURVE_INV_SCALE])));
            s = _mm256_sqrt_ps(_mm256_sqrt_ps(s));
        } else {
            s = _mm256_max_ps(_mm256_max_ps(rn, gn), bn);
        }
        _mm256_store_ps(index + x, s);
        _mm256_storeu_ps(ro + x, r);
        _mm256_storeu_ps(go + x, g);
        _mm256_storeu_ps(bo + x, b);
    }
    // Pass 2: gain, primaries, gamut fallback, and the OETF table's index.
    for (int x = 0; x < n8; x += 8) {
        const __m256 gain = lookup8(j.curve, _mm256_load_ps(index + x));
        __m256 r = _mm256_mul_ps(_mm256_loadu_ps(ro + x), gain);
        __m256 g = _mm256_mul_ps(_mm256_loadu_ps(go + x), gain);
        __m256 b = _mm256_mul_ps(_mm256_loadu_ps(bo + x), gain);
        const __m256 mx = _mm256_max_ps(_mm256_max_ps(r, g), b);
        const __m256 high = _mm256_cmp_ps(mx, gamut_high, _CMP_GT_OQ);
        if (_mm256_movemask_ps(high)) {  // other lanes keep their values exactly
            const __m256 lum = dot3(r, g, b, k[IN_LUM_R], k[IN_LUM_G], k[IN_LUM_B]);
            const __m256 grey = _mm256_min_ps(_mm256_max_ps(lum, zero), peak);
            const __m256 t = clamp01_8(_mm256_div_ps(_mm256_sub_ps(peak, grey), _mm256_sub_ps(mx, grey)));
            r = _mm256_blendv_ps(r, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(r, grey))), high);
            g = _mm256_blendv_ps(g, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(g, grey))), high);
            b = _mm256_blendv_ps(b, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(b, grey))), high);
        }
        __m256 r3 = dot3(r, g, b, k[M00], k[M01], k[M02]);
        __m256 g3 = dot3(r, g, b, k[M10], k[M11], k[M12]);
        __m256 b3 = dot3(r, g, b, k[M20], k[M21], k[M22]);
        if (j.desaturate) {
            const __m256 mn = _mm256_min_ps(_mm256_min_ps(r3, g3), b3);
            const __m256 low = _mm256_cmp_ps(mn, zero, _CMP_LT_OQ);
            if (_mm256_movemask_ps(low)) {
                const __m256 lum = dot3(r3, g3, b3, k[OUT_LUM_R], k[OUT_LUM_G], k[OUT_LUM_B]);
                const __m256 grey = _mm256_max_ps(lum, zero);
                const __m256 t = clamp01_8(_mm256_div_ps(grey, _mm256_sub_ps(grey, mn)));
                r3 = _mm256_blendv_ps(r3, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(r3, grey))), low);
                g3 = _mm256_blendv_ps(g3, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(g3, grey))), low);
                b3 = _mm256_blendv_ps(b3, _mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(b3, grey))), low);
            }
        }
        __m256 sr = _mm256_sqrt_ps(clamp01_8(_mm256_mul_ps(r3, oinv)));
        __m256 sg = _mm256_sqrt_ps(clamp01_8(_mm256_mul_ps(g3, oinv)));
        __m256 sb = _mm256_sqrt_ps(clamp01_8(_mm256_mul_ps(b3, oinv)));
        if (ROOT4) {
            sr = _mm256_sqrt_ps(sr);
            sg = _mm256_sqrt_ps(sg);
            sb = _mm256_sqrt_ps(sb);
        }
        _mm256_storeu_ps(ro + x, sr);
        _mm256_storeu_ps(go + x, sg);
        _mm256_storeu_ps(bo + x, sb);
    }
    // Pass 3: the OETF.
    for (int x = 0; x < n8; x += 8) {
        _mm256_storeu_ps(ro + x, lookup8(j.oetf, _mm256_loadu_ps(ro + x)));
        _mm256_storeu_ps(go + x, lookup8(j.oetf, _mm256_loadu_ps(go + x)));
        _mm256_storeu_ps(bo + x, lookup8(j.oetf, _mm256_loadu_ps(bo + x)));
    }
    map_pixels_scalar<LUMINANCE, ROOT4>(j, n8, count, yv, dr, dg, db, ro, go, bo);
}

// quantise_row (below) 8 samples at a time; the same arithmetic, so the same codes.
template <typename Out>
HDRV_TARGET_AVX2 void quantise_row_avx2(const float* q, int count, Out* out, float top, int dither, uint32_t key,
                                        uint32_t index0, uint32_t x0, uint32_t row) {
    const __m256 zero = _mm256_setzero_ps(), vtop = _mm256_set1_ps(top), half = _mm256_set1_ps(0.5f);
    __m256 ordered = zero;
    if (dither == DITHER_ORDERED) {
        alignas(32) float n[8];
        for (int i = 0; i < 8; ++i) n[i] = ordered_noise(x0 + (uint32_t)i, row);
        ordered = _mm256_load_ps(n);
    }
    // The ordered pattern repeats every 8 samples only when x0 is a multiple of 8.
    const int n8 = (dither != DITHER_ORDERED || (x0 & 7U) == 0) ? (count & ~7) : 0;
    for (int x = 0; x < n8; x += 8) {
        __m256 v = _mm256_loadu_ps(q + x);
        if (dither == DITHER_ORDERED) {
            v = _mm256_add_ps(v, ordered);
        } else if (dither == DITHER_TPDF) {
            v = _mm256_add_ps(v, tpdf_noise8(key, index0 + (uint32_t)x));
        }
        v = _mm256_min_ps(_mm256_max_ps(v, zero), vtop);
        store8(out + x, _mm256_cvttps_epi32(_mm256_add_ps(v, half)));
    }
    quantise_row_scalar<Out>(q, n8, count, out, top, dither, key, index0, x0, row);
}
#endif

// Dither, round half up, clamp and store one row of code values.
template <typename Out>
HDRV_INLINE void quantise_row(const Job& j, const float* q, int count, Out* out, uint32_t index0, uint32_t x0,
                              uint32_t row) {
    const float top = j.k[OUT_MAX_CODE];
#if HDRV_AVX2
    if (j.avx2) return quantise_row_avx2<Out>(q, count, out, top, j.dither, j.key, index0, x0, row);
#endif
    quantise_row_scalar<Out>(q, 0, count, out, top, j.dither, j.key, index0, x0, row);
}

template <typename Out, bool LUMINANCE, bool ROOT4>
void process_row_pair(const Job& j, int pair) {
    const float* k = j.k;
    const int W = j.width, H = j.height, Wc = W / 2, Hc = H / 2;
    const int row0 = 2 * pair;
    const uint16_t* yin[2] = {j.y + (ptrdiff_t)row0 * j.ys, j.y + (ptrdiff_t)(row0 + 1) * j.ys};
    const uint16_t* uin = j.u + (ptrdiff_t)pair * j.us;
    const uint16_t* vin = j.v + (ptrdiff_t)pair * j.vs;
    Out* yout[2] = {static_cast<Out*>(j.yo) + (ptrdiff_t)row0 * j.yos,
                    static_cast<Out*>(j.yo) + (ptrdiff_t)(row0 + 1) * j.yos};
    Out* uout = static_cast<Out*>(j.uo) + (ptrdiff_t)pair * j.uos;
    Out* vout = static_cast<Out*>(j.vo) + (ptrdiff_t)pair * j.vos;

    const float yoff = k[IN_Y_OFF], yscale = k[IN_Y_SCALE], coff = k[IN_C_OFF], cscale = k[IN_C_SCALE];
    const float a_rr = k[IN_CR_R], a_bg = k[IN_CB_G], a_rg = k[IN_CR_G], a_bb = k[IN_CB_B];
    const float yr = k[OUT_Y_R], yg = k[OUT_Y_G], yb = k[OUT_Y_B];
    const float cbr = k[OUT_CB_R], cbg = k[OUT_CB_G], cbb = k[OUT_CB_B];
    const float crr = k[OUT_CR_R], crg = k[OUT_CR_G], crb = k[OUT_CR_B];
    const float oys = k[OUT_Y_SCALE], oyo = k[OUT_Y_OFF], ocs = k[OUT_C_SCALE], oco = k[OUT_C_OFF];
    const uint32_t plane = (uint32_t)W * (uint32_t)H;
    const uint32_t cplane = (uint32_t)Wc * (uint32_t)Hc;

    alignas(64) float dr[2][2 * kTile], dg[2][2 * kTile], db[2][2 * kTile];
    alignas(64) float yv[2 * kTile], q[2 * kTile];
    alignas(64) float ro[2][2 * kTile], go[2][2 * kTile], bo[2][2 * kTile];
    alignas(64) float qb[kTile], qr[kTile];

    // Bilinear chroma (hdrvideo.io.convert.upsample_chroma): chroma sample i sits between
    // luma rows 2i and 2i+1, so row 2i reads chroma rows (i-1, i) with weights (0.25, 0.75)
    // and row 2i+1 rows (i, i+1) with (0.75, 0.25), clamped at the edges.
    int crow0[2], crow1[2];
    float cw0[2], cw1[2];
    for (int r = 0; r < 2; ++r) {
        const float s = std::min(std::max((float)pair + (r == 0 ? -0.25f : 0.25f), 0.0f), (float)(Hc - 1));
        crow0[r] = (int)s;
        crow1[r] = std::min(crow0[r] + 1, Hc - 1);
        cw1[r] = s - (float)crow0[r];
        cw0[r] = 1.0f - cw1[r];
    }
    float carry[2][3] = {{0, 0, 0}, {0, 0, 0}};  // last output R'G'B' of the previous tile, per row

    for (int c0 = 0; c0 < Wc; c0 += kTile) {
        const int nc = std::min(kTile, Wc - c0);
        const int np = 2 * nc;
        const int x0 = 2 * c0;
        if (!j.bilinear) {
            // The block's chroma terms, repeated for its four pixels.
            for (int c = 0; c < nc; ++c) {
                const float cb = ((float)uin[c0 + c] - coff) * cscale;
                const float cr = ((float)vin[c0 + c] - coff) * cscale;
                const float vr = a_rr * cr, vg = a_bg * cb + a_rg * cr, vb = a_bb * cb;
                dr[0][2 * c] = vr; dr[0][2 * c + 1] = vr;
                dg[0][2 * c] = vg; dg[0][2 * c + 1] = vg;
                db[0][2 * c] = vb; db[0][2 * c + 1] = vb;
            }
        } else {
            // The interpolation itself is exact in float32 (codes are integers below 2^12 and
            // the weights are 0, 1/4, 1/2, 3/4, 1), so it may be done vertically first, at
            // chroma resolution; only the step to normalised Cb/Cr rounds, as in the torch path.
            alignas(64) float cu[kTile + 1], cv[kTile + 1];
            for (int r = 0; r < 2; ++r) {
                const uint16_t* ua = j.u + (ptrdiff_t)crow0[r] * j.us;
                const uint16_t* ub = j.u + (ptrdiff_t)crow1[r] * j.us;
                const uint16_t* va = j.v + (ptrdiff_t)crow0[r] * j.vs;
                const uint16_t* vb = j.v + (ptrdiff_t)crow1[r] * j.vs;
                const float w0 = cw0[r], w1 = cw1[r];
                for (int c = 0; c < nc; ++c) {
                    cu[c] = (float)ua[c0 + c] * w0 + (float)ub[c0 + c] * w1;
                    cv[c] = (float)va[c0 + c] * w0 + (float)vb[c0 + c] * w1;
                }
                const int last = std::min(c0 + nc, Wc - 1);  // right neighbour of the tile
                cu[nc] = (float)ua[last] * w0 + (float)ub[last] * w1;
                cv[nc] = (float)va[last] * w0 + (float)vb[last] * w1;
                float* r_ = dr[r];
                float* g_ = dg[r];
                float* b_ = db[r];
                for (int c = 0; c < nc; ++c) {
                    // even column: on chroma sample c; odd column: halfway to c + 1
                    const float cb0 = (cu[c] - coff) * cscale;
                    const float cr0 = (cv[c] - coff) * cscale;
                    const float cb1 = ((cu[c] + cu[c + 1]) * 0.5f - coff) * cscale;
                    const float cr1 = ((cv[c] + cv[c + 1]) * 0.5f - coff) * cscale;
                    r_[2 * c] = a_rr * cr0;
                    r_[2 * c + 1] = a_rr * cr1;
                    g_[2 * c] = a_bg * cb0 + a_rg * cr0;
                    g_[2 * c + 1] = a_bg * cb1 + a_rg * cr1;
                    b_[2 * c] = a_bb * cb0;
                    b_[2 * c + 1] = a_bb * cb1;
                }
            }
        }
        for (int r = 0; r < 2; ++r) {
            const int d = j.bilinear ? r : 0;
            const uint16_t* src = yin[r] + x0;
            for (int x = 0; x < np; ++x) yv[x] = ((float)src[x] - yoff) * yscale;
#if HDRV_AVX2
            if (j.avx2) map_pixels_avx2<LUMINANCE, ROOT4>(j, np, yv, dr[d], dg[d], db[d], ro[r], go[r], bo[r]);
            else
#endif
                map_pixels_scalar<LUMINANCE, ROOT4>(j, 0, np, yv, dr[d], dg[d], db[d], ro[r], go[r], bo[r]);
            for (int x = 0; x < np; ++x) q[x] = ((yr * ro[r][x] + yg * go[r][x]) + yb * bo[r][x]) * oys + oyo;
            quantise_row<Out>(j, q, np, yout[r] + x0, (uint32_t)(row0 + r) * (uint32_t)W + (uint32_t)x0, (uint32_t)x0,
                              (uint32_t)(row0 + r));
        }
        if (!j.bilinear) {
            // The mean of the block's four output R'G'B', then the Cb/Cr rows.
            for (int c = 0; c < nc; ++c) {
                const float ra = ((ro[0][2 * c] + ro[0][2 * c + 1]) + (ro[1][2 * c] + ro[1][2 * c + 1])) * 0.25f;
                const float ga = ((go[0][2 * c] + go[0][2 * c + 1]) + (go[1][2 * c] + go[1][2 * c + 1])) * 0.25f;
                const float ba = ((bo[0][2 * c] + bo[0][2 * c + 1]) + (bo[1][2 * c] + bo[1][2 * c + 1])) * 0.25f;
                qb[c] = ((cbr * ra + cbg * ga) + cbb * ba) * ocs + oco;
                qr[c] = ((crr * ra + crg * ga) + crb * ba) * ocs + oco;
            }
        } else {
            // hdrvideo.io.convert.downsample_chroma: [1, 2, 1] / 4 centred on the even column
            // (the column left of the frame repeats column 0), then the mean of the two rows.
            if (c0 == 0) {
                for (int r = 0; r < 2; ++r) {
                    carry[r][0] = ro[r][0];
                    carry[r][1] = go[r][0];
                    carry[r][2] = bo[r][0];
                }
            }
            // The left neighbour of the tile's first chroma sample is the carry (the previous
            // tile's last column, or column 0 itself at the frame's edge).
            auto down = [&](int c, float p0r, float p1r, float p0g, float p1g, float p0b, float p1b) {
                const float ra = 0.5f * (((0.25f * p0r + 0.5f * ro[0][2 * c]) + 0.25f * ro[0][2 * c + 1]) +
                                         ((0.25f * p1r + 0.5f * ro[1][2 * c]) + 0.25f * ro[1][2 * c + 1]));
                const float ga = 0.5f * (((0.25f * p0g + 0.5f * go[0][2 * c]) + 0.25f * go[0][2 * c + 1]) +
                                         ((0.25f * p1g + 0.5f * go[1][2 * c]) + 0.25f * go[1][2 * c + 1]));
                const float ba = 0.5f * (((0.25f * p0b + 0.5f * bo[0][2 * c]) + 0.25f * bo[0][2 * c + 1]) +
                                         ((0.25f * p1b + 0.5f * bo[1][2 * c]) + 0.25f * bo[1][2 * c + 1]));
                qb[c] = ((cbr * ra + cbg * ga) + cbb * ba) * ocs + oco;
                qr[c] = ((crr * ra + crg * ga) + crb * ba) * ocs + oco;
            };
            down(0, carry[0][0], carry[1][0], carry[0][1], carry[1][1], carry[0][2], carry[1][2]);
            for (int c = 1; c < nc; ++c)
                down(c, ro[0][2 * c - 1], ro[1][2 * c - 1], go[0][2 * c - 1], go[1][2 * c - 1], bo[0][2 * c - 1],
                     bo[1][2 * c - 1]);
            for (int r = 0; r < 2; ++r) {
                carry[r][0] = ro[r][np - 1];
                carry[r][1] = go[r][np - 1];
                carry[r][2] = bo[r][np - 1];
            }
        }
        const uint32_t cidx = (uint32_t)pair * (uint32_t)Wc + (uint32_t)c0;
        quantise_row<Out>(j, qb, nc, uout + c0, plane + cidx, (uint32_t)c0, (uint32_t)pair);
        quantise_row<Out>(j, qr, nc, vout + c0, plane + cplane + cidx, (uint32_t)c0, (uint32_t)pair);
    }
}

template <typename Out, bool LUMINANCE, bool ROOT4>
void run_all(const Job& j, int threads) {
    const int pairs = j.height / 2;
    // Dynamic chunks of 4 row pairs: a thread that the OS deschedules (a busy machine) does not
    // hold the whole frame back; the others take its rows. Results do not depend on the split.
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
    for (int p = 0; p < pairs; ++p) process_row_pair<Out, LUMINANCE, ROOT4>(j, p);
}

template <typename Out>
void dispatch(const Job& j, bool luminance, bool root4, int threads) {
    if (luminance) {
        if (root4) run_all<Out, true, true>(j, threads);
        else run_all<Out, true, false>(j, threads);
    } else {
        if (root4) run_all<Out, false, true>(j, threads);
        else run_all<Out, false, false>(j, threads);
    }
}

// -- argument checking ----------------------------------------------------------------------
void check_plane(const py::array& a, const char* name, int h, int w, py::dtype dt) {
    check_plane2d(a, name, h, w);
    if (!a.dtype().is(dt)) throw py::value_error(std::string(name) + ": wrong dtype " + std::string(py::str(a.dtype())));
}

void tonemap_yuv420(py::array y, py::array u, py::array v, py::array y_out, py::array u_out, py::array v_out,
                    py::array_t<float, py::array::c_style | py::array::forcecast> eotf,
                    py::array_t<float, py::array::c_style | py::array::forcecast> curve,
                    py::array_t<float, py::array::c_style | py::array::forcecast> oetf,
                    py::array_t<float, py::array::c_style | py::array::forcecast> coefficients,
                    bool luminance, int oetf_root, int dither, uint32_t seed, int threads, bool simd,
                    bool desaturate, bool bilinear) {
    if (y.ndim() != 2) throw py::value_error("y: expected a 2-D array");
    const int H = (int)y.shape(0), W = (int)y.shape(1);
    if (H < 2 || W < 2 || (H & 1) || (W & 1))
        throw py::value_error("4:2:0 needs an even width and height of at least 2, got " + std::to_string(W) + "x" +
                              std::to_string(H));
    const auto u16 = py::dtype::of<uint16_t>();
    check_plane(y, "y", H, W, u16);
    check_plane(u, "u", H / 2, W / 2, u16);
    check_plane(v, "v", H / 2, W / 2, u16);
    const bool out8 = y_out.dtype().is(py::dtype::of<uint8_t>());
    const auto od = out8 ? py::dtype::of<uint8_t>() : u16;
    check_plane(y_out, "y_out", H, W, od);
    check_plane(u_out, "u_out", H / 2, W / 2, od);
    check_plane(v_out, "v_out", H / 2, W / 2, od);
    if (!y_out.writeable() || !u_out.writeable() || !v_out.writeable())
        throw py::value_error("output planes must be writeable");
    if (coefficients.ndim() != 1 || coefficients.shape(0) != N_COEFFS)
        throw py::value_error("coefficients: expected " + std::to_string(N_COEFFS) + " float32 values");
    if (oetf_root != 2 && oetf_root != 4) throw py::value_error("oetf_root must be 2 or 4");
    if (dither < DITHER_NONE || dither > DITHER_TPDF) throw py::value_error("dither must be 0, 1 or 2");

    Job j{};
    j.y = static_cast<const uint16_t*>(y.data());
    j.u = static_cast<const uint16_t*>(u.data());
    j.v = static_cast<const uint16_t*>(v.data());
    j.ys = y.strides(0) / 2;
    j.us = u.strides(0) / 2;
    j.vs = v.strides(0) / 2;
    j.yo = y_out.mutable_data();
    j.uo = u_out.mutable_data();
    j.vo = v_out.mutable_data();
    j.yos = y_out.strides(0) / y_out.itemsize();
    j.uos = u_out.strides(0) / u_out.itemsize();
    j.vos = v_out.strides(0) / v_out.itemsize();
    j.width = W;
    j.height = H;
    j.eotf = check_table(eotf, "eotf");
    j.curve = check_table(curve, "curve");
    j.oetf = check_table(oetf, "oetf");
    for (int i = 0; i < N_COEFFS; ++i) j.k[i] = coefficients.data()[i];
    j.dither = dither;
    j.key = lowbias32(seed);
    j.avx2 = simd && cpu_has_avx2();
    j.desaturate = desaturate;
    j.bilinear = bilinear;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    {
        py::gil_scoped_release release;
        if (out8) dispatch<uint8_t>(j, luminance, oetf_root == 4, threads);
        else dispatch<uint16_t>(j, luminance, oetf_root == 4, threads);
    }
}

// Linear light (cd/m²) of a grid of sampled pixels, for the per-frame statistics. Chroma is
// interpolated bilinearly at each sample as hdrvideo.io.convert.upsample_chroma does
// (horizontal, then vertical, with the weights given), then the kernel's own conversion:
// Y'CbCr -> R'G'B' (clamped) -> EOTF table. See sample_linear_torch in fused.py.
void sample_linear(py::array y, py::array u, py::array v,
                   py::array_t<int32_t, py::array::c_style | py::array::forcecast> rows,
                   py::array_t<int32_t, py::array::c_style | py::array::forcecast> cols,
                   py::array_t<int32_t, py::array::c_style | py::array::forcecast> crow,
                   py::array_t<float, py::array::c_style | py::array::forcecast> crow_w,
                   py::array_t<int32_t, py::array::c_style | py::array::forcecast> ccol,
                   py::array_t<float, py::array::c_style | py::array::forcecast> ccol_w,
                   py::array_t<float, py::array::c_style | py::array::forcecast> eotf,
                   py::array_t<float, py::array::c_style | py::array::forcecast> coefficients,
                   py::array_t<float, py::array::c_style> out) {
    if (y.ndim() != 2) throw py::value_error("y: expected a 2-D array");
    const int H = (int)y.shape(0), W = (int)y.shape(1);
    if (H < 2 || W < 2 || (H & 1) || (W & 1))
        throw py::value_error("4:2:0 needs an even width and height of at least 2");
    const auto u16 = py::dtype::of<uint16_t>();
    check_plane(y, "y", H, W, u16);
    check_plane(u, "u", H / 2, W / 2, u16);
    check_plane(v, "v", H / 2, W / 2, u16);
    const int h = (int)rows.size(), w = (int)cols.size();
    if (crow.ndim() != 2 || crow.shape(0) != h || crow.shape(1) != 2 || crow_w.size() != 2 * h)
        throw py::value_error("crow, crow_w: expected (rows, 2) chroma rows and weights");
    if (ccol.ndim() != 2 || ccol.shape(0) != w || ccol.shape(1) != 2 || ccol_w.size() != 2 * w)
        throw py::value_error("ccol, ccol_w: expected (cols, 2) chroma columns and weights");
    if (out.ndim() != 3 || out.shape(0) != 3 || out.shape(1) != h || out.shape(2) != w || !out.writeable())
        throw py::value_error("out: expected a writeable (3, rows, cols) float32 array");
    if (coefficients.size() != N_COEFFS) throw py::value_error("coefficients: wrong length");
    const int32_t* r = rows.data(); const int32_t* c = cols.data();
    const int32_t* cr = crow.data(); const float* crw = crow_w.data();
    const int32_t* cc = ccol.data(); const float* ccw = ccol_w.data();
    for (int i = 0; i < h; ++i) {
        if (r[i] < 0 || r[i] >= H || cr[2 * i] < 0 || cr[2 * i] >= H / 2 || cr[2 * i + 1] < 0 || cr[2 * i + 1] >= H / 2)
            throw py::value_error("row index out of range");
    }
    for (int i = 0; i < w; ++i) {
        if (c[i] < 0 || c[i] >= W || cc[2 * i] < 0 || cc[2 * i] >= W / 2 || cc[2 * i + 1] < 0 || cc[2 * i + 1] >= W / 2)
            throw py::value_error("column index out of range");
    }
    const Table table = check_table(eotf, "eotf");
    const float* k = coefficients.data();
    const auto* yp = static_cast<const uint16_t*>(y.data());
    const auto* up = static_cast<const uint16_t*>(u.data());
    const auto* vp = static_cast<const uint16_t*>(v.data());
    const ptrdiff_t ys = y.strides(0) / 2, us = u.strides(0) / 2, vs = v.strides(0) / 2;
    float* o = out.mutable_data();
    const ptrdiff_t plane = (ptrdiff_t)h * w;
    py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (plane > 16384)
    for (int i = 0; i < h; ++i) {
        const uint16_t* yrow = yp + (ptrdiff_t)r[i] * ys;
        const uint16_t* u0 = up + (ptrdiff_t)cr[2 * i] * us;
        const uint16_t* u1 = up + (ptrdiff_t)cr[2 * i + 1] * us;
        const uint16_t* v0 = vp + (ptrdiff_t)cr[2 * i] * vs;
        const uint16_t* v1 = vp + (ptrdiff_t)cr[2 * i + 1] * vs;
        const float a0 = crw[2 * i], a1 = crw[2 * i + 1];  // (1 - w1), w1 of the rows
        for (int jx = 0; jx < w; ++jx) {
            const int c0 = cc[2 * jx], c1 = cc[2 * jx + 1];
            const float b0 = ccw[2 * jx], b1 = ccw[2 * jx + 1];
            const float uh0 = (float)u0[c0] * b0 + (float)u0[c1] * b1;
            const float uh1 = (float)u1[c0] * b0 + (float)u1[c1] * b1;
            const float vh0 = (float)v0[c0] * b0 + (float)v0[c1] * b1;
            const float vh1 = (float)v1[c0] * b0 + (float)v1[c1] * b1;
            const float cb = ((uh0 * a0 + uh1 * a1) - k[IN_C_OFF]) * k[IN_C_SCALE];
            const float crv = ((vh0 * a0 + vh1 * a1) - k[IN_C_OFF]) * k[IN_C_SCALE];
            const float yv = ((float)yrow[c[jx]] - k[IN_Y_OFF]) * k[IN_Y_SCALE];
            const float rn = clamp01(yv + k[IN_CR_R] * crv);
            const float gn = clamp01(yv + (k[IN_CB_G] * cb + k[IN_CR_G] * crv));
            const float bn = clamp01(yv + k[IN_CB_B] * cb);
            const ptrdiff_t at = (ptrdiff_t)i * w + jx;
            o[at] = lookup(table, rn);
            o[plane + at] = lookup(table, gn);
            o[2 * plane + at] = lookup(table, bn);
        }
    }
}

py::dict build_info() {
    py::dict d;
#ifdef _OPENMP
    d["openmp"] = true;
    d["max_threads"] = omp_get_max_threads();
#else
    d["openmp"] = false;
    d["max_threads"] = 1;
#endif
    d["avx2_kernel"] = (bool)HDRV_AVX2;
    d["cpu_avx2"] = cpu_has_avx2();
    d["n_coefficients"] = (int)N_COEFFS;
    return d;
}

}  // namespace

// Defined in native/tmnet_apply.cpp (the full-resolution step of tonemap=curve=net) and
// native/convert_yuv.cpp (Y'CbCr planes <-> linear light, hdrvideo/io/native_convert.py) and
// native/tonemap_linear.cpp (tonemap on linear frames, every intensity, hdrvideo/ops/linear_native.py).
void register_tmnet_apply(py::module_& m);
void register_convert_yuv(py::module_& m);
void register_tonemap_linear(py::module_& m);

PYBIND11_MODULE(_native, m) {
    m.doc() = "hdrvideo native CPU kernels: fused 4:2:0 tone mapping (hdrvideo/ops/fused.py) and "
              "the tonemap=curve=net full-resolution step (hdrvideo/ops/tmnet.py), Y'CbCr <-> linear light "
              "(hdrvideo/io/native_convert.py), tonemap on linear frames (hdrvideo/ops/linear_native.py)";
    m.def("tonemap_yuv420", &tonemap_yuv420, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("y_out"),
          py::arg("u_out"), py::arg("v_out"), py::arg("eotf"), py::arg("curve"), py::arg("oetf"),
          py::arg("coefficients"), py::arg("luminance"), py::arg("oetf_root"), py::arg("dither"), py::arg("seed"),
          py::arg("threads"), py::arg("simd") = true, py::arg("desaturate") = false,
          py::arg("bilinear") = true,
          "Tone-map 10/12-bit 4:2:0 Y'CbCr planes into preallocated 8- or 16-bit planes (GIL released).");
    m.def("sample_linear", &sample_linear, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("rows"), py::arg("cols"),
          py::arg("crow"), py::arg("crow_w"), py::arg("ccol"), py::arg("ccol_w"), py::arg("eotf"),
          py::arg("coefficients"), py::arg("out"),
          "Linear light of sampled pixels of 4:2:0 planes (bilinear chroma, EOTF table), for statistics.");
    m.def("build_info", &build_info, "How the module was built: OpenMP, thread count, AVX2 clone.");
    register_tmnet_apply(m);
    register_convert_yuv(m);
    register_tonemap_linear(m);
}
