// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `Encoder` (also vendored as U-ViT's libs/autoencoder.py).
// Field names, registration order and module nesting reproduce the official state-dict keys
// (encoder.conv_in, encoder.down.{i}.block.{j}, encoder.down.{i}.attn.{j}, encoder.down.{i}.downsample.conv,
// encoder.mid.*, encoder.norm_out, encoder.conv_out).
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>One encoder resolution level: NumResBlocks residual blocks (each followed by attention where configured), then a Downsample except at the last level.</summary>
internal sealed class EncoderLevel : Module<Tensor, Tensor>
{
    private readonly ModuleList<ResnetBlock> block;
    private readonly ModuleList<AttnBlock> attn;
    private readonly Downsample? downsample;

    public EncoderLevel(long inChannels, long outChannels, int blocks, bool withAttention, bool withDownsample, double dropout,
                        Device? device, ScalarType? dtype) : base("down")
    {
        block = new ModuleList<ResnetBlock>(Enumerable.Range(0, blocks)
            .Select(j => new ResnetBlock(j == 0 ? inChannels : outChannels, outChannels, dropout, device, dtype)).ToArray());
        attn = new ModuleList<AttnBlock>(withAttention ? Enumerable.Range(0, blocks).Select(_ => new AttnBlock(outChannels, device, dtype)).ToArray() : []);
        register_module(nameof(block), block);
        register_module(nameof(attn), attn);
        if (withDownsample)
        {
            downsample = new Downsample(outChannels, device, dtype);
            register_module(nameof(downsample), downsample);
        }
    }

    internal IEnumerable<AttnBlock> Attentions => attn;

    /// <param name="x">[B, Cin, H, W]</param>
    /// <returns>[B, Cout, H/2, W/2] (or [B, Cout, H, W] at the last level)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        for (int j = 0; j < block.Count; j++)
        {
            x = block[j].forward(x);                       // [B, Cout, H, W]
            if (attn.Count > 0) x = attn[j].forward(x);    // [B, Cout, H, W]
        }
        if (downsample is not null) x = downsample.forward(x); // [B, Cout, H/2, W/2]
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Image [B, in_channels, H, W] to the moments' precursor [B, 2*z_channels, H/f, W/f] (f = 2^(levels-1)).</summary>
internal sealed class Encoder : Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly ModuleList<EncoderLevel> down;
    private readonly MidBlock mid;
    private readonly GroupNorm norm_out;
    private readonly Conv2d conv_out;

    public Encoder(AutoencoderKLConfig config, Device? device, ScalarType? dtype) : base(nameof(Encoder))
    {
        conv_in = ModuleConstruction.Build(() => Conv2d(config.InChannels, config.Ch, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        var levels = new List<EncoderLevel>();
        int resolution = config.Resolution;
        for (int i = 0; i < config.Levels; i++)
        {
            long inChannels = i == 0 ? config.Ch : config.LevelChannels(i - 1);   // official in_ch_mult = (1,) + ch_mult
            bool last = i == config.Levels - 1;
            levels.Add(new EncoderLevel(inChannels, config.LevelChannels(i), config.NumResBlocks, config.AttnResolutions.Contains(resolution),
                                        withDownsample: !last, config.Dropout, device, dtype));
            if (!last) resolution /= 2;
        }
        down = new ModuleList<EncoderLevel>([.. levels]);
        long top = config.LevelChannels(config.Levels - 1);
        mid = new MidBlock(top, config.Dropout, device, dtype);
        norm_out = AutoencoderNorm.Create(top, device, dtype);
        conv_out = ModuleConstruction.Build(() => Conv2d(top, config.DoubleZ ? 2 * config.ZChannels : config.ZChannels, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        register_module(nameof(conv_in), conv_in);
        register_module(nameof(down), down);
        register_module(nameof(mid), mid);
        register_module(nameof(norm_out), norm_out);
        register_module(nameof(conv_out), conv_out);
    }

    internal IEnumerable<AttnBlock> Attentions => down.SelectMany(level => level.Attentions).Append(mid.Attention);

    /// <param name="x">[B, in_channels, H, W]</param>
    /// <returns>[B, 2*z_channels, H/f, W/f]</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(x);                                        // [B, ch, H, W]
        foreach (var level in down) h = level.forward(h);                  // [B, ch*ch_mult[-1], H/f, W/f]
        h = mid.forward(h);                                                // [B, ch*ch_mult[-1], H/f, W/f]
        h = conv_out.forward(AutoencoderNorm.Swish(norm_out.forward(h)));  // [B, 2*z_channels, H/f, W/f]
        return h.MoveToOuterDisposeScope();
    }
}
