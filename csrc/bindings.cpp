// The only pybind11 file: exposes raw-pointer kernels to walloc/ops. No libtorch here; Python passes data
// pointers, sizes, dtypes and streams, and owns every allocation.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "entropy/predictive.h"
#include "entropy/rans.h"
#include "quant/quant.h"
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
    throw std::invalid_argument("walloc kernels support float32 and float64, not " + dtype);
  }
}

template <typename T>
T* as_ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

void wpt1d_cpu_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t length,
                       const std::vector<int>& meta, const std::vector<double>& coef,
                       const std::vector<double>& lifting, int levels, int threads) {
  check_shape(planes, length, levels);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  const LiftingScheme scheme = LiftingScheme::from_list(lifting);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt1d_cpu<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), planes, length, bank, scheme, levels,
                 threads);
  });
}

void wpt2d_cpu_binding(int kind, const std::string& dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t height,
                       int64_t width, const std::vector<int>& meta, const std::vector<double>& coef,
                       const std::vector<double>& lifting, int levels, int threads) {
  check_shape(planes, height, levels);
  check_shape(planes, width, levels);
  const PolyphaseBank bank = bank_from_lists(meta, coef);
  const LiftingScheme scheme = LiftingScheme::from_list(lifting);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt2d_cpu<T>(kind_from_int(kind), as_ptr<const T>(x), as_ptr<T>(y), planes, height, width, bank, scheme, levels,
                 threads);
  });
}

py::buffer_info byte_buffer(py::buffer& data) {
  py::buffer_info info = data.request();
  if (info.itemsize != 1 || info.ndim != 1 || info.strides[0] != 1) {
    throw std::invalid_argument("rANS streams are contiguous bytes");
  }
  return info;
}

rans::Tables tables_from(uintptr_t cdfs, int64_t count, int64_t stride, uintptr_t lengths, uintptr_t offsets) {
  return {as_ptr<const int32_t>(cdfs), count, stride, as_ptr<const int32_t>(lengths), as_ptr<const int32_t>(offsets)};
}

py::bytes rans_encode_cpu_binding(uintptr_t symbols, uintptr_t indexes, int64_t n, uintptr_t cdfs, int64_t count,
                                  int64_t stride, uintptr_t lengths, uintptr_t offsets, int threads) {
  const rans::Tables t = tables_from(cdfs, count, stride, lengths, offsets);
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = rans::encode_cpu(as_ptr<const int32_t>(symbols), as_ptr<const int32_t>(indexes), n, t, threads);
  }
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

void rans_decode_cpu_binding(py::buffer data, uintptr_t indexes, int64_t n, uintptr_t cdfs, int64_t count,
                             int64_t stride, uintptr_t lengths, uintptr_t offsets, uintptr_t out, int threads) {
  const py::buffer_info info = byte_buffer(data);
  const rans::Tables t = tables_from(cdfs, count, stride, lengths, offsets);
  py::gil_scoped_release release;
  rans::decode_cpu(static_cast<const uint8_t*>(info.ptr), size_t(info.size), as_ptr<const int32_t>(indexes), n, t,
                   as_ptr<int32_t>(out), threads);
}

predictive::Planes planes_from(int64_t planes, int64_t height, int64_t width, int64_t channels, int bits,
                               uintptr_t weights, uintptr_t scales, int bins, int centres) {
  return {planes, height, width, channels, bits, as_ptr<const int8_t>(weights), as_ptr<const int32_t>(scales), bins,
          centres};
}

void predictive_least_squares_cpu_binding(uintptr_t symbols, int64_t planes, int64_t height, int64_t width,
                                          int64_t channels, int bits, uintptr_t gram, uintptr_t rhs, int threads) {
  const predictive::Planes p = planes_from(planes, height, width, channels, bits, 0, 0, 1, 1);
  py::gil_scoped_release release;
  predictive::least_squares_cpu(as_ptr<const int32_t>(symbols), p, as_ptr<double>(gram), as_ptr<double>(rhs),
                                threads);
}

