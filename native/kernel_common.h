// Helpers shared by the native kernels (tonemap_yuv.cpp, convert_yuv.cpp, tonemap_linear.cpp): the
// (value, slope) lookup tables built in Python, the TPDF dither hash (hdrvideo/io/dither.py
// draws the same noise in torch) and argument checks. Header-only, internal linkage.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

// AVX2 versions are compiled with a function attribute and chosen at run time from CPUID
// (cpu_has_avx2), so the module is built for the baseline ISA and still uses AVX2 where
// the CPU has it. The attribute does not enable FMA: with -ffp-contract=off (CMakeLists.txt)
// vector and scalar code round every operation alike.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HDRV_AVX2 1
#include <immintrin.h>
#define HDRV_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define HDRV_AVX2 0
#endif

namespace hdrv_common {

namespace py = pybind11;

#if defined(__GNUC__) || defined(__clang__)
#define HDRV_COMMON_INLINE inline __attribute__((always_inline))
#define HDRV_INLINE inline __attribute__((always_inline))
#else
#define HDRV_COMMON_INLINE inline
#define HDRV_INLINE inline
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

// NaN -> 0, as clamp01_8 (maxps/minps): a NaN must never reach a table index.
// [x, y, z] = m [a, b, c] for a row-major 3x3 m, each row as (m0 a + m1 b) + m2 c.
HDRV_COMMON_INLINE void mat3(const float* m, float a, float b, float c, float& x, float& y, float& z) {
    x = (m[0] * a + m[1] * b) + m[2] * c;
    y = (m[3] * a + m[4] * b) + m[5] * c;
    z = (m[6] * a + m[7] * b) + m[8] * c;
}

HDRV_COMMON_INLINE float clamp01(float x) {
    const float y = x > 0.0f ? x : 0.0f;
    return y < 1.0f ? y : 1.0f;
}

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

// A 2-D plane of shape (h, w) with contiguous rows and a positive row stride.
inline void check_plane2d(const py::array& a, const char* name, py::ssize_t h, py::ssize_t w) {
    if (a.ndim() != 2) throw py::value_error(std::string(name) + ": expected a 2-D array");
    if (a.shape(0) != h || a.shape(1) != w)
        throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(h) + ", " +
                              std::to_string(w) + "), got (" + std::to_string(a.shape(0)) + ", " +
                              std::to_string(a.shape(1)) + ")");
    if (a.strides(1) != a.itemsize() || a.strides(0) % a.itemsize() != 0 || a.strides(0) < w * a.itemsize())
        throw py::value_error(std::string(name) + ": rows must be contiguous with a positive row stride");
}

inline Table check_table(const py::array_t<float, py::array::c_style | py::array::forcecast>& t, const char* name) {
    if (t.ndim() != 2 || t.shape(1) != 2 || t.shape(0) < 1)
        throw py::value_error(std::string(name) + ": expected an (n, 2) float32 table");
    return Table{t.data(), (int)t.shape(0), (float)t.shape(0)};
}

// OpenMP threads for a call: ``threads`` when positive, else OpenMP's default (1 without OpenMP).
inline int omp_threads(int threads) {
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

inline bool cpu_has_avx2() {
#if HDRV_AVX2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

#if HDRV_AVX2
HDRV_TARGET_AVX2 HDRV_INLINE __m256 clamp01_8(__m256 x) {
    // max(x, 0) then min(., 1): the scalar std::max / std::min for every non-NaN x
    // (they differ only in the sign of a zero, which no later step can see).
    return _mm256_min_ps(_mm256_max_ps(x, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
}

// One row of mat3 for 8 pixels: (r0 a + r1 b) + r2 c, rounded as the scalar code.
HDRV_TARGET_AVX2 HDRV_INLINE __m256 dot3_8(const float* r, __m256 a, __m256 b, __m256 c) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(r[0]), a), _mm256_mul_ps(_mm256_set1_ps(r[1]), b)),
                         _mm256_mul_ps(_mm256_set1_ps(r[2]), c));
}

HDRV_TARGET_AVX2 HDRV_INLINE void mat3_8(const float* m, __m256 a, __m256 b, __m256 c, __m256& x, __m256& y,
                                         __m256& z) {
    x = dot3_8(m, a, b, c);
    y = dot3_8(m + 3, a, b, c);
    z = dot3_8(m + 6, a, b, c);
}

// ``lookup`` of 8 values in [0, 1].
HDRV_TARGET_AVX2 HDRV_INLINE __m256 lookup8(const Table& t, __m256 x) {
    const __m256 p = _mm256_mul_ps(x, _mm256_set1_ps(t.fn));
    __m256i i = _mm256_cvttps_epi32(p);
    i = _mm256_min_epi32(i, _mm256_set1_epi32(t.n - 1));
    const __m256 f = _mm256_sub_ps(p, _mm256_cvtepi32_ps(i));
    // Each (value, step) pair is fetched as one 64-bit element: half the loads of two
    // 32-bit gathers. Pixels 0, 1, 4, 5 go to ``a`` and 2, 3, 6, 7 to ``b`` so that the
    // in-lane shuffles below put values and steps back in pixel order.
    const __m256i ip = _mm256_permutevar8x32_epi32(i, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
    // (the masked form with an explicit zero source: the unmasked intrinsic reads an
    // undefined register, which GCC's -Wmaybe-uninitialized reports)
    const double* pairs = reinterpret_cast<const double*>(t.data);
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    const __m256 a = _mm256_castpd_ps(
        _mm256_mask_i32gather_pd(_mm256_setzero_pd(), pairs, _mm256_castsi256_si128(ip), all, 8));
    const __m256 b = _mm256_castpd_ps(
        _mm256_mask_i32gather_pd(_mm256_setzero_pd(), pairs, _mm256_extracti128_si256(ip, 1), all, 8));
    const __m256 value = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 step = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_add_ps(value, _mm256_mul_ps(f, step));
}
HDRV_TARGET_AVX2 HDRV_INLINE __m256i lowbias32_8(__m256i x) {
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x7feb352dU));
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x846ca68bU));
    return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

HDRV_TARGET_AVX2 HDRV_INLINE void store8(uint8_t* out, __m256i v) {
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(w, w));
}

HDRV_TARGET_AVX2 HDRV_INLINE void store8(uint16_t* out, __m256i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

// tpdf_noise for the 8 samples index0 .. index0 + 7.
HDRV_TARGET_AVX2 HDRV_INLINE __m256 tpdf_noise8(uint32_t key, uint32_t index0) {
    const __m256i index = _mm256_add_epi32(_mm256_set1_epi32((int)index0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i h = lowbias32_8(_mm256_xor_si256(index, _mm256_set1_epi32((int)key)));
    const __m256 inv65536 = _mm256_set1_ps(1.0f / 65536.0f);
    const __m256 u1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(h, _mm256_set1_epi32(0xffff))), inv65536);
    const __m256 u2 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(h, 16)), inv65536);
    return _mm256_sub_ps(u1, u2);
}


#endif

}  // namespace hdrv_common
