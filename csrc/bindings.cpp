// The only pybind11 file: exposes the raw-pointer kernels to walloc/ops/kernels.py. No libtorch here; Python
// passes data pointers (as integers), sizes, dtypes and streams, and owns every allocation.
//
// The kernels' parameter structs and enums are bound as classes built by keyword, and every function takes
// keyword arguments only (a stream's bytes aside), so no two pointers or sizes can be swapped unnoticed.
// Sizes are validated here or in the kernels and raise ValueError (BitstreamError for streams).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/cpu_cache.h"
#include "common/cpu_isa.h"
#include "entropy/predictive.h"
#include "entropy/rans.h"
#include "linear/pointwise.h"
#include "media/pixels.h"
#include "quant/quant.h"
#include "wavelets/polyphase.h"
#include "wavelets/wpt_pixels.h"

#ifdef WALLOC_WITH_CUDA
#include <cuda_runtime.h>
#endif

#ifndef WALLOC_VERSION
#define WALLOC_VERSION "0.0.0"
#endif

namespace py = pybind11;

namespace walloc {
namespace {

// Element types of the floating-point kernels.
enum class DType { Float32, Float64 };

template <typename Fn>
void dispatch_dtype(DType dtype, Fn fn) {
  if (dtype == DType::Float32) {
    fn(float{});
  } else {
    fn(double{});
  }
}

template <typename T>
T* as_ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

PolyphaseBank make_bank(const std::vector<int>& out, const std::vector<int>& src, const std::vector<int>& shift,
                        const std::vector<double>& coef) {
  if (out.size() != coef.size() || src.size() != coef.size() || shift.size() != coef.size()) {
    throw std::invalid_argument("polyphase bank: out, src, shift and coef need one entry per tap");
  }
  std::vector<PolyphaseTap> taps(coef.size());
  for (size_t i = 0; i < coef.size(); ++i) taps[i] = {out[i], src[i], shift[i], coef[i]};
  return PolyphaseBank::from_taps(taps);
}

void check_shape(int64_t planes, int64_t size, int levels) {
  if (planes < 0 || size < 0 || levels < 1 || levels > 30 || size % (int64_t(1) << levels) != 0) {
    throw std::invalid_argument("wavelet packet kernel: size must be a non-negative multiple of 2**levels");
  }
}

void wpt1d_cpu_binding(BankKind kind, DType dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t length,
                       const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads) {
  check_shape(planes, length, levels);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt1d_cpu<T>(kind, as_ptr<const T>(x), as_ptr<T>(y), planes, length, bank, lifting, levels, threads);
  });
}

void wpt2d_cpu_binding(BankKind kind, DType dtype, uintptr_t x, uintptr_t y, int64_t planes, int64_t height,
                       int64_t width, const PolyphaseBank& bank, const LiftingScheme& lifting, int levels,
                       int threads, double shift) {
  check_shape(planes, height, levels);
  check_shape(planes, width, levels);
  if (shift != 0 && kind != BankKind::Split) throw std::invalid_argument("wpt2d: a merge takes no input shift");
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt2d_cpu<T>(kind, as_ptr<const T>(x), as_ptr<T>(y), planes, height, width, bank, lifting, levels, threads,
                 static_cast<T>(shift));
  });
}

py::buffer_info byte_buffer(py::buffer& data) {
  py::buffer_info info = data.request();
  if (info.itemsize != 1 || info.ndim != 1 || info.strides[0] != 1) {
    throw std::invalid_argument("rANS streams are contiguous bytes");
  }
  return info;
}

py::bytes to_bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

py::bytes rans_encode_cpu_binding(uintptr_t symbols, uintptr_t indexes, int64_t n, const rans::Tables& tables,
                                  int threads) {
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = rans::encode_cpu(as_ptr<const int32_t>(symbols), as_ptr<const int32_t>(indexes), n, tables, threads);
  }
  return to_bytes(out);
}

void rans_decode_cpu_binding(py::buffer data, uintptr_t indexes, int64_t n, const rans::Tables& tables,
                             uintptr_t out, int threads) {
  const py::buffer_info info = byte_buffer(data);
  py::gil_scoped_release release;
  rans::decode_cpu(static_cast<const uint8_t*>(info.ptr), size_t(info.size), as_ptr<const int32_t>(indexes), n,
                   tables, as_ptr<int32_t>(out), threads);
}

