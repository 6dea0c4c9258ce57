// CompVis latent-diffusion ldm/modules/diffusionmodules/model.py `Decoder` (also vendored as U-ViT's libs/autoencoder.py).
// The official code builds `up` from the lowest resolution upwards and inserts each level at index 0, so decoder.up.0
// is the HIGHEST resolution (no Upsample) and decoder.up.{levels-1} the lowest; forward walks the list backwards.
// Field names and registration order reproduce the official state-dict keys.
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

using UViT.MLNet.Core.Runtime;

namespace UViT.MLNet.Core.Autoencoder;

/// <summary>One decoder resolution level: NumResBlocks + 1 residual blocks (each followed by attention where configured), then an Upsample except at level 0.</summary>
internal sealed class DecoderLevel : Module<Tensor, Tensor>
{
    private readonly ModuleList<ResnetBlock> block;
    private readonly ModuleList<AttnBlock> attn;
    private readonly Upsample? upsample;

    public DecoderLevel(long inChannels, long outChannels, int blocks, bool withAttention, bool withUpsample, double dropout,
                        Device? device, ScalarType? dtype) : base("up")
    {
        block = new ModuleList<ResnetBlock>(Enumerable.Range(0, blocks)
            .Select(j => new ResnetBlock(j == 0 ? inChannels : outChannels, outChannels, dropout, device, dtype)).ToArray());
        attn = new ModuleList<AttnBlock>(withAttention ? Enumerable.Range(0, blocks).Select(_ => new AttnBlock(outChannels, device, dtype)).ToArray() : []);
        register_module(nameof(block), block);
        register_module(nameof(attn), attn);
        if (withUpsample)
        {
            upsample = new Upsample(outChannels, device, dtype);
            register_module(nameof(upsample), upsample);
        }
    }

    internal IEnumerable<AttnBlock> Attentions => attn;

    /// <param name="x">[B, Cin, h, w]</param>
    /// <returns>[B, Cout, 2h, 2w] (or [B, Cout, h, w] at level 0)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        for (int j = 0; j < block.Count; j++)
        {
            x = block[j].forward(x);                       // [B, Cout, h, w]
            if (attn.Count > 0) x = attn[j].forward(x);    // [B, Cout, h, w]
        }
        if (upsample is not null) x = upsample.forward(x); // [B, Cout, 2h, 2w]
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Latent precursor [B, z_channels, h, w] to image [B, out_ch, h*f, w*f] (f = 2^(levels-1)), not squashed (no tanh).</summary>
internal sealed class Decoder : Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly MidBlock mid;
    private readonly ModuleList<DecoderLevel> up;
    private readonly GroupNorm norm_out;
    private readonly Conv2d conv_out;

    public Decoder(AutoencoderKLConfig config, Device? device, ScalarType? dtype) : base(nameof(Decoder))
    {
        int n = config.Levels;
        long top = config.LevelChannels(n - 1);
        conv_in = ModuleConstruction.Build(() => Conv2d(config.ZChannels, top, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        mid = new MidBlock(top, config.Dropout, device, dtype);

        // Level i is entered with the channels of level i+1 (the top level with its own) and runs at
        // (resolution / 2^(n-1)) * 2^(n-1-i), the official curr_res arithmetic.
        int lowest = config.Resolution >> (n - 1);
        var levels = new DecoderLevel[n];
        for (int i = n - 1; i >= 0; i--)
        {
            long inChannels = i == n - 1 ? top : config.LevelChannels(i + 1);
            int resolution = lowest << (n - 1 - i);
            levels[i] = new DecoderLevel(inChannels, config.LevelChannels(i), config.NumResBlocks + 1,
                                         config.AttnResolutions.Contains(resolution), withUpsample: i != 0, config.Dropout, device, dtype);
        }
        up = new ModuleList<DecoderLevel>(levels);
        norm_out = AutoencoderNorm.Create(config.LevelChannels(0), device, dtype);
        conv_out = ModuleConstruction.Build(() => Conv2d(config.LevelChannels(0), config.OutChannels, kernel_size: 3, padding: 1, device: device, dtype: dtype));
        register_module(nameof(conv_in), conv_in);
        register_module(nameof(mid), mid);
        register_module(nameof(up), up);
        register_module(nameof(norm_out), norm_out);
        register_module(nameof(conv_out), conv_out);
    }

    internal IEnumerable<AttnBlock> Attentions => up.SelectMany(level => level.Attentions).Append(mid.Attention);

    /// <param name="z">[B, z_channels, h, w]</param>
    /// <returns>[B, out_ch, h*f, w*f]</returns>
    public override Tensor forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(z);                                        // [B, ch*ch_mult[-1], h, w]
        h = mid.forward(h);                                                // [B, ch*ch_mult[-1], h, w]
        for (int i = up.Count - 1; i >= 0; i--) h = up[i].forward(h);      // [B, ch*ch_mult[0], h*f, w*f]
        h = conv_out.forward(AutoencoderNorm.Swish(norm_out.forward(h)));  // [B, out_ch, h*f, w*f]
        return h.MoveToOuterDisposeScope();
    }
}
