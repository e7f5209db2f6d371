// Full-resolution step of the tone-mapping network's operator (hdrvideo/ops/tmnet.py,
// ``apply_grid`` with ``desat == 1``), one pass per row, rows split across OpenMP threads.
//
// Per pixel of a float32 (3, H, W) linear BT.2020 frame in cd/m²:
//
//   C = max(nan_to_num(C, nan=0, +inf=1e4, -inf=0), 0)                     (each component)
//   Y = 0.2627 R + 0.6780 G + 0.0593 B                            (ITU-R BT.2020 Table 4)
//   g = clamp((log2(max(Y, 1e-8)) - log2(anchor)) / 24 + 1/2, 0, 1)          (log guide)
//   z = g (D - 1), k = min(floor(z), D - 2), a = z - k
//   v = lerp(lerp(T[r][x][k], T[r][x][k+1], a), lerp(T[r+1][x][k], T[r+1][x][k+1], a), b)
//       (trilinear slicing: T is the grid interpolated along x to the full width, (GH, W, D),
//        built here from the (D, GH, GW) grid with the column nodes and weights of
//        ``slice_grid`` in its order of operations: T[r][x][k] = G[k][r][c] + w (G[k][r][c+1] -
//        G[k][r][c]); r, b are the row's left grid row and weight, as ``slice_grid``'s ``_axis``.
//        Bins last, so the two bins a pixel blends are adjacent: the AVX2 code fetches both
//        with one 64-bit gather lane.)
//   L' = peak * clamp(v, 0, 1)^2.4                                (BT.1886, L_B = 0)
//   ratio = L' / max(Y, 1e-12); top = max(R, G, B) * ratio
//   t = top > peak ? clamp((peak - L') / max(top - L', 1e-12), 0, 1) : 1
//   C' = Y > 1e-12 ? L' (1 - t) + C (t ratio) : L';  C' = clamp(C', 0, peak)
//
// The float32 operations are those of the torch reference in the same order (no FMA
// contraction: -ffp-contract=off, CMakeLists.txt), except log2 and pow: torch calls its
// vectorised math library, this file the polynomials below (log2: atanh series, |error| <
// 1e-7; exp2: Taylor series on [-1/2, 1/2], relative error < 1e-7), so results agree with
// ``apply_grid`` to float32 rounding of those (tests/test_tmnet_native.py states the bound).
//
// ``register_tmnet_apply`` adds ``tmnet_apply`` and ``tmnet_low_resolution`` to the one module
// ``hdrvideo._native`` (its PYBIND11_MODULE is in native/tonemap_yuv.cpp).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define TMN_AVX2 1
#define TMN_TARGET_AVX2 __attribute__((target("avx2")))
#include <immintrin.h>
#else
#define TMN_AVX2 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TMN_INLINE inline __attribute__((always_inline))
#else
#define TMN_INLINE inline
#endif