uint64_t rans_stream_symbols_binding(py::buffer data) {
  const py::buffer_info info = byte_buffer(data);
  return rans::parse_layout(static_cast<const uint8_t*>(info.ptr), size_t(info.size)).symbols;
}

void predictive_fit_weights_cpu_binding(uintptr_t symbols, const predictive::Planes& planes, uintptr_t weights,
                                        int threads) {
  py::gil_scoped_release release;
  predictive::fit_weights_cpu(as_ptr<const int32_t>(symbols), planes, as_ptr<int8_t>(weights), threads);
}

void predictive_analyse_cpu_binding(uintptr_t symbols, const predictive::Planes& planes, uintptr_t errors,
                                    uintptr_t contexts, int threads) {
  py::gil_scoped_release release;
  predictive::analyse_cpu(as_ptr<const int32_t>(symbols), planes, as_ptr<int32_t>(errors),
                          as_ptr<int32_t>(contexts), threads);
}

void predictive_choose_scales_cpu_binding(uintptr_t errors, uintptr_t contexts, const predictive::Planes& planes,
                                          uintptr_t cost, int reach, int scales, uintptr_t chosen, uintptr_t rows,
                                          int threads) {
  py::gil_scoped_release release;
  predictive::choose_scales_cpu(as_ptr<const int32_t>(errors), as_ptr<const int32_t>(contexts), planes,
                                as_ptr<const int32_t>(cost), reach, scales, as_ptr<int32_t>(chosen),
                                as_ptr<int32_t>(rows), threads);
}

void predictive_decode_cpu_binding(py::buffer data, const predictive::Planes& planes, const rans::Tables& tables,
                                   uintptr_t out) {
  const py::buffer_info info = byte_buffer(data);
  py::gil_scoped_release release;
  predictive::decode_cpu(static_cast<const uint8_t*>(info.ptr), size_t(info.size), planes, tables,
                         as_ptr<int32_t>(out));
}

void quant_cpu_binding(quant::Op op, DType dtype, uintptr_t x, uintptr_t g, uintptr_t y, int64_t n,
                       const quant::Params& params, int threads) {
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    quant::elementwise_cpu<T>(op, as_ptr<const T>(x), as_ptr<const T>(g), as_ptr<T>(y), n, params, threads);
  });
}

linear::PointwiseShape pointwise_shape(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size) {
  if (batch < 0 || in_channels < 0 || out_channels < 0 || size < 0) {
    throw std::invalid_argument("pointwise map: sizes must be >= 0");
  }
  return {batch, in_channels, out_channels, size};
}

void pointwise_cpu_binding(DType dtype, uintptr_t x, uintptr_t weight, uintptr_t bias, uintptr_t y, int64_t batch,
                           int64_t in_channels, int64_t out_channels, int64_t size, int threads) {
  const linear::PointwiseShape shape = pointwise_shape(batch, in_channels, out_channels, size);
  py::gil_scoped_release release;
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    linear::pointwise_cpu<T>(as_ptr<const T>(x), as_ptr<const T>(weight), as_ptr<const T>(bias), as_ptr<T>(y), shape,
                             threads);
  });
}

media::PixelLayout pixel_layout(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  if (sizes.size() != 4 || strides.size() != 4) throw std::invalid_argument("pixels: expected 4 sizes and 4 strides");
  for (size_t i = 0; i < 4; ++i) {
    if (sizes[i] < 0 || strides[i] < 0) throw std::invalid_argument("pixels: sizes and strides must be >= 0");
  }
  return {sizes[0], sizes[1], sizes[2], sizes[3], strides[0], strides[1], strides[2], strides[3]};
}

void planes_from_pixels_cpu_binding(media::PixelType type, uintptr_t pixels, const std::vector<int64_t>& sizes,
                                    const std::vector<int64_t>& strides, float divisor, float shift,
                                    uintptr_t planes, int threads) {
  const media::PixelLayout layout = pixel_layout(sizes, strides);
  py::gil_scoped_release release;
  media::planes_from_pixels_cpu(type, as_ptr<const void>(pixels), layout, divisor, shift, as_ptr<float>(planes),
                                threads);
}

