// Shared pieces of the text-to-image pipeline tests: the fixture CLIP encoder (width 64, random weights), seeded random
// images with one or several captions per row, and prompt rows for generation.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Tests.Text;
using UViT.MLNet.Transforms.Text;

namespace UViT.MLNet.Tests.TextToImage;

internal static class TextPipelineFixture
{
    public static ClipTextFiles Clip => ClipFixtures.SmallFiles;

    /// <summary>Width D of the fixture encoder's contexts.</summary>
    public static int Width => Clip.Config.HiddenSize;

    public static readonly string[] Colours = ["red", "green", "blue", "yellow"];

    /// <summary>A tiny text-conditioned latent network: 4x8x8 latents, [77, D] contexts.</summary>
    public static UViTConfig TinyTextNetwork => new() { ImageSize = 8, PatchSize = 4, InChannels = 4, EmbedDim = 32, Depth = 2, NumHeads = 2, ClipDim = Width, NumClipTokens = 77 };

    /// <summary>EncodeText for a column of the given name.</summary>
    public static TextEncodingEstimator EncodeText(MLContext mlContext, string input, int batchSize = 4) =>
        mlContext.Transforms.EncodeText(Clip, new TextEncodingOptions { InputColumnName = input, OutputColumnName = "Context", BatchSize = batchSize });

    /// <summary><paramref name="count"/> random 3x16x16 images (0..255) with two captions each ("Captions") and the first alone ("Caption").</summary>
    public static IDataView CaptionedImages(MLContext mlContext, int count)
    {
        var random = new Random(11);
        var rows = Enumerable.Range(0, count).Select(i => new CaptionedRow
        {
            Image = Enumerable.Range(0, 3 * 16 * 16).Select(_ => (float)random.Next(256)).ToArray(),
            Caption = $"a {Colours[i % Colours.Length]} square",
            Captions = [$"a {Colours[i % Colours.Length]} square", $"a square that is {Colours[i % Colours.Length]}"],
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(CaptionedRow));
        schema[nameof(CaptionedRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 16, 16);
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
