// The ``tonemap`` operator on float32 working-space frames (linear BT.2020, cd/m², (3, H, W)):
// the native versions of ``hdrvideo.ops.tonemap.tonemap(x, intensity=..., desat=1)`` for its
// three intensities, one pass per row, rows split across OpenMP threads.
//
// ``tonemap_ictcp``, the default intensity (ITU-R BT.2100-2 Table 7 for the matrices;
// libplacebo's chroma factor), per pixel:
//
//   RGB = max(RGB, 0) -> LMS = M1 RGB -> L'M'S' = PQ^-1(LMS), a table at (LMS / 10000)^(1/4)
//   -> [I, Ct, Cp] = M2 L'M'S' -> I' = map(I), a table over I in [0, 1] (the curve in PQ terms:
//   PQ^-1(curve(PQ(I))), built per frame in Python) -> f = min(I / I', hull(I') / hull(I)),
//   hull(v) = v (v - 3)^2 -> L'M'S' = M2^-1 [I', f Ct, f Cp] -> LMS = PQ(L'M'S'), a table
//   -> RGB = M1^-1 LMS.
//   A component outside [-slack, peak + slack]: the chroma is scaled by the largest k in
//   [0, 1] that fits, found by bisection (``iterations`` halvings) at constant I' and hue.
//
// ``tonemap_gain``, intensities max(R, G, B) and BT.2020 luminance, per pixel:
//
//   NaN -> 0 -> level = max(R, G, B) or Y, at least 0 -> gain = curve(level) / level, a table
//   at (level / 10000)^(1/4) (the fused kernel's luminance table, hdrvideo/ops/fused.py)
//   -> RGB * gain (hue kept); a level of at most 1e-20 cd/m² gives curve(0) in every component.
//
// Both end alike: toward the grey of the BT.2020 luminance just enough that every component
// lies in [0, peak] (``hdrvideo.ops.gamut.fit_toward_grey``).
//
// The torch function is the reference; these kernels read their transfers and curves from
// tables (see hdrvideo/ops/linear_native.py for the measured differences), so results agree
// within a stated tolerance, not bit for bit. ``register_tonemap_linear`` adds both functions
// to the one module ``hdrvideo._native`` (its PYBIND11_MODULE is in native/tonemap_yuv.cpp).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "kernel_common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