namespace {

struct TMNetJob {
    const float* x;      // (3, H, W)
    float* out;          // (3, H, W)
    const float* table;  // (GH, W, D): the grid interpolated along x
    const int32_t* row0; // (H,): left grid row of each image row
    const float* roww;   // (H,): weight of the next grid row
    int64_t height, width;
    int bins;            // D
    float log2_anchor;   // log2(anchor), float32 as torch computes it
    float peak;          // display peak, cd/m²
};

TMN_INLINE float bits_to_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

TMN_INLINE uint32_t float_to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// log2 of a positive normal float: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
// ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: five terms of the series leave
// s^11 / 11 < 4e-10.
TMN_INLINE float fast_log2(float x) {
    uint32_t u = float_to_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127;
    float m = bits_to_float((u & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    const bool big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    const float poly = 1.0f + s2 * (1.0f / 3.0f + s2 * (1.0f / 5.0f + s2 * (1.0f / 7.0f + s2 * (1.0f / 9.0f))));
    return (float)e + (2.0f * 1.44269504088896341f) * s * poly;
}

// 2^x: x = n + f with n = round(x), f in [-1/2, 1/2]; 2^f = e^(f ln 2), Taylor to degree 7
// (|f ln 2| <= 0.347: remainder < 5e-9). Results below 2^-126 are 0 (v^2.4 that small is 0
// cd/m² at any peak).
TMN_INLINE float fast_exp2(float x) {
    x = x < -126.0f ? -127.0f : x;
    const float n = std::nearbyint(x);
    const float t = (x - n) * 0.693147180559945309f;
    const float p = 1.0f + t * (1.0f + t * (1.0f / 2.0f + t * (1.0f / 6.0f + t * (1.0f / 24.0f + t * (1.0f / 120.0f +
                    t * (1.0f / 720.0f + t * (1.0f / 5040.0f)))))));
    const int32_t ni = (int32_t)n;
    const float scale = bits_to_float((uint32_t)(ni + 127) << 23);
    return ni < -126 ? 0.0f : p * scale;
}

TMN_INLINE float sanitise(float c) {
    // torch.nan_to_num(nan=0, posinf=1e4, neginf=0).clamp(min=0)
    c = c != c ? 0.0f : c;
    c = c > std::numeric_limits<float>::max() ? 1e4f : c;  // +inf only
    return c > 0.0f ? c : 0.0f;
}

// Pixels [c_begin, W) of row i, one at a time (the reference; the AVX2 row's tail).
TMN_INLINE void process_row_body(const TMNetJob& j, int64_t i, int64_t c_begin) {
    const int64_t W = j.width;
    const int64_t plane = j.height * W;
    const int D = j.bins;
    const float* xr = j.x + i * W;
    const float* xg = xr + plane;
    const float* xb = xg + plane;
    float* orr = j.out + i * W;
    float* og = orr + plane;
    float* ob = og + plane;
    const int64_t dw = (int64_t)D * W;
    const float* t0 = j.table + (int64_t)j.row0[i] * dw;
    const float* t1 = t0 + dw;
    const float rw = j.roww[i];
    const float zmax = (float)(D - 2);
    const float dm1 = (float)(D - 1);
    const float peak = j.peak;
    const float la = j.log2_anchor;
    const float tiny = 1e-12f;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
    for (int64_t c = c_begin; c < W; ++c) {
        const float r = sanitise(xr[c]);
        const float g = sanitise(xg[c]);
        const float b = sanitise(xb[c]);
        const float y = 0.2627f * r + 0.6780f * g + 0.0593f * b;
        // log_encode
        const float yc = y < 1e-8f ? 1e-8f : y;
        float e = (fast_log2(yc) - la) * (1.0f / 24.0f) + 0.5f;
        e = e < 0.0f ? 0.0f : (e > 1.0f ? 1.0f : e);
        // slice_grid
        const float z = e * dm1;
        float k0 = std::floor(z);
        k0 = k0 > zmax ? zmax : k0;
        const float kw = z - k0;
        const int64_t idx = c * D + (int64_t)k0;
        const float v00 = t0[idx], v01 = t0[idx + 1], v10 = t1[idx], v11 = t1[idx + 1];
        const float top_v = v00 + kw * (v01 - v00);
        const float bottom_v = v10 + kw * (v11 - v10);
        float v = top_v + rw * (bottom_v - top_v);
        // _carry_colour, desat == 1
        v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        const float p = v > 0.0f ? fast_exp2(2.4f * fast_log2(v)) : 0.0f;
        const float l_out = peak * p;
        const float ys = y < tiny ? tiny : y;
        const float ratio = l_out / ys;
        const float mx = std::max(std::max(r, g), b);
        const float top = mx * ratio;
        float den = top - l_out;
        den = den < tiny ? tiny : den;
        float t = (peak - l_out) / den;
        t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
        t = top > peak ? t : 1.0f;
        const float base = l_out * (1.0f - t);
        const float gain = t * ratio;
        const bool lit = y > tiny;
        float o0 = lit ? base + r * gain : l_out;
        float o1 = lit ? base + g * gain : l_out;
        float o2 = lit ? base + b * gain : l_out;
        o0 = o0 < 0.0f ? 0.0f : (o0 > peak ? peak : o0);
        o1 = o1 < 0.0f ? 0.0f : (o1 > peak ? peak : o1);
        o2 = o2 < 0.0f ? 0.0f : (o2 > peak ? peak : o2);
        orr[c] = o0;
        og[c] = o1;
        ob[c] = o2;
    }
}

void process_row_default(const TMNetJob& j, int64_t i) { process_row_body(j, i, 0); }

#if TMN_AVX2
TMN_TARGET_AVX2 TMN_INLINE __m256 v_log2(__m256 x) {
    // fast_log2, 8 lanes (same operations in the same order)
    const __m256i u = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff)),
                                 _mm256_set1_epi32(127));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));
    const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // mask is -1: e + 1
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
    const __m256 s2 = _mm256_mul_ps(s, s);
    __m256 poly = _mm256_add_ps(_mm256_set1_ps(1.0f / 7.0f), _mm256_mul_ps(s2, _mm256_set1_ps(1.0f / 9.0f)));
    poly = _mm256_add_ps(_mm256_set1_ps(1.0f / 5.0f), _mm256_mul_ps(s2, poly));
    poly = _mm256_add_ps(_mm256_set1_ps(1.0f / 3.0f), _mm256_mul_ps(s2, poly));
    poly = _mm256_add_ps(one, _mm256_mul_ps(s2, poly));
    const __m256 k = _mm256_set1_ps(2.0f * 1.44269504088896341f);
    return _mm256_add_ps(_mm256_cvtepi32_ps(e), _mm256_mul_ps(_mm256_mul_ps(k, s), poly));
}