void wpt2d_from_pixels_cpu_binding(media::PixelType type, uintptr_t pixels, const std::vector<int64_t>& sizes,
                                   const std::vector<int64_t>& strides, float divisor, float shift, uintptr_t y,
                                   const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads) {
  const media::PixelLayout layout = pixel_layout(sizes, strides);
  check_shape(layout.batch * layout.channels, layout.height, levels);
  check_shape(layout.batch * layout.channels, layout.width, levels);
  py::gil_scoped_release release;
  wpt2d_from_pixels_cpu(type, as_ptr<const void>(pixels), layout, divisor, shift, as_ptr<float>(y), bank, lifting,
                        levels, threads);
}

#ifdef WALLOC_WITH_CUDA
// Our statically linked CUDA runtime keeps its own current device, apart from PyTorch's: set it per call.
void set_device(int device) {
  const cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) throw std::runtime_error(std::string("cudaSetDevice: ") + cudaGetErrorString(err));
}

void wpt1d_cuda_binding(BankKind kind, DType dtype, uintptr_t x, uintptr_t y, uintptr_t workspace, int64_t planes,
                        int64_t length, const PolyphaseBank& bank, int levels, int device, uintptr_t stream) {
  check_shape(planes, length, levels);
  set_device(device);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt1d_cuda<T>(kind, as_ptr<const T>(x), as_ptr<T>(y), as_ptr<T>(workspace), planes, length, bank, levels,
                  as_ptr<void>(stream));
  });
}

void wpt2d_cuda_binding(BankKind kind, DType dtype, uintptr_t x, uintptr_t y, uintptr_t workspace, int64_t planes,
                        int64_t height, int64_t width, const PolyphaseBank& bank, int levels, int device,
                        uintptr_t stream) {
  check_shape(planes, height, levels);
  check_shape(planes, width, levels);
  set_device(device);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    wpt2d_cuda<T>(kind, as_ptr<const T>(x), as_ptr<T>(y), as_ptr<T>(workspace), planes, height, width, bank,
                  levels, as_ptr<void>(stream));
  });
}

void quant_cuda_binding(quant::Op op, DType dtype, uintptr_t x, uintptr_t g, uintptr_t y, int64_t n,
                        const quant::Params& params, int device, uintptr_t stream) {
  set_device(device);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    quant::elementwise_cuda<T>(op, as_ptr<const T>(x), as_ptr<const T>(g), as_ptr<T>(y), n, params,
                               as_ptr<void>(stream));
  });
}

void pointwise_cuda_binding(DType dtype, uintptr_t x, uintptr_t weight, uintptr_t bias, uintptr_t y, int64_t batch,
                            int64_t in_channels, int64_t out_channels, int64_t size, int device, uintptr_t stream) {
  const linear::PointwiseShape shape = pointwise_shape(batch, in_channels, out_channels, size);
  set_device(device);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    linear::pointwise_cuda<T>(as_ptr<const T>(x), as_ptr<const T>(weight), as_ptr<const T>(bias), as_ptr<T>(y), shape,
                              as_ptr<void>(stream));
  });
}

void planes_from_pixels_cuda_binding(media::PixelType type, uintptr_t pixels, const std::vector<int64_t>& sizes,
                                     const std::vector<int64_t>& strides, float divisor, float shift,
                                     uintptr_t planes, int device, uintptr_t stream) {
  const media::PixelLayout layout = pixel_layout(sizes, strides);
  set_device(device);
  media::planes_from_pixels_cuda(type, as_ptr<const void>(pixels), layout, divisor, shift, as_ptr<float>(planes),
                                 as_ptr<void>(stream));
}

py::bytes rans_encode_cuda_binding(uintptr_t symbols, uintptr_t indexes, int64_t n, const rans::Tables& tables,
                                   int device, uintptr_t stream) {
  set_device(device);
  std::vector<uint8_t> out;
  {
    py::gil_scoped_release release;
    out = rans::encode_cuda(as_ptr<const int32_t>(symbols), as_ptr<const int32_t>(indexes), n, tables,
                            as_ptr<void>(stream));
  }
  return to_bytes(out);
}

