// Scalar helpers shared by the native kernels (tonemap_yuv.cpp, convert_yuv.cpp): the
// (value, slope) lookup tables built in Python, the TPDF dither hash (hdrvideo/io/dither.py
// draws the same noise in torch) and argument checks. Header-only, internal linkage.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace hdrv_common {

namespace py = pybind11;

#if defined(__GNUC__) || defined(__clang__)
#define HDRV_COMMON_INLINE inline __attribute__((always_inline))
#else
#define HDRV_COMMON_INLINE inline
#endif

// Chris Wellons' "lowbias32" integer hash (public domain), the TPDF noise source.
HDRV_COMMON_INLINE uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

// Triangular noise in (-1, 1) code values for sample ``index`` of the frame.
HDRV_COMMON_INLINE float tpdf_noise(uint32_t key, uint32_t index) {
    const uint32_t h = lowbias32(index ^ key);
    const float u1 = (float)(h & 0xffffU) * (1.0f / 65536.0f);
    const float u2 = (float)(h >> 16) * (1.0f / 65536.0f);
    return u1 - u2;
}

HDRV_COMMON_INLINE float clamp01(float x) { return std::min(std::max(x, 0.0f), 1.0f); }

// Tables are (n, 2) float32 arrays of (value at the left end, slope to the next entry):
// for x in [0, 1], p = x * n, i = min(int(p), n - 1), f = p - i, value = T[i,0] + f * T[i,1].
struct Table {
    const float* data;  // (n, 2): value, slope
    int n;
    float fn;
};

// x must lie in [0, 1].
HDRV_COMMON_INLINE float lookup(const Table& t, float x) {
    const float p = x * t.fn;
    int i = (int)p;
    i = i < t.n - 1 ? i : t.n - 1;
    const float f = p - (float)i;
    return t.data[2 * i] + f * t.data[2 * i + 1];
}

inline Table check_table(const py::array_t<float, py::array::c_style | py::array::forcecast>& t, const char* name) {
    if (t.ndim() != 2 || t.shape(1) != 2 || t.shape(0) < 1)
        throw py::value_error(std::string(name) + ": expected an (n, 2) float32 table");
    return Table{t.data(), (int)t.shape(0), (float)t.shape(0)};
}

}  // namespace hdrv_common