TMN_TARGET_AVX2 TMN_INLINE __m256 v_exp2(__m256 x) {
    // fast_exp2, 8 lanes
    x = _mm256_blendv_ps(x, _mm256_set1_ps(-127.0f), _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_LT_OQ));
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 t = _mm256_mul_ps(_mm256_sub_ps(x, n), _mm256_set1_ps(0.693147180559945309f));
    __m256 p = _mm256_add_ps(_mm256_set1_ps(1.0f / 720.0f), _mm256_mul_ps(t, _mm256_set1_ps(1.0f / 5040.0f)));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f / 120.0f), _mm256_mul_ps(t, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f / 24.0f), _mm256_mul_ps(t, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f / 6.0f), _mm256_mul_ps(t, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f / 2.0f), _mm256_mul_ps(t, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(t, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(t, p));
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ni, _mm256_set1_epi32(-127)));
    return _mm256_and_ps(_mm256_mul_ps(p, scale), keep);
}

TMN_TARGET_AVX2 TMN_INLINE __m256 v_sanitise(__m256 c) {
    c = _mm256_and_ps(c, _mm256_cmp_ps(c, c, _CMP_ORD_Q));                                        // NaN -> 0
    const __m256 posinf = _mm256_cmp_ps(c, _mm256_set1_ps(std::numeric_limits<float>::max()), _CMP_GT_OQ);
    c = _mm256_blendv_ps(c, _mm256_set1_ps(1e4f), posinf);                                      // +inf -> 1e4
    return _mm256_max_ps(c, _mm256_setzero_ps());
}

TMN_TARGET_AVX2 TMN_INLINE __m256 v_clamp(__m256 v, __m256 lo, __m256 hi) {
    return _mm256_min_ps(_mm256_max_ps(v, lo), hi);
}

