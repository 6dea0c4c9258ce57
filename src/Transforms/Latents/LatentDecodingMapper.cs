// Validates a DecodeLatents input schema and maps batches of latents to images: one decoder run per batch (itself in
// micro-batches).
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Latents;

internal sealed class LatentDecodingMapper : BatchRowMapper<float[]>
{
    private readonly LatentDecodingTransformer _owner;
    private readonly DataViewSchema.Column _latent;
    private readonly long[] _latentShape;    // [E, h, w]
    private readonly int _channels;
    private readonly int _height;
    private readonly int _width;
    private readonly List<AddedColumn> _added = [];

    public LatentDecodingMapper(LatentDecodingTransformer owner, DataViewSchema inputSchema) : base(inputSchema)
    {
        _owner = owner;
        var options = owner.Options;
        var config = owner.Autoencoder.Config;
        var (e, h, w) = LatentColumns.Planar(inputSchema, options.InputColumnName, "Latent");
        if (e != config.EmbedDim)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Latent column '{options.InputColumnName}' has {e} channels ({inputSchema[options.InputColumnName].Type}); " +
                                                                       $"this autoencoder decodes {config.EmbedDim}-channel latents" +
                                                                       (e == 2 * config.EmbedDim ? " (the column looks like moments: sample a latent from them first)." : "."));
        _latent = inputSchema[options.InputColumnName];
        _latentShape = [e, h, w];
        int f = config.DownsampleFactor;
        (_channels, _height, _width) = (config.OutChannels, h * f, w * f);
        _added.Add(new AddedColumn(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, _channels, _height, _width)));
        if (owner.HasImageOutput) _added.Add(new AddedColumn(options.ImageColumnName!, new ImageDataViewType(_height, _width)));
    }

    public override IReadOnlyList<AddedColumn> AddedColumns => _added;

    public override IReadOnlyList<DataViewSchema.Column> RequiredInputColumns => [_latent];

    public override int BatchSize => _owner.Options.BatchSize;

    public override Func<float[]> CreateInputReader(DataViewRow row) =>
        LatentColumns.VectorReader(row, _latent, (int)(_latentShape[0] * _latentShape[1] * _latentShape[2]));

    public override void MapBatch(IReadOnlyList<float[]> inputs, bool[] active, object?[][] outputs)
    {
        if (!active.Any(a => a)) return;
        var range = _owner.Options.OutputRange;
        float[] flat;
        using (NewDisposeScope())
        using (no_grad())
        {
            var z = tensor(inputs.SelectMany(v => v).ToArray(), [inputs.Count, .. _latentShape]);  // [B, E, h, w]
            var images = _owner.Autoencoder.Decode(z).Clamped(-1.0, 1.0);                           // [B, C, H, W] in [-1, 1]
            flat = images.cpu().contiguous().data<float>().ToArray();
        }
        int perRow = flat.Length / inputs.Count;
        for (int i = 0; i < inputs.Count; i++)
        {
            var sample = flat.AsSpan(i * perRow, perRow);
            if (active[0])
            {
                var vector = new float[perRow];
                for (int k = 0; k < perRow; k++) vector[k] = PixelRanges.FromModel(sample[k], range);
                outputs[i][0] = new VBuffer<float>(perRow, vector);
            }
            if (_added.Count > 1 && active[1]) outputs[i][1] = PlanarImages.ToImage(sample, _channels, _height, _width);
        }
    }
}