namespace {

using namespace hdrv_common;  // Table, lookup(8), check_table, clamp01(_8), cpu_has_avx2
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Layout of the coefficient vector; must match ``COEFFICIENTS`` in hdrvideo/ops/linear_native.py.
enum Coefficient : int {
    RGB_TO_LMS = 0,       // 9, row-major
    LMS_P_TO_ICTCP = 9,   // 9
    ICTCP_TO_LMS_P = 18,  // 9
    LMS_TO_RGB = 27,      // 9
    LUMA = 36,            // 3: BT.2020 luminance weights
    PEAK = 39,            // display peak, cd/m²
    SLACK = 40,           // tolerance of the chroma fit, cd/m²
    N_COEFFICIENTS = 41,
};

// Layout of tonemap_gain's coefficient vector; must match ``GAIN_COEFFICIENTS`` in
// hdrvideo/ops/linear_native.py.
enum GainCoefficient : int {
    GAIN_LUMA = 0,         // 3: BT.2020 luminance weights
    GAIN_PEAK = 3,         // display peak, cd/m²
    GAIN_BLACK_OUT = 4,    // curve(0), cd/m²: the output of a black pixel
    N_GAIN_COEFFICIENTS = 5,
};

struct IctcpJob {
    Table oetf;     // (L / 10000)^(1/4) -> L' (PQ inverse EOTF)
    Table eotf;     // L' -> cd/m²
    Table mapping;  // I -> I'
    const float* k;
    int iterations;
};

inline float pq_encode(const Table& oetf, float nits) {
    const float s = clamp01((nits > 0.0f ? nits : 0.0f) * 1e-4f);
    return lookup(oetf, std::sqrt(std::sqrt(s)));
}

inline float hull(float v) { return v * (v - 3.0f) * (v - 3.0f); }

// RGB of [I, Ct, Cp].
inline void ictcp_rgb(const IctcpJob& j, float i, float ct, float cp, float& r, float& g, float& b) {
    float lp, mp, sp;
    mat3(j.k + ICTCP_TO_LMS_P, i, ct, cp, lp, mp, sp);
    const float l = lookup(j.eotf, clamp01(lp));
    const float m = lookup(j.eotf, clamp01(mp));
    const float s = lookup(j.eotf, clamp01(sp));
    mat3(j.k + LMS_TO_RGB, l, m, s, r, g, b);
}

inline bool fits(float r, float g, float b, float peak, float slack) {
    const float hi = peak + slack;
    return r <= hi && g <= hi && b <= hi && r >= -slack && g >= -slack && b >= -slack;
}

// hdrvideo.ops.gamut.fit_toward_grey(rgb, Y, 0, peak), Y with the weights ``luma``.
HDRV_INLINE void fit_toward_grey(const float* luma, float peak, float r, float g, float b, float& ro, float& go,
                                 float& bo) {
    const float y = (luma[0] * r + luma[1] * g) + luma[2] * b;
    const float grey = std::min(std::max(y, 0.0f), peak);
    const float tiny32 = 1.17549435e-38f;
    float t = 1.0f;
    for (float c : {r, g, b}) {
        if (c < 0.0f) t = std::min(t, (grey - 0.0f) / std::max(grey - c, tiny32));
        if (c > peak) t = std::min(t, (peak - grey) / std::max(c - grey, tiny32));
    }
    t = clamp01(t);
    ro = std::min(std::max(grey + t * (r - grey), 0.0f), peak);
    go = std::min(std::max(grey + t * (g - grey), 0.0f), peak);
    bo = std::min(std::max(grey + t * (b - grey), 0.0f), peak);
}

void map_pixel(const IctcpJob& j, float r, float g, float b, float& ro, float& go, float& bo) {
    const float* k = j.k;
    r = r > 0.0f ? r : 0.0f;  // also NaN -> 0
    g = g > 0.0f ? g : 0.0f;
    b = b > 0.0f ? b : 0.0f;
    float l, m, s;
    mat3(k + RGB_TO_LMS, r, g, b, l, m, s);
    float i, ct, cp;
    mat3(k + LMS_P_TO_ICTCP, pq_encode(j.oetf, l), pq_encode(j.oetf, m), pq_encode(j.oetf, s), i, ct, cp);
    const float i_out = lookup(j.mapping, clamp01(i));
    const float tiny = 1e-20f;
    const float factor = std::min(i / std::max(i_out, tiny), hull(i_out) / std::max(hull(i), tiny));
    ct *= factor;
    cp *= factor;
    ictcp_rgb(j, i_out, ct, cp, r, g, b);
    const float peak = k[PEAK], slack = k[SLACK];
    if (!fits(r, g, b, peak, slack)) {
        float lo = 0.0f, hi = 1.0f;
        for (int n = 0; n < j.iterations; ++n) {
            const float mid = 0.5f * (lo + hi);
            float tr, tg, tb;
            ictcp_rgb(j, i_out, ct * mid, cp * mid, tr, tg, tb);
            if (fits(tr, tg, tb, peak, slack)) lo = mid;
            else hi = mid;
        }
        ictcp_rgb(j, i_out, ct * lo, cp * lo, r, g, b);
    }
    fit_toward_grey(k + LUMA, peak, r, g, b, ro, go, bo);
}

// Gain kernel, one pixel (see the file's header).
void gain_pixel(const Table& gain, const float* k, bool maxrgb, float r, float g, float b, float& ro, float& go,
                float& bo) {
    r = r == r ? r : 0.0f;  // NaN -> 0
    g = g == g ? g : 0.0f;
    b = b == b ? b : 0.0f;
    float level = maxrgb ? std::max(std::max(r, g), b) : (k[GAIN_LUMA] * r + k[GAIN_LUMA + 1] * g) + k[GAIN_LUMA + 2] * b;
    level = level > 0.0f ? level : 0.0f;
    if (level > 1e-20f) {
        const float f = lookup(gain, std::sqrt(std::sqrt(clamp01(level * 1e-4f))));
        r *= f;
        g *= f;
        b *= f;
    } else {
        r = g = b = k[GAIN_BLACK_OUT];
    }
    fit_toward_grey(k + GAIN_LUMA, k[GAIN_PEAK], r, g, b, ro, go, bo);
}

#if HDRV_AVX2
// grey + t (c - grey), clamped to [0, peak]
HDRV_TARGET_AVX2 HDRV_INLINE __m256 toward8(__m256 c, __m256 grey, __m256 t, __m256 peak) {
    return _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(grey, _mm256_mul_ps(t, _mm256_sub_ps(c, grey))),
                                       _mm256_setzero_ps()), peak);
}

