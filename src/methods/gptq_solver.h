// GPTQ, one Linear at a time (docs/methods/gptq.md): the Hessian of the layer's inputs and the column-by-column
// solve with error compensation on LLMC's quantizer grid (core/fake_quant.h). The pipeline
// (hooks, true-sequential subsets, writing results into the model) lives elsewhere.
//
// Decisions (pitfalls numbered as in docs/pitfalls.md; recorded here so results can name them):
//   * Per-channel qparams and static-group qparams come from the ORIGINAL weight, before dead columns are zeroed
//     (LLMC; the original GPTQ computes static groups after zeroing, pitfall 11).
//   * Dynamic group ranges: by default taken, as in LLMC and IST-DASLab/gptq, from the weight as it stood at the start
//     of the current column block (columns updated by every earlier block, but not by the earlier columns of the
//     current block). That equals the fully updated columns whenever every group starts a block, i.e. when the group
//     size is a multiple of `blocksize` (w4g128 with blocksize 128); otherwise (G < blocksize or G not a multiple of it)
//     the result depends on blocksize. GptqOptions::exact_group_ranges takes them from the fully updated columns
//     instead (blocksize-independent up to float rounding; not what the reference implementations do).
//   * Both the dequantized Q (`weight`, what the original GPTQ stores) and LLMC's compensated unquantized weight
//     (`compensated`, pitfall 10) are returned, with the qparams that turn the latter into the former.
//
// Precision: everything is float32, as in LLMC. Places where float64 would matter: the Hessian of very many batches
// (each running rescale H *= n/(n+m) rounds once, so the relative error grows with the number of add() calls, about
// 1e-7 per call: ~1e-5 after 128 batches) and the Cholesky factorisation of a badly conditioned H at very small
// damping (percdamp << 0.01), where float32 loses digits proportional to the condition number; the solve itself is
// a sequence of rank-1 updates whose rounding is far below the quantization step.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "core/quant_spec.h"

namespace ptq {

struct GptqOptions {
  double percdamp = 0.01;     // damping = percdamp * mean(diag(H)) added to the diagonal
  int64_t blocksize = 128;    // columns per lazy-update block
  bool act_order = false;     // process columns in descending diag(H) order
  bool static_groups = false; // per_group only: group qparams from the original weight, in original column order
  bool exact_group_ranges = false;  // dynamic groups: ranges from fully updated columns (see the file comment)
  // What happens when the Hessian cannot be used (non-finite entries, or Cholesky failing at every damping tried):
  // false: a user error (the solver on its own); true: the documented fallback, round-to-nearest of the original
  // weight on the same grid (no error compensation), reported in GptqResult::fallback (the GPTQ method's setting,
  // so one bad layer does not end a long run; the event is stored with the run).
  bool rtn_fallback = false;
};

// Accumulates H = 2/n · Σ X Xᵀ of one Linear's inputs exactly as the GPTQ reference: for each add(), with m the
// number of sequences in the batch, H ← H·n/(n+m); n ← n+m; H ← H + (2/n)·XᵀX (X the batch's tokens as rows).
// n counts sequences, not tokens (the reference's convention): x [B, T, in] counts B, x [N, in] counts 1.
// H is float32, allocated on the device of the first input; later inputs must be on the same device.
// XᵀX is symmetric; with lower_only, add() computes just the tiles on and below the diagonal (kTile-wide block
// columns: about 0.6 of the full product's FLOPs at in >= 1024) and matrix() mirrors the lower triangle up. The full
// float32 product is not exactly symmetric (BLAS applies alpha = 2/n to one operand), but each tile's entries equal
// the full product's lower-triangle entries bit for bit (gptq_solver_test), and the solver's Cholesky reads only the
// lower triangle: results are unchanged. act_order permutes H across both triangles, so it needs the full product.
class GptqHessian {
 public:
  explicit GptqHessian(int64_t in_features, bool lower_only = false);
  // x: [B, T, in] or [N, in], any floating dtype (converted to float32).
  void add(const at::Tensor& x);
  // [in, in] float32; zeros (on the CPU) before the first add().
  const at::Tensor& matrix() const;
  // n: sequences seen so far.
  int64_t samples() const { return samples_; }
  int64_t in_features() const { return in_; }
  static constexpr int64_t kTile = 256;

 private:
  int64_t in_;
  int64_t samples_ = 0;
  bool lower_only_;
  mutable at::Tensor h_;        // lower_only: the lower triangle is valid, the upper one too when !stale_
  mutable bool stale_ = false;  // the upper triangle lags the lower one (an add() since the last matrix())
};

struct GptqResult {
  at::Tensor weight;       // float32 [out, in]: the dequantized quantized weight Q, original column order
  at::Tensor compensated;  // float32 [out, in]: error-compensated, unquantized weight (LLMC's stored weight)
  at::Tensor codes;        // int8 (sym) / uint8 (asym) [out, in], original column order;
                           // (codes - zeros[:, g_idx]) * scales[:, g_idx] == weight bit for bit
  at::Tensor scales;       // float32 [out, n_groups] (n_groups = 1 unless per_group), by group in the order formed
  at::Tensor zeros;        // float32 [out, n_groups], integer-valued, 0 when symmetric
  at::Tensor g_idx;        // int32 [in]: group of every original column (GPTQ's g_idx, docs/formats.md)
  at::Tensor perm;         // int64 [in]: processing order (act_order), perm[k] = original column; else undefined
  double loss = 0;         // Σ (w − q)² / (2 d²), d = diag of the upper Cholesky factor of H⁻¹ (reference "error")
  double damp_used = 0;    // damping added to diag(H) (percdamp × mean diag, after retries)
  int cholesky_retries = 0;  // times damping was increased because a Cholesky factorisation failed
  int64_t dead_columns = 0;  // columns with diag(H) == 0 (their input is always 0)
  std::string fallback;         // "" (GPTQ solved the layer) or "rtn" (GptqOptions::rtn_fallback applied)
  std::string fallback_reason;  // why, when fallback is set: the Hessian problem in words
};

// weight: [out, in], any floating dtype; hessian: [in, in] float32 (GptqHessian::matrix()), same device as weight.
// spec: the weight grid (per_tensor, per_channel or per_group; a per_tensor range is reported as one range per row).
// Cholesky failures (H + damping not positive definite) retry with the damping fraction multiplied by 10 (from 0.01
// when percdamp is 0), at most 5 times (the GPTQ reference and AutoGPTQ raise damping the same way); then, and for a
// Hessian with NaN/inf entries, a user error is thrown, or with opt.rtn_fallback the RTN result is returned (codes,
// scales and zeros of quantize(weight, spec), g_idx consecutive, loss 0, fallback "rtn"). Computed on the weight's
// device.
GptqResult gptq_quantize(const at::Tensor& weight, const at::Tensor& hessian, const QuantSpec& spec,
                         const GptqOptions& opt);

}  // namespace ptq
