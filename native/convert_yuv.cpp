// Coded Y'CbCr planes <-> the working space (linear light, cd/m²), the native version of
// hdrvideo/io/convert.py's ``frame_to_working`` and ``working_to_frame`` for transfers that act
// on each component alone (PQ, BT.1886, sRGB, gamma, linear) and, for decoding, HLG (its
// per-component inverse OETF, then the OOTF from the luminance). Rows split across OpenMP threads.
//
// Decode (``yuv_to_linear``), per pixel of planar 8-16 bit Y'CbCr 4:2:0, 4:2:2 or 4:4:4:
//
//   chroma up-sampled as ``upsample_chroma`` (horizontal, then vertical, with the weights and
//   indices the caller computes exactly as torch does: "left" siting, rows centred)
//   -> Y' = (D - off) * (1 / scale), C likewise (ITU-R BT.2100-2 Table 9)
//   -> R' = Y' + a Cr, G' = Y' + b Cb + c Cr, B' = Y' + d Cb, each clamped to [0, 1]
//   -> EOTF table (value, slope) at R', G', B' -> HLG only: OOTF gain from a table at the
//   fourth root of the scene luminance -> optional 3x3 primaries matrix.
//
// Encode (``linear_to_yuv``), per pixel of a float32 (3, H, W) frame:
//
//   optional 3x3 primaries matrix -> negative light clipped -> OETF table at
//   (L * inv_scale)^(1/root) (root 1, 2 or 4; index clamped to [0, 1]) -> signal clamped to
//   [0, 1] -> Y'CbCr matrix -> chroma down-sampled as ``downsample_chroma`` ([1, 2, 1] / 4 on
//   even columns, then the mean of the row pair) -> code = value * scale + offset -> optional
//   TPDF noise (lowbias32 hash of the sample's index in the frame, as the fused kernel)
//   -> clamp to [0, max] -> round half up -> store.
//
// The tables and constants are built in Python (hdrvideo/io/native_convert.py), so the only
// difference from the float32 torch path is the table interpolation of the transfer function
// (relative error stated there and tested).
//
// ``register_convert_yuv`` adds both functions to the one module ``hdrvideo._native`` (its
// PYBIND11_MODULE is in native/tonemap_yuv.cpp).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "kernel_common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