// fit_toward_grey for 8 pixels, stored to ro, go, bo.
HDRV_TARGET_AVX2 HDRV_INLINE void fit_toward_grey8(const float* luma, __m256 peak, __m256 r, __m256 g, __m256 b,
                                                   float* ro, float* go, float* bo) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 y = dot3_8(luma, r, g, b);
    const __m256 grey = _mm256_min_ps(_mm256_max_ps(y, zero), peak);
    const __m256 tiny32 = _mm256_set1_ps(1.17549435e-38f);
    __m256 t = _mm256_set1_ps(1.0f);
    const __m256 channels[3] = {r, g, b};
    for (const __m256& c : channels) {
        const __m256 below = _mm256_div_ps(grey, _mm256_max_ps(_mm256_sub_ps(grey, c), tiny32));
        const __m256 above = _mm256_div_ps(_mm256_sub_ps(peak, grey), _mm256_max_ps(_mm256_sub_ps(c, grey), tiny32));
        t = _mm256_blendv_ps(t, _mm256_min_ps(t, below), _mm256_cmp_ps(c, zero, _CMP_LT_OQ));
        t = _mm256_blendv_ps(t, _mm256_min_ps(t, above), _mm256_cmp_ps(c, peak, _CMP_GT_OQ));
    }
    t = clamp01_8(t);
    _mm256_storeu_ps(ro, toward8(r, grey, t, peak));
    _mm256_storeu_ps(go, toward8(g, grey, t, peak));
    _mm256_storeu_ps(bo, toward8(b, grey, t, peak));
}

HDRV_TARGET_AVX2 HDRV_INLINE __m256 pq_encode8(const Table& oetf, __m256 nits) {
    const __m256 s = clamp01_8(_mm256_mul_ps(nits, _mm256_set1_ps(1e-4f)));  // nits >= 0 here
    return lookup8(oetf, _mm256_sqrt_ps(_mm256_sqrt_ps(s)));
}

HDRV_TARGET_AVX2 HDRV_INLINE __m256 hull8(__m256 v) {
    const __m256 d = _mm256_sub_ps(v, _mm256_set1_ps(3.0f));
    return _mm256_mul_ps(_mm256_mul_ps(v, d), d);
}

HDRV_TARGET_AVX2 HDRV_INLINE void ictcp_rgb8(const IctcpJob& j, __m256 i, __m256 ct, __m256 cp, __m256& r, __m256& g,
                                             __m256& b) {
    __m256 lp, mp, sp;
    mat3_8(j.k + ICTCP_TO_LMS_P, i, ct, cp, lp, mp, sp);
    mat3_8(j.k + LMS_TO_RGB, lookup8(j.eotf, clamp01_8(lp)), lookup8(j.eotf, clamp01_8(mp)),
           lookup8(j.eotf, clamp01_8(sp)), r, g, b);
}

// Lanes with a component above hi or below lo (the complement of ``fits``).
HDRV_TARGET_AVX2 HDRV_INLINE __m256 outside8(__m256 r, __m256 g, __m256 b, __m256 lo, __m256 hi) {
    __m256 bad = _mm256_or_ps(_mm256_cmp_ps(r, hi, _CMP_GT_OQ), _mm256_cmp_ps(r, lo, _CMP_LT_OQ));
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_cmp_ps(g, hi, _CMP_GT_OQ), _mm256_cmp_ps(g, lo, _CMP_LT_OQ)));
    return _mm256_or_ps(bad, _mm256_or_ps(_mm256_cmp_ps(b, hi, _CMP_GT_OQ), _mm256_cmp_ps(b, lo, _CMP_LT_OQ)));
}

