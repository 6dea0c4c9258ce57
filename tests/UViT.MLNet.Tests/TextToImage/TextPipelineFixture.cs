// Shared pieces of the text-to-image pipeline tests: the fixture CLIP encoder (width and tokens from its files, random
// weights), seeded random images the fixture autoencoder takes, with one or several captions per row, and prompt rows.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Latents;
using UViT.MLNet.Tests.Text;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Tests.TextToImage;

internal static class TextPipelineFixture
{
    public static ClipTextFiles Clip => ClipFixtures.SmallFiles;

    /// <summary>Width D of the fixture encoder's contexts.</summary>
    public static int Width => Clip.Config.HiddenSize;

    /// <summary>Tokens T of the fixture encoder's contexts (the length of tokenizer.json's id rows).</summary>
    public static int Tokens => ClipFixtures.ContextLength;

    public static readonly string[] Colours = ["red", "green", "blue", "yellow"];

    /// <summary>A tiny text-conditioned network on the fixture autoencoder's E x 8 x 8 latents and [T, D] contexts.</summary>
    public static UViTConfig TinyTextNetwork => new()
    {
        ImageSize = LatentFixture.LatentSize, PatchSize = 4, InChannels = LatentFixture.LatentChannels, EmbedDim = 32, Depth = 2, NumHeads = 2,
        ClipDim = Width, NumClipTokens = Tokens,
    };

    /// <summary><see cref="TinyTextNetwork"/> on the images of <see cref="CaptionedImages"/> themselves (C x Size x Size).</summary>
    public static UViTConfig TinyTextPixelNetwork => TinyTextNetwork with { ImageSize = LatentFixture.Size, InChannels = LatentFixture.Channels };

    /// <summary>EncodeText for a column of the given name.</summary>
    public static TextEncodingEstimator EncodeText(MLContext mlContext, string input, int batchSize = 4) =>
        mlContext.Transforms.EncodeText(Clip, new TextEncodingOptions { InputColumnName = input, OutputColumnName = "Context", BatchSize = batchSize });

    /// <summary>
    /// <paramref name="count"/> random C x Size x Size images (0..255, the fixture autoencoder's input) with two captions each
    /// ("Captions") and the first alone ("Caption").
    /// </summary>
    public static IDataView CaptionedImages(MLContext mlContext, int count)
    {
        int channels = LatentFixture.Channels, size = LatentFixture.Size;
        var random = new Random(11);
        var rows = Enumerable.Range(0, count).Select(i => new CaptionedRow
        {
            Image = Enumerable.Range(0, channels * size * size).Select(_ => (float)random.Next(256)).ToArray(),
            Caption = $"a {Colours[i % Colours.Length]} square",
            Captions = [$"a {Colours[i % Colours.Length]} square", $"a square that is {Colours[i % Colours.Length]}"],
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(CaptionedRow));
        schema[nameof(CaptionedRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, channels, size, size);
        schema[nameof(CaptionedRow.Captions)].ColumnType = new VectorDataViewType(TextDataViewType.Instance, 2);
        return mlContext.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>(prompt, seed) rows.</summary>
    public static IDataView Prompts(MLContext mlContext, IEnumerable<(string Prompt, long Seed)> rows) =>
        mlContext.Data.LoadFromEnumerable(rows.Select(r => new PromptRow { Prompt = r.Prompt, Seed = r.Seed }).ToList());

    public sealed class CaptionedRow
    {
        public float[] Image { get; set; } = [];
        public string Caption { get; set; } = "";
        public string[] Captions { get; set; } = [];
    }

    public sealed class PromptRow
    {
        public string Prompt { get; set; } = "";
        public long Seed { get; set; }
    }
}