namespace {

using namespace hdrv_common;  // Table, lookup(8), check_table, clamp01(_8), tpdf_noise(8), store8, cpu_has_avx2

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

const float* as_matrix(const FloatArray& m, const char* name) {
    if (m.size() == 0) return nullptr;
    if (m.size() != 9) throw py::value_error(std::string(name) + ": expected 9 values (3x3, row-major) or none");
    return m.data();
}

void check_index(const IntArray& index, const FloatArray& weight, py::ssize_t n, py::ssize_t limit, const char* name) {
    if (index.ndim() != 2 || index.shape(0) != n || index.shape(1) != 2 || weight.size() != n)
        throw py::value_error(std::string(name) + ": expected (n, 2) indices and (n,) weights");
    const int32_t* p = index.data();
    for (py::ssize_t i = 0; i < 2 * n; ++i)
        if (p[i] < 0 || p[i] >= limit) throw py::value_error(std::string(name) + ": index out of range");
}

// -- decode --------------------------------------------------------------------------------
// The HLG OOTF (ITU-R BT.2100-2 Table 5, L_B = 0), when the EOTF table gave scene light:
// F = alpha * Ys^(gamma - 1) * E, Ys the BT.2100 luminance of E (>= 0 here), Ys^(gamma - 1) a
// table at Ys^(1/4). ``table.n == 0``: no OOTF (the EOTF table gave display light).
struct Ootf {
    Table table;
    float w_r, w_g, w_b, alpha;
};

// Pixels from .. W of one row: Y' from its code, R'G'B' with the row's chroma, EOTF table,
// OOTF, primaries. k: y_off, y_inv, c_off, c_inv, cr_r, cb_g, cr_g, cb_b.
template <typename T>
void decode_luma(const T* yrow, const float* cb, const float* cr, const Table& eotf, const Ootf& ootf, const float* k,
                 const float* m, float* ro, float* go, float* bo, int from, int W) {
    for (int x = from; x < W; ++x) {
        const float yv = ((float)yrow[x] - k[0]) * k[1];
        float r = lookup(eotf, clamp01(yv + k[4] * cr[x]));
        float g = lookup(eotf, clamp01((yv + k[5] * cb[x]) + k[6] * cr[x]));
        float b = lookup(eotf, clamp01(yv + k[7] * cb[x]));
        if (ootf.table.n) {
            const float ys = (ootf.w_r * r + ootf.w_g * g) + ootf.w_b * b;
            const float gain = ootf.alpha * lookup(ootf.table, std::sqrt(std::sqrt(clamp01(ys))));
            r = gain * r; g = gain * g; b = gain * b;
        }
        if (m) mat3(m, r, g, b, r, g, b);
        ro[x] = r; go[x] = g; bo[x] = b;
    }
}

#if HDRV_AVX2
HDRV_TARGET_AVX2 HDRV_INLINE __m256 load8(const uint16_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

HDRV_TARGET_AVX2 HDRV_INLINE __m256 load8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// decode_luma 8 pixels at a time (same operations, same order: same floats); returns where it stopped.
template <typename T>
HDRV_TARGET_AVX2 int decode_luma_avx2(const T* yrow, const float* cb, const float* cr, const Table& eotf,
                                      const Ootf& ootf, const float* k, const float* m, float* ro, float* go,
                                      float* bo, int W) {
    const __m256 y_off = _mm256_set1_ps(k[0]), y_inv = _mm256_set1_ps(k[1]);
    const __m256 cr_r = _mm256_set1_ps(k[4]), cb_g = _mm256_set1_ps(k[5]), cr_g = _mm256_set1_ps(k[6]),
                 cb_b = _mm256_set1_ps(k[7]);
    int x = 0;
    for (; x + 8 <= W; x += 8) {
        const __m256 yv = _mm256_mul_ps(_mm256_sub_ps(load8(yrow + x), y_off), y_inv);
        const __m256 vb = _mm256_loadu_ps(cb + x), vr = _mm256_loadu_ps(cr + x);
        __m256 r = lookup8(eotf, clamp01_8(_mm256_add_ps(yv, _mm256_mul_ps(cr_r, vr))));
        __m256 g = lookup8(eotf, clamp01_8(_mm256_add_ps(_mm256_add_ps(yv, _mm256_mul_ps(cb_g, vb)),
                                                         _mm256_mul_ps(cr_g, vr))));
        __m256 b = lookup8(eotf, clamp01_8(_mm256_add_ps(yv, _mm256_mul_ps(cb_b, vb))));
        if (ootf.table.n) {
            const float w[3] = {ootf.w_r, ootf.w_g, ootf.w_b};
            const __m256 ys = clamp01_8(dot3_8(w, r, g, b));
            const __m256 gain = _mm256_mul_ps(_mm256_set1_ps(ootf.alpha),
                                              lookup8(ootf.table, _mm256_sqrt_ps(_mm256_sqrt_ps(ys))));
            r = _mm256_mul_ps(gain, r); g = _mm256_mul_ps(gain, g); b = _mm256_mul_ps(gain, b);
        }
        if (m) mat3_8(m, r, g, b, r, g, b);
        _mm256_storeu_ps(ro + x, r);
        _mm256_storeu_ps(go + x, g);
        _mm256_storeu_ps(bo + x, b);
    }
    return x;
}
#endif

template <typename T>
void decode_rows(const py::array& y, const py::array& u, const py::array& v, const int32_t* crow, const float* crow_w,
                 const int32_t* ccol, const float* ccol_w, const Table& eotf, const Ootf& ootf, const float* k,
                 const float* m, float* out, int H, int W, int threads, bool avx2) {
    const auto* yp = static_cast<const T*>(y.data());
    const auto* up = static_cast<const T*>(u.data());
    const auto* vp = static_cast<const T*>(v.data());
    const ptrdiff_t ys = y.strides(0) / (ptrdiff_t)sizeof(T), us = u.strides(0) / (ptrdiff_t)sizeof(T),
                    vs = v.strides(0) / (ptrdiff_t)sizeof(T);
    const ptrdiff_t plane = (ptrdiff_t)H * W;
    const float c_off = k[2], c_inv = k[3];  // k: y_off, y_inv, c_off, c_inv, cr_r, cb_g, cr_g, cb_b
    (void)avx2;
#pragma omp parallel num_threads(threads) if (plane > 65536)
    {
        std::vector<float> cb(W), cr(W);
#pragma omp for schedule(static)
        for (int row = 0; row < H; ++row) {
            // Chroma of this row: horizontal interpolation of the two chroma rows, then vertical
            // (upsample_chroma's order: out[.., i0] * (1 - w) + out[.., i1] * w per axis).
            const int r0 = crow[2 * row], r1 = crow[2 * row + 1];
            const float wy = crow_w[row], wy0 = 1.0f - wy;
            const T* u0 = up + (ptrdiff_t)r0 * us; const T* u1 = up + (ptrdiff_t)r1 * us;
            const T* v0 = vp + (ptrdiff_t)r0 * vs; const T* v1 = vp + (ptrdiff_t)r1 * vs;
            for (int x = 0; x < W; ++x) {
                const int c0 = ccol[2 * x], c1 = ccol[2 * x + 1];
                const float wx = ccol_w[x], wx0 = 1.0f - wx;
                const float uh0 = (float)u0[c0] * wx0 + (float)u0[c1] * wx;
                const float uh1 = (float)u1[c0] * wx0 + (float)u1[c1] * wx;
                const float vh0 = (float)v0[c0] * wx0 + (float)v0[c1] * wx;
                const float vh1 = (float)v1[c0] * wx0 + (float)v1[c1] * wx;
                cb[x] = ((uh0 * wy0 + uh1 * wy) - c_off) * c_inv;
                cr[x] = ((vh0 * wy0 + vh1 * wy) - c_off) * c_inv;
            }
            float* ro = out + (ptrdiff_t)row * W;
            int x = 0;
#if HDRV_AVX2
            if (avx2) x = decode_luma_avx2(yp + (ptrdiff_t)row * ys, cb.data(), cr.data(), eotf, ootf, k, m, ro,
                                           ro + plane, ro + 2 * plane, W);
#endif
            decode_luma(yp + (ptrdiff_t)row * ys, cb.data(), cr.data(), eotf, ootf, k, m, ro, ro + plane, ro + 2 * plane,
                        x, W);
        }
    }
}

void yuv_to_linear(py::array y, py::array u, py::array v, IntArray crow, FloatArray crow_w, IntArray ccol,
                   FloatArray ccol_w, FloatArray eotf, FloatArray coefficients, FloatArray primaries,
                   py::array_t<float, py::array::c_style> out, int threads, bool simd, FloatArray ootf_table,
                   FloatArray ootf_coefficients) {
    if (y.ndim() != 2 || u.ndim() != 2 || v.ndim() != 2) throw py::value_error("planes: expected 2-D arrays");
    const py::ssize_t H = y.shape(0), W = y.shape(1), h = u.shape(0), w = u.shape(1);
    if (H < 1 || W < 1 || h < 1 || w < 1) throw py::value_error("planes: empty");
    check_plane2d(y, "y", H, W);
    check_plane2d(u, "u", h, w);
    check_plane2d(v, "v", h, w);
    if (!y.dtype().is(u.dtype()) || !y.dtype().is(v.dtype())) throw py::value_error("planes: mixed dtypes");
    check_index(crow, crow_w, H, h, "crow");
    check_index(ccol, ccol_w, W, w, "ccol");
    if (coefficients.size() != 8) throw py::value_error("coefficients: expected 8 values");
    if (out.ndim() != 3 || out.shape(0) != 3 || out.shape(1) != H || out.shape(2) != W || !out.writeable())
        throw py::value_error("out: expected a writeable (3, H, W) float32 array");
    const Table table = check_table(eotf, "eotf");
    Ootf ootf{Table{nullptr, 0, 0.0f}, 0.0f, 0.0f, 0.0f, 0.0f};
    if (ootf_table.size() > 0) {
        if (ootf_coefficients.size() != 4) throw py::value_error("ootf_coefficients: expected (w_r, w_g, w_b, alpha)");
        const float* c = ootf_coefficients.data();
        ootf = Ootf{check_table(ootf_table, "ootf_table"), c[0], c[1], c[2], c[3]};
    }
    const float* m = as_matrix(primaries, "primaries");
    const float* k = coefficients.data();
    float* o = out.mutable_data();
    const int n = omp_threads(threads);
    const bool wide = y.dtype().is(py::dtype::of<uint16_t>());
    if (!wide && !y.dtype().is(py::dtype::of<uint8_t>())) throw py::value_error("planes: expected uint8 or uint16");
    const bool avx2 = simd && cpu_has_avx2();
    py::gil_scoped_release release;
    if (wide)
        decode_rows<uint16_t>(y, u, v, crow.data(), crow_w.data(), ccol.data(), ccol_w.data(), table, ootf, k, m, o,
                              (int)H, (int)W, n, avx2);
    else
        decode_rows<uint8_t>(y, u, v, crow.data(), crow_w.data(), ccol.data(), ccol_w.data(), table, ootf, k, m, o,
                             (int)H, (int)W, n, avx2);
}

// -- encode --------------------------------------------------------------------------------
struct EncodeJob {
    const float* x;  // (3, H, W)
    int H, W, sub_w, sub_h;
    const float* m;  // primaries matrix or null
    Table oetf;
    int root;
    float inv_scale;
    const float* ycc;  // (3, 3) Y'CbCr matrix
    float y_scale, y_off, c_scale, c_off, top;
    bool dither;
    uint32_t key;
};

// R'G'B' signal of pixels from .. W of one row -> Y' codes (stored) and per-pixel Cb, Cr
// (returned in cb, cr).
template <typename T>
void encode_row(const EncodeJob& j, int row, T* yout, uint32_t index0, float* cb, float* cr, int from = 0) {
    const ptrdiff_t plane = (ptrdiff_t)j.H * j.W;
    const float* rx = j.x + (ptrdiff_t)row * j.W;
    const float* gx = rx + plane;
    const float* bx = gx + plane;
    const float* c = j.ycc;
    for (int x = from; x < j.W; ++x) {
        float r = rx[x], g = gx[x], b = bx[x];
        if (j.m) mat3(j.m, r, g, b, r, g, b);
        float s[3] = {r, g, b};
        for (float& e : s) {
            float t = clamp01((e > 0.0f ? e : 0.0f) * j.inv_scale);  // negative and NaN -> 0
            if (j.root == 2) t = std::sqrt(t);
            else if (j.root == 4) t = std::sqrt(std::sqrt(t));
            e = clamp01(lookup(j.oetf, t));
        }
        const float yv = (c[0] * s[0] + c[1] * s[1]) + c[2] * s[2];
        cb[x] = (c[3] * s[0] + c[4] * s[1]) + c[5] * s[2];
        cr[x] = (c[6] * s[0] + c[7] * s[1]) + c[8] * s[2];
        float q = yv * j.y_scale + j.y_off;
        if (j.dither) q = q + tpdf_noise(j.key, index0 + (uint32_t)x);
        q = std::min(std::max(q, 0.0f), j.top);
        yout[x] = (T)(int)(q + 0.5f);
    }
}

#if HDRV_AVX2
HDRV_TARGET_AVX2 HDRV_INLINE __m256 encode_signal8(const EncodeJob& j, __m256 e) {
    __m256 t = clamp01_8(_mm256_mul_ps(_mm256_max_ps(e, _mm256_setzero_ps()), _mm256_set1_ps(j.inv_scale)));
    if (j.root == 2) t = _mm256_sqrt_ps(t);
    else if (j.root == 4) t = _mm256_sqrt_ps(_mm256_sqrt_ps(t));
    return clamp01_8(lookup8(j.oetf, t));
}

// encode_row 8 pixels at a time (same operations, same order: same codes); returns where it stopped.
template <typename T>
HDRV_TARGET_AVX2 int encode_row_avx2(const EncodeJob& j, int row, T* yout, uint32_t index0, float* cb, float* cr) {
    const ptrdiff_t plane = (ptrdiff_t)j.H * j.W;
    const float* rx = j.x + (ptrdiff_t)row * j.W;
    const float* gx = rx + plane;
    const float* bx = gx + plane;
    const __m256 y_scale = _mm256_set1_ps(j.y_scale), y_off = _mm256_set1_ps(j.y_off);
    const __m256 top = _mm256_set1_ps(j.top), half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    int x = 0;
    for (; x + 8 <= j.W; x += 8) {
        __m256 r = _mm256_loadu_ps(rx + x), g = _mm256_loadu_ps(gx + x), b = _mm256_loadu_ps(bx + x);
        if (j.m) mat3_8(j.m, r, g, b, r, g, b);
        r = encode_signal8(j, r);
        g = encode_signal8(j, g);
        b = encode_signal8(j, b);
        const __m256 yv = dot3_8(j.ycc, r, g, b);
        _mm256_storeu_ps(cb + x, dot3_8(j.ycc + 3, r, g, b));
        _mm256_storeu_ps(cr + x, dot3_8(j.ycc + 6, r, g, b));
        __m256 q = _mm256_add_ps(_mm256_mul_ps(yv, y_scale), y_off);
        if (j.dither) q = _mm256_add_ps(q, tpdf_noise8(j.key, index0 + (uint32_t)x));
        q = _mm256_min_ps(_mm256_max_ps(q, zero), top);
        store8(yout + x, _mm256_cvttps_epi32(_mm256_add_ps(q, half)));
    }
    return x;
}
#endif

// [1, 2, 1] / 4 centred on even columns (edges repeated), as downsample_chroma; or a copy.
inline float horizontal(const float* c, int i, int W, int sub_w) {
    if (!sub_w) return c[i];
    const int x = 2 * i;
    const float left = c[x > 0 ? x - 1 : 0];
    const float right = c[x + 1 < W ? x + 1 : W - 1];
    return (0.25f * left + 0.5f * c[x]) + 0.25f * right;
}

template <typename T>
void encode_planes(const EncodeJob& j, T* yo, ptrdiff_t yos, T* uo, ptrdiff_t uos, T* vo, ptrdiff_t vos, int threads,
                   bool avx2) {
    (void)avx2;
    const int cw = j.sub_w ? j.W / 2 : j.W;
    const int ch = j.sub_h ? j.H / 2 : j.H;
    const int rows_per = j.sub_h ? 2 : 1;
    const uint32_t plane = (uint32_t)j.H * (uint32_t)j.W;
    const uint32_t cplane = (uint32_t)ch * (uint32_t)cw;
#pragma omp parallel num_threads(threads) if ((ptrdiff_t)j.H * j.W > 65536)
    {
        std::vector<float> cb(2 * (size_t)j.W), cr(2 * (size_t)j.W);
#pragma omp for schedule(static)
        for (int crow = 0; crow < ch; ++crow) {
            for (int k = 0; k < rows_per; ++k) {
                const int row = crow * rows_per + k;
                T* yrow = yo + (ptrdiff_t)row * yos;
                const uint32_t index0 = (uint32_t)row * (uint32_t)j.W;
                float* cbk = cb.data() + (size_t)k * j.W;
                float* crk = cr.data() + (size_t)k * j.W;
                int from = 0;
#if HDRV_AVX2
                if (avx2) from = encode_row_avx2<T>(j, row, yrow, index0, cbk, crk);
#endif
                encode_row<T>(j, row, yrow, index0, cbk, crk, from);
            }
            T* urow = uo + (ptrdiff_t)crow * uos;
            T* vrow = vo + (ptrdiff_t)crow * vos;
            const uint32_t ui0 = plane + (uint32_t)crow * (uint32_t)cw, vi0 = ui0 + cplane;
            for (int i = 0; i < cw; ++i) {
                float b = horizontal(cb.data(), i, j.W, j.sub_w);
                float r = horizontal(cr.data(), i, j.W, j.sub_w);
                if (j.sub_h) {
                    b = 0.5f * (b + horizontal(cb.data() + j.W, i, j.W, j.sub_w));
                    r = 0.5f * (r + horizontal(cr.data() + j.W, i, j.W, j.sub_w));
                }
                float qb = b * j.c_scale + j.c_off;
                float qr = r * j.c_scale + j.c_off;
                if (j.dither) {
                    qb = qb + tpdf_noise(j.key, ui0 + (uint32_t)i);
                    qr = qr + tpdf_noise(j.key, vi0 + (uint32_t)i);
                }
                qb = std::min(std::max(qb, 0.0f), j.top);
                qr = std::min(std::max(qr, 0.0f), j.top);
                urow[i] = (T)(int)(qb + 0.5f);
                vrow[i] = (T)(int)(qr + 0.5f);
            }
        }
    }
}

void linear_to_yuv(py::array_t<float, py::array::c_style> x, FloatArray primaries, FloatArray oetf, int root,
                   float inv_scale, FloatArray ycc, FloatArray codes, int sub_w, int sub_h, bool dither,
                   uint32_t key, py::array y_out, py::array u_out, py::array v_out, int threads, bool simd) {
    if (x.ndim() != 3 || x.shape(0) != 3) throw py::value_error("x: expected a (3, H, W) float32 array");
    const py::ssize_t H = x.shape(1), W = x.shape(2);
    if (H < 1 || W < 1) throw py::value_error("x: empty frame");
    if ((sub_w && (W & 1)) || (sub_h && (H & 1))) throw py::value_error("chroma subsampling needs an even size");
    if (root != 1 && root != 2 && root != 4) throw py::value_error("root: expected 1, 2 or 4");
    if (ycc.size() != 9) throw py::value_error("ycc: expected 9 values");
    if (codes.size() != 5) throw py::value_error("codes: expected (y scale, y offset, c scale, c offset, max)");
    const py::ssize_t cw = sub_w ? W / 2 : W, ch = sub_h ? H / 2 : H;
    check_plane2d(y_out, "y_out", H, W);
    check_plane2d(u_out, "u_out", ch, cw);
    check_plane2d(v_out, "v_out", ch, cw);
    if (!y_out.writeable() || !u_out.writeable() || !v_out.writeable()) throw py::value_error("outputs: read-only");
    if (!y_out.dtype().is(u_out.dtype()) || !y_out.dtype().is(v_out.dtype()))
        throw py::value_error("outputs: mixed dtypes");
    const float* k = codes.data();
    EncodeJob j{x.data(), (int)H, (int)W, sub_w ? 1 : 0, sub_h ? 1 : 0, as_matrix(primaries, "primaries"),
                check_table(oetf, "oetf"), root, inv_scale, ycc.data(), k[0], k[1], k[2], k[3], k[4], dither, key};
    const int n = omp_threads(threads);
    const bool avx2 = simd && cpu_has_avx2();
    if (y_out.dtype().is(py::dtype::of<uint16_t>())) {
        auto* yo = static_cast<uint16_t*>(y_out.mutable_data());
        auto* uo = static_cast<uint16_t*>(u_out.mutable_data());
        auto* vo = static_cast<uint16_t*>(v_out.mutable_data());
        py::gil_scoped_release release;
        encode_planes<uint16_t>(j, yo, y_out.strides(0) / 2, uo, u_out.strides(0) / 2, vo, v_out.strides(0) / 2, n,
                                avx2);
    } else if (y_out.dtype().is(py::dtype::of<uint8_t>())) {
        auto* yo = static_cast<uint8_t*>(y_out.mutable_data());
        auto* uo = static_cast<uint8_t*>(u_out.mutable_data());
        auto* vo = static_cast<uint8_t*>(v_out.mutable_data());
        py::gil_scoped_release release;
        encode_planes<uint8_t>(j, yo, y_out.strides(0), uo, u_out.strides(0), vo, v_out.strides(0), n, avx2);
    } else {
        throw py::value_error("outputs: expected uint8 or uint16");
    }
}

}  // namespace

void register_convert_yuv(py::module_& m) {
    m.def("yuv_to_linear", &yuv_to_linear, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("crow"),
          py::arg("crow_w"), py::arg("ccol"), py::arg("ccol_w"), py::arg("eotf"), py::arg("coefficients"),
          py::arg("primaries"), py::arg("out").noconvert(), py::arg("threads") = 0, py::arg("simd") = true,
          py::arg("ootf_table"), py::arg("ootf_coefficients"),
          "Y'CbCr planes (uint8/uint16, any subsampling) -> (3, H, W) float32 linear light (GIL released).");
    m.def("linear_to_yuv", &linear_to_yuv, py::arg("x"), py::arg("primaries"), py::arg("oetf"), py::arg("root"),
          py::arg("inv_scale"), py::arg("ycc"), py::arg("codes"), py::arg("sub_w"), py::arg("sub_h"),
          py::arg("dither"), py::arg("key"), py::arg("y_out"), py::arg("u_out"), py::arg("v_out"),
          py::arg("threads") = 0, py::arg("simd") = true,
          "(3, H, W) float32 linear light -> Y'CbCr code planes (uint8/uint16, 4:2:0/4:2:2/4:4:4; GIL released).");
}
