// The per-element formulas of quant.h, shared by the CPU and CUDA kernels so both compute the same thing.
#pragma once

#include <cmath>

#include "quant.h"

namespace walloc {
namespace quant {

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

WALLOC_HD double normal_cdf(double x) { return 0.5 * erfc(-x * kSqrtHalf); }
WALLOC_HD double normal_pdf(double x) { return kInvSqrt2Pi * exp(-0.5 * x * x); }

// Inverse normal CDF: Acklam's rational approximation (relative error 1.2e-9) refined by one Halley step
// on erfc, which brings it to double precision.
WALLOC_HD double normal_icdf(double p) {
  const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                       1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                       6.680131188771972e+01, -1.328068155288572e+01};
  const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                       -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    const double q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) {
    const double q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = normal_cdf(x) - p;
  const double u = e / normal_pdf(x);
  return x - u / (1 + x * u / 2);
}

// Up to this |z| the compander's erf is erf_small's polynomial; past it, the C library's (or CUDA's) erf. A
// codec's latents lie within it (|z| < 0.61 on Kodak under rgb-16x).
constexpr double kErfSmallLimit = 1;

// erf(z) for |z| <= kErfSmallLimit: z P(z^2), P the degree-11 Chebyshev interpolant of erf(sqrt(w)) / sqrt(w) on
// [0, 1], fitted at 50 digits; within 2.4e-16 (about an ulp) of erf in double. Only multiplies and adds, so CPU
// loops vectorise it, and every CPU and CUDA (compiled without FMA contraction) computes the same bits.
WALLOC_HD double erf_small(double z) {
  const double w = z * z;
  double p = -7.7958988270021422416e-10;
  p = p * w + 1.3720064546777685604e-8;
  p = p * w - 1.6208483801871705902e-7;
  p = p * w + 1.644742470331736241e-6;
  p = p * w - 1.4924736907419660338e-5;
  p = p * w + 1.2055294904839707917e-4;
  p = p * w - 8.5483259753896920806e-4;
  p = p * w + 5.2239776071164227321e-3;
  p = p * w - 2.686617064323777036e-2;
  p = p * w + 1.1283791670945006266e-1;
  p = p * w - 3.7612638903183540438e-1;
  p = p * w + 1.1283791670955125665;
  return z * p;
}

// The compander's argument z = x / (s sqrt 2). ToUniform is m erf(z) = 2 m (Phi(x / s) - 1/2), written with erf
// so small latents keep their precision (2 m (Phi - 1/2) cancels).
WALLOC_HD double compander_z(double x, const Params& p) { return x * (kSqrtHalf / p.scale); }

// The |x| up to which ToUniform takes erf_small (z at kErfSmallLimit, to rounding), in x's own type so CPU loops
// test it in vectors as wide as x's.
template <typename T>
WALLOC_HD T erf_small_bound(const Params& p) { return T(kErfSmallLimit * p.scale / kSqrtHalf); }

template <typename T>
WALLOC_HD bool past_erf_small(T x, T bound) { return x > bound || x < -bound; }  // NaN is not: erf_small passes it on

template <typename T>
WALLOC_HD T to_uniform(T x, const Params& p) {
  const double z = compander_z(double(x), p);
  return T(p.latent_max * (past_erf_small(x, erf_small_bound<T>(p)) ? erf(z) : erf_small(z)));
}

template <typename T>
WALLOC_HD T apply(Op op, T xt, T gt, int64_t i, const Params& p) {
  const double x = double(xt);
  switch (op) {
    case Op::RoundOffset: {
      const double o = p.offsets ? p.offsets[(i / p.inner) % p.channels] : 0.0;
      // Round half to even, as torch.round, in the tensor's own precision.
      return T(nearbyint(T(x - o)) + o);
    }
    case Op::UniformNoise:
      return T(x + (uniform_at(p.seed, uint64_t(i)) - 0.5));
    case Op::ToUniform:
      return to_uniform(xt, p);
    case Op::ToUniformGrad:
      return T(double(gt) * 2 * p.latent_max * normal_pdf(x / p.scale) / p.scale);
    case Op::ToNormal: {
      const double v = x / (2 * p.latent_max) + 0.5;
      return T(p.scale * normal_icdf(v < p.clip_low ? p.clip_low : (v > p.clip_high ? p.clip_high : v)));
    }
    case Op::ToNormalGrad: {
      const double v = x / (2 * p.latent_max) + 0.5;
      if (v < p.clip_low || v > p.clip_high) return T(0);
      return T(double(gt) * p.scale / (2 * p.latent_max * normal_pdf(normal_icdf(v))));
    }
  }
  return T(0);
}

}  // namespace quant
}  // namespace walloc
