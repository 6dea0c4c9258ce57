// U-ViT: "All are Worth Words: A ViT Backbone for Diffusion Models" (Bao et al., CVPR 2023).
// Port of the official libs/uvit.py and libs/uvit_t2i.py (github baofff/U-ViT @ ce55170) as one module covering the
// unconditional, class-conditional and text-conditioned variants. State-dict keys equal the official ones.
// Deviations: fused attention by default (equal within 1e-6 to the official math path, which is still available);
// no activation checkpointing (`use_checkpoint`), which TorchSharp 0.107 lacks; clear errors on malformed inputs.
// Two ablation options that the official code lacks (UViTConfig.SkipMode, UViTConfig.TimeConditioning; the paper's section
// 4.1 describes them) default to the official behaviour and leave its keys untouched.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Networks;

/// <summary>The U-ViT noise-prediction network: all inputs (time, condition, noisy image patches) are tokens.</summary>
public sealed class UViTNetwork : Module
{
    // ---------------------------------------------------------------- parameters (registration order = official key order)
    private readonly Parameter pos_embed;
    private readonly PatchEmbed patch_embed;
    private readonly Sequential? time_embed;
    private readonly Embedding? label_emb;
    private readonly Linear? context_embed;
    private readonly ModuleList<Block> in_blocks;
    private readonly Block mid_block;
    private readonly ModuleList<Block> out_blocks;
    private readonly LayerNorm norm;
    private readonly Linear decoder_pred;
    private readonly Conv2d? final_layer;

    /// <summary>The architecture this network was built with.</summary>
    public UViTConfig Config { get; }

    /// <summary>Builds a U-ViT and initialises it as the official code does for training from scratch.</summary>
    /// <param name="config">Architecture (see <see cref="UViTPresets"/> for the official ones).</param>
    /// <param name="device">Where the parameters live (default CPU).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="seed">Seed for the initialisation; null uses torch's global generator.</param>
    public UViTNetwork(UViTConfig config, Device? device = null, ScalarType? dtype = null, long? seed = null) : base("UViT")
    {
        Runtime.TorchRuntime.EnsureLoaded(device?.type ?? DeviceType.CPU);
        Config = config.Validate();
        int d = config.EmbedDim, c = config.InChannels, p = config.PatchSize;

        pos_embed = Parameter(zeros(1, config.TokenCount, d, dtype: dtype, device: device));   // [1, L, D]
        register_parameter(nameof(pos_embed), pos_embed);
        patch_embed = new PatchEmbed(p, c, d, device, dtype);
        register_module(nameof(patch_embed), patch_embed);
        if (config.MlpTimeEmbed)
        {
            time_embed = Sequential(Linear(d, 4 * d, device: device, dtype: dtype), SiLU(), Linear(4 * d, d, device: device, dtype: dtype));
            register_module(nameof(time_embed), time_embed);
        }
        if (config.Conditioning == UViTConditioning.ClassLabel)
        {
            label_emb = ModuleConstruction.Build(() => Embedding(config.NumClasses, d, device: device, dtype: dtype));
            register_module(nameof(label_emb), label_emb);
        }
        if (config.Conditioning == UViTConditioning.TextContext)
        {
            context_embed = Linear(config.ClipDim!.Value, d, device: device, dtype: dtype);
            register_module(nameof(context_embed), context_embed);
        }
        int half = config.Depth / 2;
        in_blocks = new ModuleList<Block>(Enumerable.Range(0, half).Select(_ => new Block(config, withSkip: false, device, dtype)).ToArray());
        register_module(nameof(in_blocks), in_blocks);
        mid_block = new Block(config, withSkip: false, device, dtype);
        register_module(nameof(mid_block), mid_block);
        out_blocks = new ModuleList<Block>(Enumerable.Range(0, half).Select(_ => new Block(config, config.Skip, device, dtype)).ToArray());
        register_module(nameof(out_blocks), out_blocks);
        norm = LayerNorm(d, eps: 1e-5, device: device, dtype: dtype);
        register_module(nameof(norm), norm);
        decoder_pred = Linear(d, p * p * c, device: device, dtype: dtype);
        register_module(nameof(decoder_pred), decoder_pred);
        if (config.Conv)
        {
            final_layer = ModuleConstruction.Build(() => Conv2d(c, c, kernel_size: 3, padding: 1, device: device, dtype: dtype));
            register_module(nameof(final_layer), final_layer);
        }

        if (device?.type != DeviceType.META) InitializeForTraining(seed);
    }

