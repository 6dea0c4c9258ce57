// The transformer a U-ViT trainer's Fit returns: rows of (label, seed) in, generated images out, computed lazily one
// sampler run per mini-batch. Persisted inside ML.NET model zips with both weight sets and every sampling setting.
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Transforms.Mapping;
using UViT.MLNet.Transforms.Persistence;
using static TorchSharp.torch;

namespace UViT.MLNet.Transforms.Generation;

/// <summary>
/// Generates images with a trained U-ViT. Input: a label column (key or integer class index) for class models, a
/// Vector&lt;Single, T, D&gt; context column (e.g. from EncodeText; of K captions per row the first is used) for text models, and an optional integer seed column
/// (default: <see cref="BaseSeed"/> + row position). Output: a
/// Vector&lt;Single, C, H, W&gt; column in <see cref="OutputRange"/> and, for 1- or 3-channel models, an MLImage column.
/// Each image depends only on its seed and condition, never on the batch it was generated in.
/// </summary>
public sealed class UViTGenerationTransformer : BatchMappingTransformer<GenerationRequest>, IPersistentTransformer<UViTGenerationTransformer>, IDisposable
{
    static UViTGenerationTransformer() => UViTComponents.AddLoader<UViTGenerationTransformer>();

    /// <summary>The network(s) and schedule.</summary>
    public UViTGenerator Generator { get; }
    /// <summary>Sampler, steps, guidance and weights (validated); <see cref="WithSampling"/> returns a transformer with others.</summary>
    public SamplerSettings Settings { get; }
    /// <summary>The label column read by class models.</summary>
    public string LabelColumnName { get; }
    /// <summary>The text-context column read by text models.</summary>
    public string ContextColumnName { get; }
    /// <summary>The optional per-row seed column.</summary>
    public string SeedColumnName { get; }
    /// <summary>The generated vector column ("GeneratedPixels" by default).</summary>
    public string OutputColumnName { get; }
    /// <summary>The generated MLImage column ("GeneratedImage" by default).</summary>
    public string ImageColumnName { get; }
    /// <summary>Range of the output vector (the trainer's input range, so a round trip keeps units).</summary>
    public PixelRange OutputRange { get; }
    /// <summary>Rows per sampler run (at least 1); <see cref="WithBatchSize"/> returns a transformer with another.</summary>
    public int BatchSize { get; }
    /// <summary>Seed of row 0 when the input has no seed column.</summary>
    public long BaseSeed { get; }
    /// <summary>Display names of the classes (the training label's key values), index = class.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>False for the copies <see cref="WithSampling"/> and <see cref="WithBatchSize"/> return: they share the original's networks.</summary>
    private readonly bool _ownsGenerator;

    /// <summary>True when the model's images have 1 or 3 channels, so an MLImage column is produced.</summary>
    public bool HasImageOutput => Generator.Config.InChannels is 1 or 3;

