// The ``tonemap`` operator's default intensity, ICtCp, on float32 working-space frames: the
// native version of ``hdrvideo.ops.tonemap.tonemap(x, intensity="ictcp", desat=1)``, one pass
// per row, rows split across OpenMP threads. Per pixel of a (3, H, W) linear BT.2020 frame
// in cd/m² (ITU-R BT.2100-2 Table 7 for the matrices; libplacebo's chroma factor):
//
//   RGB = max(RGB, 0) -> LMS = M1 RGB -> L'M'S' = PQ^-1(LMS), a table at (LMS / 10000)^(1/4)
//   -> [I, Ct, Cp] = M2 L'M'S' -> I' = map(I), a table over I in [0, 1] (the curve in PQ terms:
//   PQ^-1(curve(PQ(I))), built per frame in Python) -> f = min(I / I', hull(I') / hull(I)),
//   hull(v) = v (v - 3)^2 -> L'M'S' = M2^-1 [I', f Ct, f Cp] -> LMS = PQ(L'M'S'), a table
//   -> RGB = M1^-1 LMS.
//   A component outside [-slack, peak + slack]: the chroma is scaled by the largest k in
//   [0, 1] that fits, found by bisection (``iterations`` halvings) at constant I' and hue.
//   Last, toward the grey of the BT.2020 luminance just enough that every component lies in
//   [0, peak] (``hdrvideo.ops.gamut.fit_toward_grey``).
//
// The torch function is the reference; this kernel reads its transfers from tables (see
// hdrvideo/ops/ictcp_native.py for the measured difference), so results agree within a
// stated tolerance, not bit for bit. ``register_tonemap_ictcp`` adds ``tonemap_ictcp`` to the
// one module ``hdrvideo._native`` (its PYBIND11_MODULE is in native/tonemap_yuv.cpp).

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

using namespace hdrv_common;  // Table, lookup, check_table, clamp01
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Layout of the coefficient vector; must match ``COEFFICIENTS`` in hdrvideo/ops/ictcp_native.py.
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

struct IctcpJob {
    Table oetf;     // (L / 10000)^(1/4) -> L' (PQ inverse EOTF)
    Table eotf;     // L' -> cd/m²
    Table mapping;  // I -> I'
    const float* k;
    int iterations;
};

inline void mat3(const float* m, float a, float b, float c, float& x, float& y, float& z) {
    x = (m[0] * a + m[1] * b) + m[2] * c;
    y = (m[3] * a + m[4] * b) + m[5] * c;
    z = (m[6] * a + m[7] * b) + m[8] * c;
}

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
    // fit_toward_grey(rgb, Y, 0, peak)
    const float y = (k[LUMA] * r + k[LUMA + 1] * g) + k[LUMA + 2] * b;
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

void tonemap_ictcp(py::array_t<float, py::array::c_style> x, py::array_t<float, py::array::c_style> out,
                   FloatArray oetf, FloatArray eotf, FloatArray mapping, FloatArray coefficients, int iterations,
                   int threads) {
    if (x.ndim() != 3 || x.shape(0) != 3) throw py::value_error("x: expected a (3, H, W) float32 array");
    if (out.ndim() != 3 || out.shape(0) != 3 || out.shape(1) != x.shape(1) || out.shape(2) != x.shape(2) ||
        !out.writeable())
        throw py::value_error("out: expected a writeable float32 array shaped like x");
    if (coefficients.size() != N_COEFFICIENTS) throw py::value_error("coefficients: wrong length");
    if (iterations < 0 || iterations > 64) throw py::value_error("iterations: expected 0-64");
    const IctcpJob j{check_table(oetf, "oetf"), check_table(eotf, "eotf"), check_table(mapping, "mapping"),
                     coefficients.data(), iterations};
    const ptrdiff_t plane = (ptrdiff_t)x.shape(1) * x.shape(2);
    const float* in = x.data();
    float* o = out.mutable_data();
#ifdef _OPENMP
    const int n = threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
#endif
    py::gil_scoped_release release;
    const ptrdiff_t chunk = 4096;
#pragma omp parallel for schedule(static) num_threads(n) if (plane > 65536)
    for (ptrdiff_t start = 0; start < plane; start += chunk) {
        const ptrdiff_t end = std::min(start + chunk, plane);
        for (ptrdiff_t p = start; p < end; ++p)
            map_pixel(j, in[p], in[plane + p], in[2 * plane + p], o[p], o[plane + p], o[2 * plane + p]);
    }
}

}  // namespace

void register_tonemap_ictcp(py::module_& m) {
    m.def("tonemap_ictcp", &tonemap_ictcp, py::arg("x"), py::arg("out").noconvert(), py::arg("oetf"),
          py::arg("eotf"), py::arg("mapping"), py::arg("coefficients"), py::arg("iterations") = 20,
          py::arg("threads") = 0,
          "tonemap intensity=ictcp on a (3, H, W) float32 working-space frame into out (GIL released).");
}
