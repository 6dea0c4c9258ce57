// The function every sampler integrates: a noise prediction eps(x_t, network time). U-ViT predicts noise everywhere
// (reference.md section 3); conditioning and guidance are bound into the function (see ClassifierFreeGuidance).
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Diffusion;

/// <summary>Predicts the noise in <paramref name="x"/> at the network time input <paramref name="networkTime"/>.</summary>
/// <param name="x">[B, C, H, W] noisy images or latents.</param>
/// <param name="networkTime">[B] the network's time input (999 t or 1000 t; see <see cref="NoiseSchedule.NetworkTime"/>).</param>
/// <returns>[B, C, H, W] predicted noise; the caller owns it.</returns>
public delegate Tensor NoisePredictor(Tensor x, Tensor networkTime);

/// <summary>A conditional noise prediction: <paramref name="condition"/> is a batch of labels [B] or contexts [B, T, D].</summary>
/// <returns>[B, C, H, W] predicted noise; the caller owns it.</returns>
public delegate Tensor ConditionalNoisePredictor(Tensor x, Tensor networkTime, Tensor condition);