void predictive_analyse_cpu_binding(uintptr_t symbols, int64_t planes, int64_t height, int64_t width,
                                    int64_t channels, int bits, uintptr_t weights, int bins, int centres,
                                    uintptr_t errors, uintptr_t contexts, int threads) {
  const predictive::Planes p = planes_from(planes, height, width, channels, bits, weights, 0, bins, centres);
  py::gil_scoped_release release;
  predictive::analyse_cpu(as_ptr<const int32_t>(symbols), p, as_ptr<int32_t>(errors), as_ptr<int32_t>(contexts),
                          threads);
}

void predictive_choose_scales_cpu_binding(uintptr_t errors, uintptr_t contexts, int64_t planes, int64_t size,
                                          int bins, int centres, uintptr_t cost, int reach, int scales,
                                          uintptr_t chosen, int threads) {
  if (planes < 0 || size < 0 || bins < 1 || centres < 1 || reach < 0 || scales < 1) {
    throw std::invalid_argument("predictive scale choice: bad sizes");
  }
  const predictive::Planes p = planes_from(planes, 1, size, 1, 1, 0, 0, bins, centres);
  py::gil_scoped_release release;
  predictive::choose_scales_cpu(as_ptr<const int32_t>(errors), as_ptr<const int32_t>(contexts), p,
                                as_ptr<const int64_t>(cost), reach, scales, as_ptr<int32_t>(chosen), threads);
}

void predictive_decode_cpu_binding(py::buffer data, int64_t planes, int64_t height, int64_t width,
                                   int64_t channels, int bits, uintptr_t weights, uintptr_t scales, int bins,
                                   int centres, uintptr_t cdfs, int64_t count, int64_t stride, uintptr_t lengths,
                                   uintptr_t offsets, uintptr_t out) {
  const py::buffer_info info = byte_buffer(data);
  const rans::Tables t = tables_from(cdfs, count, stride, lengths, offsets);
  const predictive::Planes p = planes_from(planes, height, width, channels, bits, weights, scales, bins, centres);
  py::gil_scoped_release release;
  predictive::decode_cpu(static_cast<const uint8_t*>(info.ptr), size_t(info.size), p, t, as_ptr<int32_t>(out));
}

uint64_t rans_stream_symbols_binding(py::buffer data) {
  const py::buffer_info info = byte_buffer(data);
  return rans::parse_layout(static_cast<const uint8_t*>(info.ptr), size_t(info.size)).symbols;
}

quant::Params quant_params(double scale, double latent_max, double clip_low, double clip_high, uint64_t seed,
                           uintptr_t offsets, int64_t channels, int64_t inner) {
  if (channels < 1 || inner < 1) throw std::invalid_argument("quant: channels and inner must be positive");
  quant::Params p;
  p.scale = scale;
  p.latent_max = latent_max;
  p.clip_low = clip_low;
  p.clip_high = clip_high;
  p.seed = seed;
  p.offsets = as_ptr<const double>(offsets);
  p.channels = channels;
  p.inner = inner;
  return p;
}

quant::Op quant_op(int op) {
  if (op < 0 || op > static_cast<int>(quant::Op::ToNormalGrad)) throw std::invalid_argument("unknown quant op");
  return static_cast<quant::Op>(op);
}

void quant_cpu_binding(int op, const std::string& dtype, uintptr_t x, uintptr_t g, uintptr_t y, int64_t n,
                       double scale, double latent_max, double clip_low, double clip_high, uint64_t seed,
                       uintptr_t offsets, int64_t channels, int64_t inner, int threads) {
  const quant::Params p = quant_params(scale, latent_max, clip_low, clip_high, seed, offsets, channels, inner);
  const quant::Op o = quant_op(op);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    quant::elementwise_cpu<T>(o, as_ptr<const T>(x), as_ptr<const T>(g), as_ptr<T>(y), n, p, threads);
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

void quant_cuda_binding(int op, const std::string& dtype, uintptr_t x, uintptr_t g, uintptr_t y, int64_t n,
                        double scale, double latent_max, double clip_low, double clip_high, uint64_t seed,
                        uintptr_t offsets, int64_t channels, int64_t inner, int device, uintptr_t stream) {
  const quant::Params p = quant_params(scale, latent_max, clip_low, clip_high, seed, 0, channels, inner);
  const quant::Op o = quant_op(op);
  set_device(device);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    quant::elementwise_cuda<T>(o, as_ptr<const T>(x), as_ptr<const T>(g), as_ptr<T>(y), n, p,
                               as_ptr<const double>(offsets), reinterpret_cast<void*>(stream));
  });
}

