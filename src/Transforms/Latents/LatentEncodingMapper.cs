// Validates an EncodeLatents input schema and maps batches of images to moments or latents: one autoencoder call per batch.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Autoencoder;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Latents;

/// <summary>One row to encode: its values as read (in the input range) and its sampling seed.</summary>
public readonly record struct EncodingRequest(float[] Values, long Seed);

internal sealed class LatentEncodingMapper : BatchRowMapper<EncodingRequest>
{
    private readonly LatentEncodingTransformer _owner;
    private readonly DataViewSchema.Column _image;
    private readonly DataViewSchema.Column? _seed;
    private readonly long[] _imageShape;     // [C, H, W]
    private readonly long[] _latentShape;    // [E, H/f, W/f]
    private readonly AddedColumn[] _added;

    public LatentEncodingMapper(LatentEncodingTransformer owner, DataViewSchema inputSchema) : base(inputSchema)
    {
        _owner = owner;
        var options = owner.Options;
        var config = owner.Autoencoder.Config;
        var (c, h, w) = LatentColumns.Planar(inputSchema, options.InputColumnName, "Image");
        int f = config.DownsampleFactor;
        if (c != config.InChannels)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{options.InputColumnName}' has {c} channels ({inputSchema[options.InputColumnName].Type}); " +
                                                                       $"this autoencoder encodes {config.InChannels}-channel images.");
        if (h % f != 0 || w % f != 0)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{options.InputColumnName}' holds {h}x{w} images ({inputSchema[options.InputColumnName].Type}); " +
                                                                       $"height and width must be multiples of {f} (the autoencoder's downsample factor). Resize them first.");
        _image = inputSchema[options.InputColumnName];
        _seed = LatentColumns.Seed(inputSchema, options.SeedColumnName);
        _imageShape = [c, h, w];
        _latentShape = [config.EmbedDim, h / f, w / f];
        int outChannels = options.Output == LatentOutput.Moments ? 2 * config.EmbedDim : config.EmbedDim;
        _added = [new AddedColumn(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, outChannels, h / f, w / f))];
    }

    public override IReadOnlyList<AddedColumn> AddedColumns => _added;

    public override IReadOnlyList<DataViewSchema.Column> RequiredInputColumns => _seed is { } seed ? [_image, seed] : [_image];

    public override int BatchSize => _owner.Options.BatchSize;

    public override Func<EncodingRequest> CreateInputReader(DataViewRow row)
    {
        var readImage = LatentColumns.VectorReader(row, _image, (int)(_imageShape[0] * _imageShape[1] * _imageShape[2]));
        var readSeed = _seed is { } seed ? LatentColumns.IntegerReader(row, seed) : null;
        return () => new EncodingRequest(readImage(), readSeed is not null ? readSeed() : _owner.Options.BaseSeed + row.Position);
    }

    public override void MapBatch(IReadOnlyList<EncodingRequest> inputs, bool[] active, object?[][] outputs)
    {
        if (!active[0]) return;
        var model = _owner.Autoencoder;
        var (scale, offset) = PixelRanges.ToModel(_owner.Options.InputRange);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = inputs.SelectMany(r => r.Values).ToArray();
        var images = tensor(values, [inputs.Count, .. _imageShape]).Times(scale).Plus(offset); // [B, C, H, W] in [-1, 1]
        var moments = model.Moments(images);                                               // [B, 2E, h, w]
        var result = _owner.Options.Output switch
        {
            LatentOutput.Moments => moments,
            LatentOutput.MeanLatent => model.MeanLatent(moments),                          // [B, E, h, w]
            _ => model.SampleLatent(moments, RowNoise(inputs)),                            // [B, E, h, w]
        };
        var flat = result.cpu().contiguous().data<float>().ToArray();
        int perRow = flat.Length / inputs.Count;
        for (int i = 0; i < inputs.Count; i++) outputs[i][0] = new VBuffer<float>(perRow, flat.AsSpan(i * perRow, perRow).ToArray());
    }

    // Noise drawn on the CPU from one generator per row seed: a row's latent does not depend on its batch or device.
    private Tensor RowNoise(IReadOnlyList<EncodingRequest> inputs)
    {
        using var noise = new RowSeededNoise(inputs.Select(r => r.Seed).ToList());
        return noise.InitialNoise(_latentShape);                                           // [B, E, h, w]
    }
}