// For 8 float indices, fetch (t[idx], t[idx + 1]) per lane with two 4-lane 64-bit gathers and
// split them into the first and second values, in lane order.
TMN_TARGET_AVX2 TMN_INLINE void gather_pairs(const float* t, __m256i idx, __m256& first, __m256& second) {
    const __m256 lo = _mm256_castpd_ps(_mm256_i32gather_pd((const double*)t, _mm256_castsi256_si128(idx), 4));
    const __m256 hi = _mm256_castpd_ps(_mm256_i32gather_pd((const double*)t, _mm256_extracti128_si256(idx, 1), 4));
    // lo = [a0 b0 a1 b1 | a2 b2 a3 b3], hi = [a4 b4 a5 b5 | a6 b6 a7 b7]
    const __m256 ev = _mm256_shuffle_ps(lo, hi, 0x88);  // [a0 a1 a4 a5 | a2 a3 a6 a7]
    const __m256 od = _mm256_shuffle_ps(lo, hi, 0xDD);  // [b0 b1 b4 b5 | b2 b3 b6 b7]
    first = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
    second = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xD8));
}

TMN_TARGET_AVX2 void process_row_avx2(const TMNetJob& j, int64_t i) {
    const int64_t W = j.width;
    const int64_t plane = j.height * W;
    const float* xr = j.x + i * W;
    const float* xg = xr + plane;
    const float* xb = xg + plane;
    float* orr = j.out + i * W;
    float* og = orr + plane;
    float* ob = og + plane;
    const int64_t dw = (int64_t)j.bins * W;
    const float* t0 = j.table + (int64_t)j.row0[i] * dw;
    const float* t1 = t0 + dw;
    const __m256 rw = _mm256_set1_ps(j.roww[i]);
    const __m256 zmax = _mm256_set1_ps((float)(j.bins - 2));
    const __m256 dm1 = _mm256_set1_ps((float)(j.bins - 1));
    const __m256 peak = _mm256_set1_ps(j.peak);
    const __m256 la = _mm256_set1_ps(j.log2_anchor);
    const __m256 tiny = _mm256_set1_ps(1e-12f);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256i dv = _mm256_set1_epi32(j.bins);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int64_t c = 0;
    for (; c + 8 <= W; c += 8) {
        const __m256 r = v_sanitise(_mm256_loadu_ps(xr + c));
        const __m256 g = v_sanitise(_mm256_loadu_ps(xg + c));
        const __m256 b = v_sanitise(_mm256_loadu_ps(xb + c));
        const __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.2627f), r),
                                                     _mm256_mul_ps(_mm256_set1_ps(0.6780f), g)),
                                       _mm256_mul_ps(_mm256_set1_ps(0.0593f), b));
        const __m256 yc = _mm256_max_ps(y, _mm256_set1_ps(1e-8f));
        __m256 e = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v_log2(yc), la), _mm256_set1_ps(1.0f / 24.0f)),
                                 _mm256_set1_ps(0.5f));
        e = v_clamp(e, zero, one);
        const __m256 z = _mm256_mul_ps(e, dm1);
        const __m256 k0 = _mm256_min_ps(_mm256_floor_ps(z), zmax);
        const __m256 kw = _mm256_sub_ps(z, k0);
        // float index of bin k0 of column c + lane; each 64-bit gather lane fetches (k0, k0 + 1)
        const __m256i col = _mm256_add_epi32(_mm256_set1_epi32((int32_t)c), lanes);
        const __m256i idx = _mm256_add_epi32(_mm256_cvttps_epi32(k0), _mm256_mullo_epi32(col, dv));
        __m256 v00, v01, v10, v11;
        gather_pairs(t0, idx, v00, v01);
        gather_pairs(t1, idx, v10, v11);
        const __m256 top_v = _mm256_add_ps(v00, _mm256_mul_ps(kw, _mm256_sub_ps(v01, v00)));
        const __m256 bottom_v = _mm256_add_ps(v10, _mm256_mul_ps(kw, _mm256_sub_ps(v11, v10)));
        __m256 v = _mm256_add_ps(top_v, _mm256_mul_ps(rw, _mm256_sub_ps(bottom_v, top_v)));
        v = v_clamp(v, zero, one);
        const __m256 positive = _mm256_cmp_ps(v, zero, _CMP_GT_OQ);
        const __m256 vs = _mm256_blendv_ps(one, v, positive);  // keep log2 finite on masked lanes
        const __m256 p = _mm256_and_ps(v_exp2(_mm256_mul_ps(_mm256_set1_ps(2.4f), v_log2(vs))), positive);
        const __m256 l_out = _mm256_mul_ps(peak, p);
        const __m256 ys = _mm256_max_ps(y, tiny);
        const __m256 ratio = _mm256_div_ps(l_out, ys);
        const __m256 top = _mm256_mul_ps(_mm256_max_ps(_mm256_max_ps(r, g), b), ratio);
        const __m256 den = _mm256_max_ps(_mm256_sub_ps(top, l_out), tiny);
        __m256 t = v_clamp(_mm256_div_ps(_mm256_sub_ps(peak, l_out), den), zero, one);
        t = _mm256_blendv_ps(one, t, _mm256_cmp_ps(top, peak, _CMP_GT_OQ));
        const __m256 base = _mm256_mul_ps(l_out, _mm256_sub_ps(one, t));
        const __m256 gain = _mm256_mul_ps(t, ratio);
        const __m256 lit = _mm256_cmp_ps(y, tiny, _CMP_GT_OQ);
        const __m256 o0 = _mm256_blendv_ps(l_out, _mm256_add_ps(base, _mm256_mul_ps(r, gain)), lit);
        const __m256 o1 = _mm256_blendv_ps(l_out, _mm256_add_ps(base, _mm256_mul_ps(g, gain)), lit);
        const __m256 o2 = _mm256_blendv_ps(l_out, _mm256_add_ps(base, _mm256_mul_ps(b, gain)), lit);
        _mm256_storeu_ps(orr + c, v_clamp(o0, zero, peak));
        _mm256_storeu_ps(og + c, v_clamp(o1, zero, peak));
        _mm256_storeu_ps(ob + c, v_clamp(o2, zero, peak));
    }
    process_row_body(j, i, c);
}
#endif