    /// <summary>
    /// The official initialisation (reference.md section 1): <c>pos_embed</c> and every Linear weight ~ N(0, 0.02^2)
    /// (trunc_normal with bounds +-2), Linear biases 0, LayerNorm weight 1 / bias 0; conv and embedding get PyTorch's
    /// default initialisation, redrawn here so that a seed fixes every weight.
    /// </summary>
    public void InitializeForTraining(long? seed = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();   // TorchSharp's Embedding.weight hands out a new handle per call: release them here
        // CPU generator: seeded draws are made on the CPU and copied to the device (SeededDraws), so a seed gives the same
        // weights on every device.
        using var generator = seed is null ? null : new Generator((ulong)seed.Value);
        SeededDraws.Fill(pos_embed, generator, t => TruncatedNormal.Fill(t, std: 0.02, generator: generator));
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    SeededDraws.Fill(linear.weight!, generator, t => TruncatedNormal.Fill(t, std: 0.02, generator: generator));
                    if (linear.bias is not null) init.zeros_(linear.bias);
                    break;
                case LayerNorm layerNorm:
                    init.ones_(layerNorm.weight!);
                    init.zeros_(layerNorm.bias!);
                    break;
                case Conv2d conv:
                    // PyTorch's Conv2d.reset_parameters: kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(fan_in)), bias U(+-1/sqrt(fan_in)).
                    double bound = 1 / Math.Sqrt(conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]);
                    SeededDraws.Fill(conv.weight, generator, t => t.uniform_(-bound, bound, generator));
                    if (conv.bias is not null) SeededDraws.Fill(conv.bias, generator, t => t.uniform_(-bound, bound, generator));
                    break;
                case Embedding embedding:
                    SeededDraws.Fill(embedding.weight!, generator, t => t.normal_(0, 1, generator));   // PyTorch's Embedding default
                    break;
            }
        }
    }

    /// <summary>Switches every attention layer between the fused kernel (default) and the official plain path.</summary>
    public bool UseFusedAttention
    {
        get => mid_block.SelfAttention.UseFusedAttention;
        set
        {
            foreach (var block in in_blocks.Concat([mid_block]).Concat(out_blocks)) block.SelfAttention.UseFusedAttention = value;
        }
    }

    /// <summary>Predicts the noise in <paramref name="x"/>.</summary>
    /// <param name="x">[B, C, H, W] noisy images or latents; H = W = Config.ImageSize.</param>
    /// <param name="timesteps">[B] network time input (999 t for continuous VP models, n or 1000 t for discrete ones).</param>
    /// <param name="labels">[B] int64 class labels in [0, NumClasses) - required by class-conditional models only.</param>
    /// <param name="context">[B, NumClipTokens, ClipDim] text tokens - required by text-conditioned models only.</param>
    /// <returns>[B, C, H, W] predicted noise.</returns>
    public Tensor forward(Tensor x, Tensor timesteps, Tensor? labels = null, Tensor? context = null)
    {
        UViTInputChecks.Check(Config, x, timesteps, labels, context);
        using var scope = NewDisposeScope();
        var dtype = pos_embed.dtype;
        if (x.dtype != dtype) x = x.to(dtype);
        var patches = patch_embed.forward(x);                                                     // [B, N, D]
        var time = TimestepEmbedding.Compute(timesteps.to(x.device), Config.EmbedDim).to(dtype);  // [B, D]
        if (time_embed is not null) time = time_embed.forward(time);                              // [B, D]
        Tensor tokens;
        Tensor? condition = null;                                                                 // [B, D] with adaptive layer norm
        if (Config.TimeConditioning == UViTTimeConditioning.AdaLayerNorm)
        {
            // Ablation variant: time + label reach the blocks through adaptive layer norm; only context and patches are tokens.
            var embedding = label_emb is null ? time : time.Plus(label_emb.forward(labels!.to(x.device)));          // [B, D]
            condition = functional.silu(embedding);                                                                // [B, D]
            tokens = context_embed is null ? patches : cat([context_embed.forward(context!.to(x.device).to(dtype)), patches], dim: 1); // [B, (T +) N, D]
        }
        else
        {
            var timeToken = time.unsqueeze(1);                                                    // [B, 1, D]
            tokens = Config.Conditioning switch
            {
                UViTConditioning.ClassLabel => cat([label_emb!.forward(labels!.to(x.device)).unsqueeze(1), timeToken, patches], dim: 1), // [B, 2 + N, D]
                UViTConditioning.TextContext => cat([timeToken, context_embed!.forward(context!.to(x.device).to(dtype)), patches], dim: 1), // [B, 1 + T + N, D]
                _ => cat([timeToken, patches], dim: 1),                                                                               // [B, 1 + N, D]
            };
        }
        tokens = tokens.Plus(pos_embed);                                                          // [B, L, D]

        var skips = new Stack<Tensor>();
        foreach (var block in in_blocks)
        {
            tokens = block.forward(tokens, null, condition);                                      // [B, L, D]
            skips.Push(tokens);
        }
        tokens = mid_block.forward(tokens, null, condition);                                      // [B, L, D]
        foreach (var block in out_blocks)
            tokens = block.forward(tokens, skips.Pop(), condition);                               // [B, L, D] (LIFO skips)

        tokens = decoder_pred.forward(norm.forward(tokens));                                      // [B, L, P*P*C]
        var patchTokens = tokens[.., Config.ExtraTokens..];                                       // [B, N, P*P*C]
        var image = Unpatchify(patchTokens, Config);                                              // [B, C, H, W]
        if (final_layer is not null) image = GradientSafeConvolution.Apply(final_layer, image);   // [B, C, H, W]
        return image.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tokens back to an image; each token holds a (p1, p2, C) patch with the channel fastest (the official einops
    /// <c>'B (h w) (p1 p2 C) -> B C (h p1) (w p2)'</c>), which is not the patch-embedding conv's (C, p, p) order.
    /// </summary>
    /// <param name="tokens">[B, h*w, P*P*C]</param>
    /// <param name="config">The architecture (patch size, channels, patches per side).</param>
    /// <returns>[B, C, h*P, w*P]</returns>
    public static Tensor Unpatchify(Tensor tokens, UViTConfig config)
    {
        long b = tokens.shape[0];
        int h = config.PatchesPerSide, p = config.PatchSize, c = config.InChannels;
        using var grid = tokens.reshape(b, h, h, p, p, c);                    // [B, h, w, p1, p2, C]
        using var ordered = grid.permute(0, 5, 1, 3, 2, 4);                   // [B, C, h, p1, w, p2]
        return ordered.reshape(b, c, h * p, h * p);                           // [B, C, H, W]
    }

    /// <summary>Number of parameters (elements of every state-dict tensor).</summary>
    public long ParameterCount => parameters().Sum(t => t.numel());

    /// <summary>Disposes the weights and, at once, the native module of every layer (<see cref="NativeModuleRelease"/>).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) NativeModuleRelease.Dispose(this, () => base.Dispose(true));
        else base.Dispose(false);
    }
}