// map_pixel for 8 pixels, with the same float32 operations in the same order (the chroma
// fit's bisection runs on all 8 lanes when one needs it and is kept where it was needed), so
// the result equals the scalar code's bit for bit.
HDRV_TARGET_AVX2 void map_pixels_avx2(const IctcpJob& j, const float* rin, const float* gin, const float* bin,
                                      float* ro, float* go, float* bo) {
    const float* k = j.k;
    const __m256 zero = _mm256_setzero_ps();
    const __m256 r0 = _mm256_max_ps(_mm256_loadu_ps(rin), zero);  // max(x, 0): NaN -> 0 as the scalar code
    const __m256 g0 = _mm256_max_ps(_mm256_loadu_ps(gin), zero);
    const __m256 b0 = _mm256_max_ps(_mm256_loadu_ps(bin), zero);
    __m256 l, m, s;
    mat3_8(k + RGB_TO_LMS, r0, g0, b0, l, m, s);
    __m256 i, ct, cp;
    mat3_8(k + LMS_P_TO_ICTCP, pq_encode8(j.oetf, l), pq_encode8(j.oetf, m), pq_encode8(j.oetf, s), i, ct, cp);
    const __m256 i_out = lookup8(j.mapping, clamp01_8(i));
    const __m256 tiny = _mm256_set1_ps(1e-20f);
    const __m256 factor = _mm256_min_ps(_mm256_div_ps(i, _mm256_max_ps(i_out, tiny)),
                                        _mm256_div_ps(hull8(i_out), _mm256_max_ps(hull8(i), tiny)));
    ct = _mm256_mul_ps(ct, factor);
    cp = _mm256_mul_ps(cp, factor);
    __m256 r, g, b;
    ictcp_rgb8(j, i_out, ct, cp, r, g, b);
    const __m256 peak = _mm256_set1_ps(k[PEAK]);
    const __m256 hi = _mm256_set1_ps(k[PEAK] + k[SLACK]);
    const __m256 lo = _mm256_set1_ps(-k[SLACK]);
    const __m256 bad = outside8(r, g, b, lo, hi);
    if (_mm256_movemask_ps(bad)) {
        __m256 klo = zero, khi = _mm256_set1_ps(1.0f);
        for (int n = 0; n < j.iterations; ++n) {
            const __m256 mid = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(klo, khi));
            __m256 tr, tg, tb;
            ictcp_rgb8(j, i_out, _mm256_mul_ps(ct, mid), _mm256_mul_ps(cp, mid), tr, tg, tb);
            const __m256 out = outside8(tr, tg, tb, lo, hi);
            klo = _mm256_blendv_ps(mid, klo, out);
            khi = _mm256_blendv_ps(khi, mid, out);
        }
        __m256 fr, fg, fb;
        ictcp_rgb8(j, i_out, _mm256_mul_ps(ct, klo), _mm256_mul_ps(cp, klo), fr, fg, fb);
        r = _mm256_blendv_ps(r, fr, bad);
        g = _mm256_blendv_ps(g, fg, bad);
        b = _mm256_blendv_ps(b, fb, bad);
    }
    fit_toward_grey8(k + LUMA, peak, r, g, b, ro, go, bo);
}

// gain_pixel for 8 pixels, the same float32 operations in the same order.
HDRV_TARGET_AVX2 void gain_pixels_avx2(const Table& gain, const float* k, bool maxrgb, const float* rin,
                                       const float* gin, const float* bin, float* ro, float* go, float* bo) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 r = _mm256_loadu_ps(rin), g = _mm256_loadu_ps(gin), b = _mm256_loadu_ps(bin);
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));  // NaN -> 0
    g = _mm256_and_ps(g, _mm256_cmp_ps(g, g, _CMP_ORD_Q));
    b = _mm256_and_ps(b, _mm256_cmp_ps(b, b, _CMP_ORD_Q));
    __m256 level = maxrgb ? _mm256_max_ps(_mm256_max_ps(r, g), b) : dot3_8(k + GAIN_LUMA, r, g, b);
    level = _mm256_max_ps(level, zero);
    const __m256 lit = _mm256_cmp_ps(level, _mm256_set1_ps(1e-20f), _CMP_GT_OQ);
    const __m256 f = lookup8(gain, _mm256_sqrt_ps(_mm256_sqrt_ps(clamp01_8(_mm256_mul_ps(level, _mm256_set1_ps(1e-4f))))));
    const __m256 black = _mm256_set1_ps(k[GAIN_BLACK_OUT]);
    r = _mm256_blendv_ps(black, _mm256_mul_ps(r, f), lit);
    g = _mm256_blendv_ps(black, _mm256_mul_ps(g, f), lit);
    b = _mm256_blendv_ps(black, _mm256_mul_ps(b, f), lit);
    fit_toward_grey8(k + GAIN_LUMA, _mm256_set1_ps(k[GAIN_PEAK]), r, g, b, ro, go, bo);
}
#endif

void check_frames(const py::array_t<float, py::array::c_style>& x, py::array_t<float, py::array::c_style>& out) {
    if (x.ndim() != 3 || x.shape(0) != 3) throw py::value_error("x: expected a (3, H, W) float32 array");
    if (out.ndim() != 3 || out.shape(0) != 3 || out.shape(1) != x.shape(1) || out.shape(2) != x.shape(2) ||
        !out.writeable())
        throw py::value_error("out: expected a writeable float32 array shaped like x");
}