bool has_avx2() {
#if TMN_AVX2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

using FloatArray = py::array_t<float, py::array::c_style>;
using IntArray = py::array_t<int32_t, py::array::c_style>;

void tmnet_apply(FloatArray x, FloatArray grid, IntArray col0, FloatArray colw, IntArray row0, FloatArray roww,
                 FloatArray out, float log2_anchor, float peak_nits, int threads, bool simd) {
    if (x.ndim() != 3 || x.shape(0) != 3) throw py::value_error("tmnet_apply: x must be (3, H, W) float32");
    const int64_t H = x.shape(1), W = x.shape(2);
    if (out.ndim() != 3 || out.shape(0) != 3 || out.shape(1) != H || out.shape(2) != W)
        throw py::value_error("tmnet_apply: out must be (3, H, W) like x");
    if (grid.ndim() != 3 || grid.shape(0) < 2 || grid.shape(1) < 2 || grid.shape(2) < 2)
        throw py::value_error("tmnet_apply: grid must be (D, GH, GW) with D, GH, GW >= 2");
    if (row0.ndim() != 1 || row0.shape(0) != H || roww.ndim() != 1 || roww.shape(0) != H)
        throw py::value_error("tmnet_apply: row0 and roww must be (H,)");
    if (col0.ndim() != 1 || col0.shape(0) != W || colw.ndim() != 1 || colw.shape(0) != W)
        throw py::value_error("tmnet_apply: col0 and colw must be (W,)");
    const int64_t D = grid.shape(0), GH = grid.shape(1), GW = grid.shape(2);
    if (GH * D * W > INT32_MAX) throw py::value_error("tmnet_apply: frame too wide for 32-bit gather indices");
    const int32_t* r0 = row0.data();
    for (int64_t i = 0; i < H; ++i)
        if (r0[i] < 0 || r0[i] > GH - 2) throw py::value_error("tmnet_apply: row0 out of [0, GH - 2]");
    const int32_t* c0 = col0.data();
    for (int64_t c = 0; c < W; ++c)
        if (c0[c] < 0 || c0[c] > GW - 2) throw py::value_error("tmnet_apply: col0 out of [0, GW - 2]");
    if (!out.writeable()) throw py::value_error("tmnet_apply: out is read-only");
    TMNetJob j{};
    j.x = x.data();
    j.out = out.mutable_data();
    std::vector<float> table((size_t)(GH * D * W));
    j.table = table.data();
    j.row0 = r0;
    j.roww = roww.data();
    j.height = H;
    j.width = W;
    j.bins = (int)D;
    j.log2_anchor = log2_anchor;
    j.peak = peak_nits;
    const bool avx2 = simd && has_avx2();
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    py::gil_scoped_release release;
    {
        // The grid interpolated along x (slice_grid's ``rows``), laid out (GH, W, D).
        const float* gp = grid.data();
        const float* cw = colw.data();
        float* tp = table.data();
#pragma omp parallel for schedule(static) num_threads(threads) if (GH * D * W > 65536)
        for (int64_t r = 0; r < GH; ++r) {
            for (int64_t k = 0; k < D; ++k) {
                const float* src = gp + (k * GH + r) * GW;
                float* dst = tp + r * W * D + k;
                for (int64_t c = 0; c < W; ++c) {
                    const float a = src[c0[c]], b = src[c0[c] + 1];
                    dst[c * D] = a + cw[c] * (b - a);
                }
            }
        }
    }
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
    for (int64_t i = 0; i < H; ++i) {
#if TMN_AVX2
        if (avx2) {
            process_row_avx2(j, i);
            continue;
        }
#endif
        process_row_default(j, i);
    }
    (void)avx2;
}

// Area average of the sanitised frame (``low_resolution``: nan_to_num, clamp at 0, then
// F.interpolate(mode="area") = adaptive_avg_pool2d), summed in ATen's order (window rows, then
// columns, float accumulator, sum / kh / kw) so the result is torch's to the bit.
TMN_INLINE void area_row_scalar(const float* plane, int64_t W, int64_t OW, int64_t ih0, int64_t ih1, float* orow,
                                int64_t ow_begin) {
    const int64_t kh = ih1 - ih0;
    for (int64_t ow = ow_begin; ow < OW; ++ow) {
        const int64_t iw0 = (int64_t)std::floor((float)(ow * W) / OW);
        const int64_t iw1 = (int64_t)std::ceil((float)((ow + 1) * W) / OW);
        const int64_t kw = iw1 - iw0;
        float sum = 0.0f;
        for (int64_t ih = ih0; ih < ih1; ++ih) {
            const float* row = plane + ih * W;
            for (int64_t iw = iw0; iw < iw1; ++iw) sum += sanitise(row[iw]);
        }
        orow[ow] = sum / (float)kh / (float)kw;
    }
}

#if TMN_AVX2
TMN_TARGET_AVX2 TMN_INLINE void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Eight outputs at a time, one lane each: each window row is read as contiguous blocks of 8
// samples per output and transposed, so lane l then adds its window's samples one by one in
// the scalar order (rows, then columns); samples past a lane's window are added as +0, which
// leaves its sum unchanged to the bit (sums of sanitised samples are never -0).
TMN_TARGET_AVX2 void area_row_avx2(const float* plane, int64_t W, int64_t OW, int64_t ih0, int64_t ih1, float* orow) {
    const int64_t kh = ih1 - ih0;
    int64_t ow = 0;
    for (; ow + 8 <= OW; ow += 8) {
        int64_t start[8];
        alignas(32) int32_t width[8];
        alignas(32) float kwf[8];
        int64_t widest = 0, reach = 0;
        for (int l = 0; l < 8; ++l) {
            const int64_t o = ow + l;
            const int64_t iw0 = (int64_t)std::floor((float)(o * W) / OW);
            const int64_t iw1 = (int64_t)std::ceil((float)((o + 1) * W) / OW);
            start[l] = iw0;
            width[l] = (int32_t)(iw1 - iw0);
            kwf[l] = (float)(iw1 - iw0);
            widest = std::max(widest, iw1 - iw0);
        }
        const int64_t blocks = (widest + 7) / 8;
        for (int l = 0; l < 8; ++l) reach = std::max(reach, start[l] + 8 * blocks);
        if (reach > W) break;  // the blocks would read past the row: the rest in scalar code
        const __m256i wd = _mm256_load_si256((const __m256i*)width);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t ih = ih0; ih < ih1; ++ih) {
            const float* row = plane + ih * W;
            for (int64_t bk = 0; bk < blocks; ++bk) {
                __m256 r[8];
                for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(row + start[l] + 8 * bk);
                transpose8(r);
                const int64_t n = std::min<int64_t>(8, widest - 8 * bk);
                for (int64_t k = 0; k < n; ++k) {
                    const __m256 inside =
                        _mm256_castsi256_ps(_mm256_cmpgt_epi32(wd, _mm256_set1_epi32((int32_t)(8 * bk + k))));
                    sum = _mm256_add_ps(sum, _mm256_and_ps(v_sanitise(r[k]), inside));
                }
            }
        }
        const __m256 avg = _mm256_div_ps(_mm256_div_ps(sum, _mm256_set1_ps((float)kh)), _mm256_load_ps(kwf));
        _mm256_storeu_ps(orow + ow, avg);
    }
    area_row_scalar(plane, W, OW, ih0, ih1, orow, ow);
}
#endif