void rans_decode_cuda_binding(py::buffer data, uintptr_t indexes, int64_t n, const rans::Tables& tables,
                              uintptr_t out, int device, uintptr_t stream) {
  const py::buffer_info info = byte_buffer(data);
  set_device(device);
  py::gil_scoped_release release;
  rans::decode_cuda(static_cast<const uint8_t*>(info.ptr), size_t(info.size), as_ptr<const int32_t>(indexes), n,
                    tables, as_ptr<int32_t>(out), as_ptr<void>(stream));
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

void bind_types(py::module_& m) {
  py::enum_<DType>(m, "DType", "element type of the floating-point kernels")
      .value("Float32", DType::Float32)
      .value("Float64", DType::Float64);

  py::enum_<BankKind>(m, "BankKind", "what a polyphase bank does to its two channels (see polyphase.h)")
      .value("Split", BankKind::Split)
      .value("Merge", BankKind::Merge);

  py::enum_<quant::Op>(m, "QuantOp", "elementwise quantization formula (see quant.h)")
      .value("RoundOffset", quant::Op::RoundOffset)
      .value("UniformNoise", quant::Op::UniformNoise)
      .value("ToUniform", quant::Op::ToUniform)
      .value("ToUniformGrad", quant::Op::ToUniformGrad)
      .value("ToNormal", quant::Op::ToNormal)
      .value("ToNormalGrad", quant::Op::ToNormalGrad);

  py::enum_<media::PixelType>(m, "PixelType", "element type of the pixels kernels read (see media/pixels.h)")
      .value("UInt8", media::PixelType::UInt8)
      .value("Float32", media::PixelType::Float32);

  py::class_<PolyphaseBank>(m, "PolyphaseBank", "taps y_out[o] += coef * s_src[(o + shift) mod M], validated")
      .def(py::init(&make_bank), py::kw_only(), py::arg("out"), py::arg("src"), py::arg("shift"), py::arg("coef"));

  py::class_<LiftingScheme>(m, "LiftingScheme", "predict/update pairs and band scales; no arguments: no scheme")
      .def(py::init<>())
      .def(py::init(&LiftingScheme::from_steps), py::kw_only(), py::arg("scale0"), py::arg("scale1"),
           py::arg("predict"), py::arg("update"));

  py::class_<rans::Tables>(m, "RansTables", "int32 cdfs (count, stride) with per-row lengths and offsets")
      .def(py::init([](uintptr_t cdfs, int64_t count, int64_t stride, uintptr_t lengths, uintptr_t offsets) {
               return rans::Tables{as_ptr<const int32_t>(cdfs), count, stride, as_ptr<const int32_t>(lengths),
                                   as_ptr<const int32_t>(offsets)};
             }),
             py::kw_only(), py::arg("cdfs"), py::arg("count"), py::arg("stride"), py::arg("lengths"),
             py::arg("offsets"));

  py::class_<predictive::Planes>(m, "PredictivePlanes", "latent planes and the predictive model (see predictive.h)")
      .def(py::init([](int64_t count, int64_t height, int64_t width, int64_t channels, int bits, int bins,
                         int centres, uintptr_t weights, uintptr_t scales) {
               return predictive::Planes{count, height, width, channels, bits, as_ptr<const int8_t>(weights),
                                         as_ptr<const int32_t>(scales), bins, centres};
             }),
             py::kw_only(), py::arg("count"), py::arg("height"), py::arg("width"), py::arg("channels"),
             py::arg("bits"), py::arg("bins"), py::arg("centres"), py::arg("weights") = 0, py::arg("scales") = 0);

  const quant::Params defaults;
  py::class_<quant::Params>(m, "QuantParams", "constants of the quantization formulas (see quant.h)")
      .def(py::init([](double scale, double latent_max, double clip_low, double clip_high, uint64_t seed,
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
             }),
             py::kw_only(), py::arg("scale") = defaults.scale, py::arg("latent_max") = defaults.latent_max,
             py::arg("clip_low") = defaults.clip_low, py::arg("clip_high") = defaults.clip_high,
             py::arg("seed") = defaults.seed, py::arg("offsets") = 0, py::arg("channels") = defaults.channels,
             py::arg("inner") = defaults.inner);
}

void bind_cpu_kernels(py::module_& m) {
  m.def("cpu_isa", &cpu_isa_name, "instruction set of the CPU kernels in use: avx512, avx2 or baseline");
  m.def("l2_cache_bytes", &l2_cache_bytes, "per-core L2 size the CPU kernels block for (WALLOC_L2_BYTES overrides)");
  m.def("wpt1d_cpu", &wpt1d_cpu_binding, "1-D packet tree split/merge of contiguous planes", py::kw_only(),
        py::arg("kind"), py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("planes"), py::arg("length"),
        py::arg("bank"), py::arg("lifting"), py::arg("levels"), py::arg("threads"));
  m.def("wpt2d_cpu", &wpt2d_cpu_binding, "2-D packet tree split/merge of contiguous planes", py::kw_only(),
        py::arg("kind"), py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("planes"), py::arg("height"),
        py::arg("width"), py::arg("bank"), py::arg("lifting"), py::arg("levels"), py::arg("threads"),
        py::arg("shift") = 0.0);
  m.def("quant_cpu", &quant_cpu_binding, "elementwise quantization kernels (see csrc/quant/quant.h)", py::kw_only(),
        py::arg("op"), py::arg("dtype"), py::arg("x"), py::arg("g"), py::arg("y"), py::arg("n"), py::arg("params"),
        py::arg("threads"));
  m.def("pointwise_cpu", &pointwise_cpu_binding,
        "y = bias + weight x per sample, summed in channel order without FMAs (see linear/pointwise.h)",
        py::kw_only(), py::arg("dtype"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"),
        py::arg("batch"), py::arg("in_channels"), py::arg("out_channels"), py::arg("size"), py::arg("threads"));
  m.def("planes_from_pixels_cpu", &planes_from_pixels_cpu_binding,
        "contiguous float planes pixel / divisor - shift from (N, C, H, W) pixels of any strides (media/pixels.h)",
        py::kw_only(), py::arg("type"), py::arg("pixels"), py::arg("sizes"), py::arg("strides"), py::arg("divisor"),
        py::arg("shift"), py::arg("planes"), py::arg("threads"));
  m.def("wpt2d_from_pixels_cpu", &wpt2d_from_pixels_cpu_binding,
        "2-D packet tree split of pixels / divisor - shift, from (N, C, H, W) pixels of any strides "
        "(wavelets/wpt_pixels.h)", py::kw_only(), py::arg("type"), py::arg("pixels"), py::arg("sizes"),
        py::arg("strides"), py::arg("divisor"), py::arg("shift"), py::arg("y"), py::arg("bank"), py::arg("lifting"),
        py::arg("levels"), py::arg("threads"));
  m.def("rans_validate_tables", [](const rans::Tables& tables) { rans::validate(tables, nullptr, 0); },
        "checks host-side rANS tables (raises ValueError)", py::arg("tables"));
  m.def("rans_encode_cpu", &rans_encode_cpu_binding, "chunked interleaved rANS encode (see csrc/entropy/rans.h)",
        py::kw_only(), py::arg("symbols"), py::arg("indexes"), py::arg("n"), py::arg("tables"), py::arg("threads"));
  m.def("rans_decode_cpu", &rans_decode_cpu_binding, "chunked interleaved rANS decode, bounds-checked",
        py::arg("data"), py::kw_only(), py::arg("indexes"), py::arg("n"), py::arg("tables"), py::arg("out"),
        py::arg("threads"));
  m.def("rans_stream_symbols", &rans_stream_symbols_binding, "symbol count of a checked rANS stream header",
        py::arg("data"));
  m.def("predictive_fit_weights_cpu", &predictive_fit_weights_cpu_binding,
        "per-plane int8 prediction weights of the predictive latent model", py::kw_only(), py::arg("symbols"),
        py::arg("planes"), py::arg("weights"), py::arg("threads"));
  m.def("predictive_analyse_cpu", &predictive_analyse_cpu_binding,
        "coded errors and contexts of latent planes under the predictive model", py::kw_only(), py::arg("symbols"),
        py::arg("planes"), py::arg("errors"), py::arg("contexts"), py::arg("threads"));
  m.def("predictive_choose_scales_cpu", &predictive_choose_scales_cpu_binding,
        "per plane and activity bin, the table scale that codes the errors in the fewest bits", py::kw_only(),
        py::arg("errors"), py::arg("contexts"), py::arg("planes"), py::arg("cost"), py::arg("reach"),
        py::arg("scales"), py::arg("chosen"), py::arg("rows"), py::arg("threads"));
  m.def("predictive_decode_cpu", &predictive_decode_cpu_binding,
        "sequential predictive decode of latent planes (see csrc/entropy/predictive.h)", py::arg("data"),
        py::kw_only(), py::arg("planes"), py::arg("tables"), py::arg("out"));
}

#ifdef WALLOC_WITH_CUDA
void bind_cuda_kernels(py::module_& m) {
  m.def("cuda_device_count", &cuda_device_count, "CUDA devices the compiled kernels can use now");
  m.def("wpt1d_cuda", &wpt1d_cuda_binding, "CUDA twin of wpt1d_cpu (taps only)", py::kw_only(), py::arg("kind"),
        py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("workspace"), py::arg("planes"), py::arg("length"),
        py::arg("bank"), py::arg("levels"), py::arg("device"), py::arg("stream"));
  m.def("wpt2d_cuda", &wpt2d_cuda_binding, "CUDA twin of wpt2d_cpu (taps only)", py::kw_only(), py::arg("kind"),
        py::arg("dtype"), py::arg("x"), py::arg("y"), py::arg("workspace"), py::arg("planes"), py::arg("height"),
        py::arg("width"), py::arg("bank"), py::arg("levels"), py::arg("device"), py::arg("stream"));
  m.def("quant_cuda", &quant_cuda_binding, "CUDA twin of quant_cpu (params.offsets on the device)", py::kw_only(),
        py::arg("op"), py::arg("dtype"), py::arg("x"), py::arg("g"), py::arg("y"), py::arg("n"), py::arg("params"),
        py::arg("device"), py::arg("stream"));
  m.def("pointwise_cuda", &pointwise_cuda_binding, "CUDA twin of pointwise_cpu (the same bits)", py::kw_only(),
        py::arg("dtype"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"), py::arg("batch"),
        py::arg("in_channels"), py::arg("out_channels"), py::arg("size"), py::arg("device"), py::arg("stream"));
  m.def("planes_from_pixels_cuda", &planes_from_pixels_cuda_binding, "CUDA twin of planes_from_pixels_cpu",
        py::kw_only(), py::arg("type"), py::arg("pixels"), py::arg("sizes"), py::arg("strides"), py::arg("divisor"),
        py::arg("shift"), py::arg("planes"), py::arg("device"), py::arg("stream"));
  m.def("rans_encode_cuda", &rans_encode_cuda_binding, "rans_encode_cpu on the GPU (tables validated, on device)",
        py::kw_only(), py::arg("symbols"), py::arg("indexes"), py::arg("n"), py::arg("tables"), py::arg("device"),
        py::arg("stream"));
  m.def("rans_decode_cuda", &rans_decode_cuda_binding, "rans_decode_cpu on the GPU (tables validated, on device)",
        py::arg("data"), py::kw_only(), py::arg("indexes"), py::arg("n"), py::arg("tables"), py::arg("out"),
        py::arg("device"), py::arg("stream"));
}
#endif

}  // namespace
}  // namespace walloc

PYBIND11_MODULE(_C, m) {
  using namespace walloc;
  m.doc() = "walloc compiled kernels (raw pointers; see walloc.ops.kernels, their one caller)";
  m.attr("__version__") = WALLOC_VERSION;
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  py::register_exception<BitstreamError>(m, "BitstreamError", PyExc_ValueError);
  bind_types(m);
  bind_cpu_kernels(m);
#ifdef WALLOC_WITH_CUDA
  m.attr("cuda_compiled") = true;
  bind_cuda_kernels(m);
#else
  m.attr("cuda_compiled") = false;
  m.def("cuda_device_count", [] { return 0; }, "CUDA devices the compiled kernels can use now");
#endif
}