    /// <summary>Takes ownership of <paramref name="generator"/>.</summary>
    public UViTGenerationTransformer(UViTGenerator generator, SamplerSettings settings, PixelRange outputRange, IReadOnlyList<string>? classNames = null,
                                     string labelColumnName = UViTColumns.Label, string seedColumnName = UViTColumns.Seed,
                                     string outputColumnName = UViTColumns.GeneratedPixels, string imageColumnName = UViTColumns.GeneratedImage,
                                     int batchSize = 16, long baseSeed = 0, string contextColumnName = UViTColumns.Context)
    {
        Generator = generator;
        _ownsGenerator = true;
        Settings = (settings ?? throw new ArgumentNullException(nameof(settings))).Validate(generator.Schedule);
        BatchSize = batchSize >= 1 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize), $"Generation batch size must be at least 1; got {batchSize}.");
        OutputRange = outputRange;
        ClassNames = classNames?.ToArray() ?? Enumerable.Range(0, generator.ClassCount).Select(i => i.ToString()).ToArray();
        if (ClassNames.Count != generator.ClassCount)
            throw new ArgumentException($"{ClassNames.Count} class names given for {generator.ClassCount} classes.", nameof(classNames));
        (LabelColumnName, SeedColumnName, OutputColumnName, ImageColumnName, BaseSeed, ContextColumnName) =
            (labelColumnName, seedColumnName, outputColumnName, imageColumnName, baseSeed, contextColumnName);
    }

    /// <summary>A copy of <paramref name="source"/> with other sampling settings and batch size, sharing its networks.</summary>
    private UViTGenerationTransformer(UViTGenerationTransformer source, SamplerSettings settings, int batchSize)
        : this(source.Generator, settings, source.OutputRange, source.ClassNames, source.LabelColumnName, source.SeedColumnName,
               source.OutputColumnName, source.ImageColumnName, batchSize, source.BaseSeed, source.ContextColumnName) =>
        _ownsGenerator = false;

    /// <summary>
    /// This transformer with other sampling settings (validated): transformers are immutable, like ML.NET's. The copy shares
    /// this one's networks, so it is usable while this one is undisposed; disposing the copy releases nothing.
    /// </summary>
    public UViTGenerationTransformer WithSampling(SamplerSettings settings) => new(this, settings, BatchSize);

    /// <summary>This transformer with another number of rows per sampler run (at least 1); shares the networks as <see cref="WithSampling"/> does.</summary>
    public UViTGenerationTransformer WithBatchSize(int batchSize) => new(this, Settings, batchSize);

    /// <summary>
    /// Generates the images <paramref name="requests"/> asks for, reporting each sampler step to <paramref name="progress"/> and
    /// stopping when <paramref name="cancellationToken"/> is cancelled. Like <see cref="BatchMappingTransformer{TInput}.Transform"/>
    /// the view is computed when read; the progress and token belong to this view alone, never to the transformer.
    /// </summary>
    public IDataView Generate(IDataView requests, IProgress<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return new MappedDataView<GenerationRequest>(requests, new GenerationMapper(this, requests.Schema, progress, cancellationToken));
    }

    /// <inheritdoc/>
    protected override BatchRowMapper<GenerationRequest> CreateMapper(DataViewSchema inputSchema) => new GenerationMapper(this, inputSchema, null, CancellationToken.None);

    // ------------------------------------------------------------------------------------------------ persistence

    /// <summary>Entry format inside the model zip. Version 1: settings in the main stream, weights as safetensors side streams.
    /// Version 2 adds the context column, the empty prompt's context (text models) and the attention kernel.</summary>
    public static ModelFormat Format { get; } = new("UVITGENR", 0x00010002, 0x00010002, 0x00010002, "UViTGeneration", typeof(UViTGenerationTransformer).Assembly);

    private const string RawWeightsStream = "RawWeights.safetensors";
    private const string EmaWeightsStream = "EmaWeights.safetensors";

    /// <inheritdoc/>
    public override void Save(ModelSaveContext ctx)
    {
        var writer = new ModelSaveWriter(ctx, Format);
        var w = writer.Writer;
        w.Write(JsonSerializer.Serialize(Generator.Config.ToOfficialArguments()));
        w.Write((int)Generator.Schedule);
        w.Write(Generator.NullClass ?? -1);
        w.Write((int)Settings.Sampler);
        w.Write(Settings.Steps);
        w.Write(Settings.GuidanceScale);
        w.Write(Settings.UseEmaWeights);
        w.Write(Settings.DdimEta);
        w.Write((int)OutputRange);
        w.Write(BatchSize);
        w.Write(BaseSeed);
        foreach (string name in new[] { LabelColumnName, SeedColumnName, OutputColumnName, ImageColumnName, ContextColumnName }) w.Write(name);
        w.Write(ClassNames.Count);
        foreach (string name in ClassNames) w.Write(name);
        var empty = Generator.EmptyContext?.data<float>().ToArray() ?? [];
        w.Write(empty.Length);
        foreach (float v in empty) w.Write(v);
        w.Write(Generator.Network.UseFusedAttention);   // kept, so a reloaded model computes exactly what was saved
        writer.SaveStream(RawWeightsStream, s => WriteWeights(s, Generator.Network));
        writer.SaveStream(EmaWeightsStream, s => WriteWeights(s, Generator.EmaNetwork));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Everything read from the file is checked before a network is built: the enums must be known values, and the config must
    /// match the shapes of the stored weights (checked on a network of the meta device, which allocates nothing), so a small
    /// crafted file cannot make this build gigabytes of networks before its weights are refused.
    /// </remarks>
    public static UViTGenerationTransformer Load(IHostEnvironment environment, ModelLoadReader reader)
    {
        var r = reader.Reader;
        Dictionary<string, Tensor>? raw = null, emaState = null;
        try
        {
            var config = UViTConfig.FromOfficialArguments(JsonDocument.Parse(r.ReadString()).RootElement);
            var schedule = Known((NoiseScheduleKind)r.ReadInt32());
            long nullClass = r.ReadInt64();
            var settings = new SamplerSettings
            {
                Sampler = Known((SamplerKind)r.ReadInt32()), Steps = r.ReadInt32(), GuidanceScale = r.ReadDouble(), UseEmaWeights = r.ReadBoolean(), DdimEta = r.ReadDouble(),
            };
            var range = Known((PixelRange)r.ReadInt32());
            int batchSize = r.ReadInt32();
            long baseSeed = r.ReadInt64();
            string label = r.ReadString(), seed = r.ReadString(), output = r.ReadString(), image = r.ReadString(), context = r.ReadString();
            var names = Enumerable.Range(0, Count(r, "class names")).Select(_ => r.ReadString()).ToList();
            var empty = Enumerable.Range(0, Count(r, "empty-context values")).Select(_ => r.ReadSingle()).ToArray();
            bool fused = r.ReadBoolean();
            settings.Validate(schedule);
            if (batchSize < 1) throw new InvalidDataException($"The model zip's U-ViT generation entry has batch size {batchSize}.");
            reader.LoadStream(RawWeightsStream, s => raw = WeightStream.Read(s, RawWeightsStream));
            reader.LoadStream(EmaWeightsStream, s => emaState = WeightStream.Read(s, EmaWeightsStream));
            CheckShapes(config, (raw!, RawWeightsStream), (emaState!, EmaWeightsStream));
            var device = TorchRuntime.ParseDevice(ContextSettings.Device(environment));   // never stored: the loading MLContext chooses
            var network = new UViTNetwork(config, device) { UseFusedAttention = fused };
            var ema = new UViTNetwork(config, device) { UseFusedAttention = fused };
            StateDictLoader.Load(network, raw!, strict: true, RawWeightsStream);
            StateDictLoader.Load(ema, emaState!, strict: true, EmaWeightsStream);
            using var emptyContext = empty.Length == 0 ? null : tensor(empty, [config.NumClipTokens ?? 0, config.ClipDim ?? 0]);
            var generator = new UViTGenerator(network, ema, schedule, nullClass < 0 ? null : nullClass, emptyContext);
            return new UViTGenerationTransformer(generator, settings, range, names, label, seed, output, image, batchSize, baseSeed, context);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The model zip's U-ViT generation entry is truncated.", e);
        }
        catch (Exception e) when (e is ArgumentException or JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"The model zip's U-ViT generation entry is corrupt: {e.Message}", e);
        }
        finally
        {
            foreach (var t in (raw?.Values ?? Enumerable.Empty<Tensor>()).Concat(emaState?.Values ?? Enumerable.Empty<Tensor>())) t.Dispose();
        }
    }

    /// <summary>An enum value read from the file, refused unless it is one the enum defines.</summary>
    private static T Known<T>(T value) where T : struct, Enum =>
        Enum.IsDefined(value) ? value : throw new InvalidDataException($"The model zip's U-ViT generation entry holds {typeof(T).Name} {Convert.ToInt64(value)}, which is not a known value.");

    /// <summary>A count read from the file, refused when negative or larger than the bytes left could hold (at least one per item).</summary>
    private static int Count(BinaryReader r, string what)
    {
        int count = r.ReadInt32();
        long left = r.BaseStream.CanSeek ? r.BaseStream.Length - r.BaseStream.Position : int.MaxValue;
        if (count < 0 || count > left)
            throw new InvalidDataException($"The model zip's U-ViT generation entry claims {count} {what}; {left} bytes remain.");
        return count;
    }

    /// <summary>Refuses weights whose keys or shapes do not fit <paramref name="config"/>, using one network on the meta device
    /// (no memory; one build for all the weight sets, as every network built costs a little native memory in TorchSharp 0.107).</summary>
    private static void CheckShapes(UViTConfig config, params (IReadOnlyDictionary<string, Tensor> State, string Name)[] weightSets)
    {
        using var shapes = new UViTNetwork(config, device: new Device(TorchSharp.DeviceType.META));
        foreach (var (state, name) in weightSets)
        {
            try
            {
                StateDictLoader.Check(shapes, state, strict: true, name);
            }
            catch (CheckpointMismatchException e)
            {
                throw new InvalidDataException($"The model zip's network configuration does not match its '{name}' weights: {e.Message}", e);
            }
        }
    }

    private static void WriteWeights(BinaryWriter writer, UViTNetwork network) => WeightStream.Write(writer, network.state_dict());

    /// <summary>Releases the networks (unless this is a copy from <see cref="WithSampling"/> or <see cref="WithBatchSize"/>, which shares them).</summary>
    public void Dispose()
    {
        if (_ownsGenerator) Generator.Dispose();
    }
}
