// EncodeText: prompts or captions to CLIP text contexts, the conditioning of text-to-image U-ViTs (reference.md section 6),
// computed lazily one encoder call per mini-batch. Persisted inside ML.NET model zips with the tokenizer files, the text
// tower's architecture and its weights, so a saved text-to-image pipeline needs no other file.
using Microsoft.ML;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Text;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Text;

/// <summary>
/// Adds a context column computed from a text column with a CLIP text encoder: Vector&lt;Single, T, D&gt; per prompt
/// (T = 77, D = 768 for openai/clip-vit-large-patch14), or Vector&lt;Single, K, T, D&gt; for K captions per row. The
/// column carries the empty prompt's context as the <see cref="TextContextAnnotation"/> annotation. Owns its encoder.
/// </summary>
public sealed class TextEncodingTransformer : BatchMappingTransformer<string[]>, IPersistentTransformer<TextEncodingTransformer>, IDisposable
{
    static TextEncodingTransformer() => UViTComponents.AddLoader<TextEncodingTransformer>();

    private readonly byte[] _vocab;
    private readonly byte[] _merges;

    /// <summary>Tokenizer and text transformer.</summary>
    public ClipTextEncoder Encoder { get; }
    /// <summary>Columns, batching and device.</summary>
    public TextEncodingOptions Options { get; }
    /// <summary>The context of the empty prompt "", [T, D]: the unconditional input of guidance (a copy each call).</summary>
    public float[,] EmptyContext => (float[,])_emptyContext.Clone();
    private readonly float[,] _emptyContext;

    private TextEncodingTransformer(ClipTextEncoder encoder, byte[] vocab, byte[] merges, TextEncodingOptions options)
    {
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"BatchSize must be at least 1; got {options.BatchSize}.");
        (Encoder, _vocab, _merges, Options) = (encoder, vocab, merges, options);
        using var empty = encoder.UnconditionalContext();                                         // [1, T, D]
        var values = empty.to(ScalarType.Float32).cpu().data<float>().ToArray();
        _emptyContext = new float[encoder.ContextLength, encoder.ContextDim];
        Buffer.BlockCopy(values, 0, _emptyContext, 0, values.Length * sizeof(float));
    }

    /// <summary>Loads a CLIP text encoder from its files and wraps it.</summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not fit the architecture (keys named).</exception>
    public static TextEncodingTransformer FromFiles(ClipTextFiles files, TextEncodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(files);
        TorchRuntime.EnsureLoaded();
        var encoder = ClipTextEncoder.Load(files, TorchRuntime.ParseDevice(options.Device));
        try
        {
            return new TextEncodingTransformer(encoder, File.ReadAllBytes(files.VocabPath), File.ReadAllBytes(files.MergesPath), options);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>Tokens per context (T).</summary>
    public int ContextLength => Encoder.ContextLength;
    /// <summary>Width of a context token (D).</summary>
    public int ContextDim => Encoder.ContextDim;

    /// <inheritdoc/>
    protected override BatchRowMapper<string[]> CreateMapper(DataViewSchema inputSchema) => new TextEncodingMapper(this, inputSchema);

    // ------------------------------------------------------------------------------------------------ persistence

    /// <summary>Entry format inside the model zip. Version 1: config and settings in the main stream; tokenizer files and
    /// weights as side streams. Version 2 stores no device (the loading MLContext chooses it); version 1's is read and ignored.</summary>
    public static ModelFormat Format { get; } = new("UVITTENC", 0x00010002, 0x00010002, 0x00010001, "UViTTextEncode", typeof(TextEncodingTransformer).Assembly);

    private const string VocabStream = "vocab.json";
    private const string MergesStream = "merges.txt";
    private const string WeightsStream = "TextEncoderWeights.safetensors";

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        var writer = new ModelSaveWriter(ctx, Format);
        var w = writer.Writer;
        var c = Encoder.Model.Config;
        w.Write(c.VocabSize);
        w.Write(c.HiddenSize);
        w.Write(c.NumHiddenLayers);
        w.Write(c.NumAttentionHeads);
        w.Write(c.IntermediateSize);
        w.Write(c.MaxPositionEmbeddings);
        w.Write((int)c.Activation);
        w.Write(c.LayerNormEps);
        w.Write(Encoder.ContextLength);
        w.Write(Options.InputColumnName);
        w.Write(Options.OutputColumnName);
        w.Write(Options.BatchSize);
        writer.SaveStream(VocabStream, s => WriteBytes(s, _vocab));
        writer.SaveStream(MergesStream, s => WriteBytes(s, _merges));
        writer.SaveStream(WeightsStream, s => WeightStream.Write(s, Encoder.Model.state_dict()));
    }

    /// <inheritdoc/>
    public static TextEncodingTransformer Load(IHostEnvironment environment, ModelLoadReader reader)
    {
        var r = reader.Reader;
        try
        {
            var config = new ClipTextConfig(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(),
                                            (ClipActivation)r.ReadInt32(), r.ReadDouble()).Validate();
            int contextLength = r.ReadInt32();
            var options = new TextEncodingOptions
            {
                InputColumnName = r.ReadString(), OutputColumnName = r.ReadString(), BatchSize = r.ReadInt32(),
            };
            if (reader.VersionWritten < 0x00010002) r.ReadString();   // version 1's device, ignored: a zip saved on CUDA loads anywhere
            options = options with { Device = ContextSettings.Device(environment) };
            byte[] vocab = [], merges = [];
            reader.LoadStream(VocabStream, s => vocab = ReadBytes(s, VocabStream));
            reader.LoadStream(MergesStream, s => merges = ReadBytes(s, MergesStream));
            var tokenizer = ClipTokenizer.FromStreams(new MemoryStream(vocab), new MemoryStream(merges), contextLength);
            Dictionary<string, Tensor>? state = null;
            try
            {
                reader.LoadStream(WeightsStream, s => state = WeightStream.Read(s, WeightsStream));
                // The config is checked against the weights on the meta device (no memory) before the real model is built.
                using (var shapes = new ClipTextModel(config, new Device(TorchSharp.DeviceType.META))) StateDictLoader.Check(shapes, state!, strict: true, source: WeightsStream);
                var model = new ClipTextModel(config, TorchRuntime.ParseDevice(options.Device));
                try
                {
                    StateDictLoader.Load(model, state!, strict: true, source: WeightsStream);
                    return new TextEncodingTransformer(new ClipTextEncoder(tokenizer, model), vocab, merges, options);
                }
                catch
                {
                    model.Dispose();
                    throw;
                }
            }
            finally
            {
                foreach (var t in state?.Values ?? Enumerable.Empty<Tensor>()) t.Dispose();
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The model zip's text-encoding entry is truncated.", e);
        }
    }

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.LongLength);
        writer.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader reader, string name)
    {
        long length = reader.ReadInt64();
        if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position)
            throw new InvalidDataException($"The model zip's '{name}' stream claims {length} bytes but holds {reader.BaseStream.Length - reader.BaseStream.Position}.");
        return reader.ReadBytes((int)length);
    }

    /// <summary>Releases the encoder.</summary>
    public void Dispose() => Encoder.Dispose();
}
