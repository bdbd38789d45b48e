// Vectors as wide as the registers of the instruction set a kernel copy is compiled for (GCC/Clang vector
// extensions): WALLOC_CPU_VECTOR_BYTES, which the AVX2 (32) and AVX-512 (64) wrappers define, else 16 (SSE2,
// part of every x86-64 CPU; also fine for other architectures). For files compiled once per instruction set:
// include it after common/cpu_target.h (its target must apply) and outside any namespace; it defines its names in
// the copy's namespace, walloc::WALLOC_CPU_ISA, with internal linkage, as each copy's vectors differ.
#pragma once

#include <cstdint>
#include <cstring>

namespace walloc {
namespace WALLOC_CPU_ISA {
namespace {

#ifdef WALLOC_CPU_VECTOR_BYTES
constexpr int kVectorBytes = WALLOC_CPU_VECTOR_BYTES;
#else
constexpr int kVectorBytes = 16;
#endif

// Each with the integer vector of as many lanes, the masks of __builtin_shuffle.
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
  typedef int32_t mask __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
  typedef int64_t mask __attribute__((vector_size(kVectorBytes)));
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int kLanesOf = kVectorBytes / sizeof(T);

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
inline void store(T* p, const Vec<T>& v) {
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace
}  // namespace WALLOC_CPU_ISA
}  // namespace walloc