void tmnet_low_resolution(FloatArray x, FloatArray out, int threads, bool simd) {
    if (x.ndim() != 3 || x.shape(0) != 3) throw py::value_error("tmnet_low_resolution: x must be (3, H, W) float32");
    if (out.ndim() != 3 || out.shape(0) != 3) throw py::value_error("tmnet_low_resolution: out must be (3, h, w)");
    const int64_t H = x.shape(1), W = x.shape(2), OH = out.shape(1), OW = out.shape(2);
    if (H < 1 || W < 1 || OH < 1 || OW < 1) throw py::value_error("tmnet_low_resolution: empty frame");
    if (!out.writeable()) throw py::value_error("tmnet_low_resolution: out is read-only");
    const float* xp = x.data();
    float* op = out.mutable_data();
    const bool avx2 = simd && has_avx2();
    (void)avx2;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    py::gil_scoped_release release;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
    for (int64_t co = 0; co < 3 * OH; ++co) {
        const int64_t ch = co / OH, oh = co % OH;
        // ATen's start_index / end_index (AdaptivePooling.h), float division as there
        const int64_t ih0 = (int64_t)std::floor((float)(oh * H) / OH);
        const int64_t ih1 = (int64_t)std::ceil((float)((oh + 1) * H) / OH);
        const float* plane = xp + ch * H * W;
        float* orow = op + (ch * OH + oh) * OW;
#if TMN_AVX2
        if (avx2) {
            area_row_avx2(plane, W, OW, ih0, ih1, orow);
            continue;
        }
#endif
        area_row_scalar(plane, W, OW, ih0, ih1, orow, 0);
    }
}

}  // namespace

void register_tmnet_apply(py::module_& m) {
    m.def("tmnet_apply", &tmnet_apply, py::arg("x"), py::arg("grid"), py::arg("col0"), py::arg("colw"),
          py::arg("row0"), py::arg("roww"),
          py::arg("out").noconvert(), py::arg("log2_anchor"), py::arg("peak_nits"), py::arg("threads") = 0,
          py::arg("simd") = true,
          "Full-resolution step of tonemap=curve=net (apply_grid, desat 1) on a float32 (3, H, W) frame "
          "into out (3, H, W), cd/m²; grid (D, GH, GW); col0/colw, row0/roww: left node and weight of "
          "each column/row (slice_grid's _axis). GIL released.");
    m.def("tmnet_low_resolution", &tmnet_low_resolution, py::arg("x"), py::arg("out").noconvert(),
          py::arg("threads") = 0, py::arg("simd") = true,
          "Area average of the sanitised (3, H, W) float32 frame into out (3, h, w), as low_resolution "
          "(ATen's adaptive_avg_pool2d order of summation). GIL released.");
}