py::bytes rans_encode_cuda_binding(uintptr_t symbols, uintptr_t indexes, int64_t n, uintptr_t cdfs, int64_t count,
                                   int64_t stride, uintptr_t lengths, uintptr_t offsets, int device, uintptr_t stream) {
  const rans::Tables t = tables_from(cdfs, count, stride, lengths, offsets);
  set_device(device);
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = rans::encode_cuda(as_ptr<const int32_t>(symbols), as_ptr<const int32_t>(indexes), n, t,
                            reinterpret_cast<void*>(stream));
  }
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

void rans_decode_cuda_binding(py::buffer data, uintptr_t indexes, int64_t n, uintptr_t cdfs, int64_t count,
                              int64_t stride, uintptr_t lengths, uintptr_t offsets, uintptr_t out, int device,
                              uintptr_t stream) {
  const py::buffer_info info = byte_buffer(data);
  const rans::Tables t = tables_from(cdfs, count, stride, lengths, offsets);
  set_device(device);
  py::gil_scoped_release release;
  rans::decode_cuda(static_cast<const uint8_t*>(info.ptr), size_t(info.size), as_ptr<const int32_t>(indexes), n, t,
                    as_ptr<int32_t>(out), reinterpret_cast<void*>(stream));
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
  m.def("quant_cuda", &quant_cuda_binding);
  m.def("rans_encode_cuda", &rans_encode_cuda_binding);
  m.def("rans_decode_cuda", &rans_decode_cuda_binding);
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
  py::register_exception<BitstreamError>(m, "BitstreamError", PyExc_ValueError);
  m.def("rans_encode_cpu", &rans_encode_cpu_binding, "chunked interleaved rANS encode (see csrc/entropy/rans.h)");
  m.def("rans_decode_cpu", &rans_decode_cpu_binding, "chunked interleaved rANS decode, bounds-checked");
  m.def("predictive_least_squares_cpu", &predictive_least_squares_cpu_binding,
        "per-plane normal equations of the predictive latent model");
  m.def("predictive_choose_scales_cpu", &predictive_choose_scales_cpu_binding,
        "per plane and activity bin, the table scale that codes the errors in the fewest bits");
  m.def("predictive_analyse_cpu", &predictive_analyse_cpu_binding,
        "coded errors and contexts of latent planes under the predictive model");
  m.def("predictive_decode_cpu", &predictive_decode_cpu_binding,
        "sequential predictive decode of latent planes (see csrc/entropy/predictive.h)");
  m.def("rans_validate_tables", [](uintptr_t cdfs, int64_t count, int64_t stride, uintptr_t lengths,
                                   uintptr_t offsets) {
    rans::validate(tables_from(cdfs, count, stride, lengths, offsets), nullptr, 0);
  }, "checks host-side rANS tables (raises ValueError)");
  m.def("rans_stream_symbols", &rans_stream_symbols_binding, "symbol count of a checked rANS stream header");
  m.def("quant_cpu", &quant_cpu_binding, "elementwise quantization kernels (see csrc/quant/quant.h)");
  m.def("wpt1d_cpu", &wpt1d_cpu_binding, "1-D packet tree split/merge of contiguous planes");
  m.def("wpt2d_cpu", &wpt2d_cpu_binding, "2-D packet tree split/merge of contiguous planes");
}