// Every pixel of the planar (3, H, W) frame ``in`` through ``one`` (scalar) or ``eight`` (AVX2,
// 8 pixels) into ``out``: chunks of pixels split across ``threads`` OpenMP threads, GIL released.
template <typename One, typename Eight>
void for_each_pixel(const float* in, float* out, ptrdiff_t plane, int threads, bool simd, One one, Eight eight) {
    const int n = omp_threads(threads);
    const bool avx2 = simd && cpu_has_avx2();
    (void)avx2;
    (void)eight;
    py::gil_scoped_release release;
    const ptrdiff_t chunk = 4096;  // a multiple of 8
#pragma omp parallel for schedule(static) num_threads(n) if (plane > 65536)
    for (ptrdiff_t start = 0; start < plane; start += chunk) {
        const ptrdiff_t end = std::min(start + chunk, plane);
        ptrdiff_t p = start;
#if HDRV_AVX2
        if (avx2)
            for (; p + 8 <= end; p += 8)
                eight(in + p, in + plane + p, in + 2 * plane + p, out + p, out + plane + p, out + 2 * plane + p);
#endif
        for (; p < end; ++p) one(in[p], in[plane + p], in[2 * plane + p], out[p], out[plane + p], out[2 * plane + p]);
    }
}

void tonemap_ictcp(py::array_t<float, py::array::c_style> x, py::array_t<float, py::array::c_style> out,
                   FloatArray oetf, FloatArray eotf, FloatArray mapping, FloatArray coefficients, int iterations,
                   int threads, bool simd) {
    check_frames(x, out);
    if (coefficients.size() != N_COEFFICIENTS) throw py::value_error("coefficients: wrong length");
    if (iterations < 0 || iterations > 64) throw py::value_error("iterations: expected 0-64");
    const IctcpJob j{check_table(oetf, "oetf"), check_table(eotf, "eotf"), check_table(mapping, "mapping"),
                     coefficients.data(), iterations};
    for_each_pixel(
        x.data(), out.mutable_data(), (ptrdiff_t)x.shape(1) * x.shape(2), threads, simd,
        [&j](float r, float g, float b, float& ro, float& go, float& bo) { map_pixel(j, r, g, b, ro, go, bo); },
        [&j](const float* r, const float* g, const float* b, float* ro, float* go, float* bo) {
#if HDRV_AVX2
            map_pixels_avx2(j, r, g, b, ro, go, bo);
#endif
        });
}

void tonemap_gain(py::array_t<float, py::array::c_style> x, py::array_t<float, py::array::c_style> out,
                  FloatArray gain, FloatArray coefficients, bool maxrgb, int threads, bool simd) {
    check_frames(x, out);
    if (coefficients.size() != N_GAIN_COEFFICIENTS) throw py::value_error("coefficients: wrong length");
    const Table t = check_table(gain, "gain");
    const float* k = coefficients.data();
    for_each_pixel(
        x.data(), out.mutable_data(), (ptrdiff_t)x.shape(1) * x.shape(2), threads, simd,
        [&](float r, float g, float b, float& ro, float& go, float& bo) { gain_pixel(t, k, maxrgb, r, g, b, ro, go, bo); },
        [&](const float* r, const float* g, const float* b, float* ro, float* go, float* bo) {
#if HDRV_AVX2
            gain_pixels_avx2(t, k, maxrgb, r, g, b, ro, go, bo);
#endif
        });
}

}  // namespace

void register_tonemap_linear(py::module_& m) {
    m.def("tonemap_ictcp", &tonemap_ictcp, py::arg("x"), py::arg("out").noconvert(), py::arg("oetf"),
          py::arg("eotf"), py::arg("mapping"), py::arg("coefficients"), py::arg("iterations") = 20,
          py::arg("threads") = 0, py::arg("simd") = true,
          "tonemap intensity=ictcp on a (3, H, W) float32 working-space frame into out (GIL released).");
    m.def("tonemap_gain", &tonemap_gain, py::arg("x"), py::arg("out").noconvert(), py::arg("gain"),
          py::arg("coefficients"), py::arg("maxrgb"), py::arg("threads") = 0, py::arg("simd") = true,
          "tonemap intensity=maxrgb (maxrgb=True) or luminance on a (3, H, W) float32 working-space frame "
          "into out (GIL released).");
}
