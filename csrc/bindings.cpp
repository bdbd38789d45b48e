// The only pybind11 file: exposes raw-pointer kernels to walloc/ops. No libtorch here; Python passes data
// pointers, sizes, dtypes and streams, and owns every allocation.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "wavelets/polyphase.h"
#include "wavelets/wpt_cpu_isa.h"

#ifdef WALLOC_WITH_CUDA
#include <cuda_runtime.h>
#endif

#ifndef WALLOC_VERSION
#define WALLOC_VERSION "0.0.0"
#endif

namespace py = pybind11;

namespace walloc {
namespace {

PolyphaseBank bank_from_lists(const std::vector<int>& meta, const std::vector<double>& coef) {
  if (meta.size() != 3 * coef.size()) {
    throw std::invalid_argument("polyphase taps: meta must hold (out, src, shift) for every coefficient");
  }
  std::vector<PolyphaseTap> taps(coef.size());
  for (size_t i = 0; i < coef.size(); ++i) taps[i] = {meta[3 * i], meta[3 * i + 1], meta[3 * i + 2], coef[i]};
  return PolyphaseBank::from_taps(taps);
}

BankKind kind_from_int(int kind) {
  if (kind != 0 && kind != 1) throw std::invalid_argument("bank kind must be 0 (split) or 1 (merge)");
  return static_cast<BankKind>(kind);
}

void check_shape(int64_t planes, int64_t size, int levels) {
  if (planes < 0 || size < 0 || levels < 1 || levels > 30 || size % (int64_t(1) << levels) != 0) {
    throw std::invalid_argument("wavelet packet kernel: size must be a non-negative multiple of 2**levels");
  }
}

template <typename Fn>
void dispatch_dtype(const std::string& dtype, Fn fn) {
  if (dtype == "float32") {
    fn(float{});
  } else if (dtype == "float64") {
    fn(double{});
  } else {
    throw std::invalid_argument("wavelet packet kernels support float32 and float64, not " + dtype);
  }
}

template <typename T>
T* as_ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

void wpt1d_cpu_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t length,
                       const std::vector<int>& meta, const std::vector<double>& coef, int levels, int threads) {
  check_shape(planes, length, levels);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt1d_cpu<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), planes, length, bank, levels, threads);
  });
}

void wpt2d_cpu_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t height,
                       int64_t width, const std::vector<int>& meta, const std::vector<double>& coef, int levels,
                       int threads) {
  check_shape(planes, height, levels);
  check_shape(planes, width, levels);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt2d_cpu<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), planes, height, width, bank, levels,
                 threads);
  });
}

#ifdef WALLOC_WITH_CUDA
// Our statically linked CUDA runtime keeps its own current device, apart from PyTorch's: set it per call.
void set_device(int device) {
  const cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) throw std::runtime_error(std::string("cudaSetDevice: ") + cudaGetErrorString(err));
}

void wpt1d_cuda_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, uintptr_t workspace,
                        int64_t planes, int64_t length, const std::vector<int>& meta, const std::vector<double>& coef,
                        int levels, int device, uintptr_t stream) {
  check_shape(planes, length, levels);
  set_device(device);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt1d_cuda<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), as_ptr<T>(workspace), planes, length, bank,
                  levels, reinterpret_cast<void*>(stream));
  });
}

void wpt2d_cuda_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, uintptr_t workspace,
                        int64_t planes, int64_t height, int64_t width, const std::vector<int>& meta,
                        const std::vector<double>& coef, int levels, int device, uintptr_t stream) {
  check_shape(planes, height, levels);
  check_shape(planes, width, levels);
  set_device(device);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt2d_cuda<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), as_ptr<T>(workspace), planes, height,
                  width, bank, levels, reinterpret_cast<void*>(stream));
  });
}

int cuda_device_count() {
  int count = 0;
  // Without a driver or a device this fails; that simply means no CUDA kernels can run here.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}
#endif

}  // namespace
}  // namespace walloc

PYBIND11_MODULE(_C, m) {
  using namespace walloc;
  m.doc() = "walloc compiled kernels (raw pointers; see walloc.ops for the PyTorch operators)";
  m.attr("__version__") = WALLOC_VERSION;
#ifdef WALLOC_WITH_CUDA
  m.attr("cuda_compiled") = true;
  m.def("cuda_device_count", &cuda_device_count, "CUDA devices the compiled kernels can use now");
  m.def("wpt1d_cuda", &wpt1d_cuda_binding);
  m.def("wpt2d_cuda", &wpt2d_cuda_binding);
#else
  m.attr("cuda_compiled") = false;
  m.def("cuda_device_count", [] { return 0; }, "CUDA devices the compiled kernels can use now");
#endif
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  m.def("cpu_isa", &wpt_cpu_isa, "instruction set of the CPU kernels in use: avx512, avx2 or baseline");
  m.def("wpt1d_cpu", &wpt1d_cpu_binding, "1-D packet tree split/merge of contiguous planes");
  m.def("wpt2d_cpu", &wpt2d_cpu_binding, "2-D packet tree split/merge of contiguous planes");
}
