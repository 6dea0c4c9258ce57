// A text-to-image U-ViT as ML.NET pipelines on tiny configs: captioned images -> EncodeLatents -> EncodeText (two captions
// per image) -> U-ViT trainer with context dropout; then prompts -> EncodeText -> generation (guided by the empty prompt)
// -> DecodeLatents, saved as one model zip and loaded in a fresh MLContext with bit-identical images.
using Microsoft.ML;
using Microsoft.ML.Data;
using UViT.MLNet.Core.Diffusion;
using UViT.MLNet.Core.Generation;
using UViT.MLNet.Core.Networks;
using UViT.MLNet.Core.Training;
using UViT.MLNet.Estimators;
using UViT.MLNet.Tests.Latents;
using UViT.MLNet.Tests.Pipeline;
using UViT.MLNet.Tests.Support;
using UViT.MLNet.Transforms.Generation;
using UViT.MLNet.Transforms.Latents;
using UViT.MLNet.Transforms.Persistence;
using UViT.MLNet.Transforms.Text;
using static TorchSharp.torch;

namespace UViT.MLNet.Tests.TextToImage;

[TestClass]
public sealed class TextToImagePipelineTests
{
    public TestContext TestContext { get; set; } = null!;

    private static UViTTrainerOptions TinyOptions => new()
    {
        ImageColumnName = "Latent", InputRange = PixelRange.Symmetric, Network = TextPipelineFixture.TinyTextNetwork, MaxSteps = 3, BatchSize = 4, Seed = 7,
        Sampling = new SamplerSettings { Steps = 2, GuidanceScale = 1.0 }, GenerationBatchSize = 3,
    };

    [TestMethod]
    public void TrainsOnCaptionsThenGeneratesFromPromptsThroughOneZip()
    {
        var mlContext = new MLContext(seed: 1);
        var data = TextPipelineFixture.CaptionedImages(mlContext, 8);
        var training = mlContext.Transforms.EncodeLatents(LatentFixture.CheckpointPath, inputRange: PixelRange.Bytes, autoencoder: LatentFixture.Config, batchSize: 4)
            .Append(TextPipelineFixture.EncodeText(mlContext, "Captions"))
            .Append(mlContext.Diffusion().Trainers.UViT(TinyOptions));
        using var trained = training.Fit(data);
        var generator = trained.LastTransformer;
        Assert.AreEqual(UViTConditioning.TextContext, generator.Generator.Config.Conditioning);
        Assert.IsNotNull(generator.Generator.EmptyContext, "context dropout was on, so the generator keeps the empty prompt's context");

        // Prompts -> contexts -> latents -> images, as one pipeline and one zip.
        var prompts = TextPipelineFixture.Prompts(mlContext, [("a red square", 1), ("a blue square", 1), ("a red square", 2), ("a red square", 1)]);
        using var encodePrompts = TextPipelineFixture.EncodeText(mlContext, "Prompt").Fit(prompts);
        var contexts = encodePrompts.Transform(prompts);
        using var decode = mlContext.Transforms.DecodeLatents(LatentFixture.CheckpointPath, autoencoder: LatentFixture.Config, batchSize: 3).Fit(generator.Transform(contexts));
        var pipeline = new TransformerChain<ITransformer>(encodePrompts, generator, decode);
        var output = pipeline.Transform(prompts);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, LatentFixture.Config.OutChannels, LatentFixture.Size, LatentFixture.Size), output.Schema["DecodedPixels"].Type);
        var before = PipelineFixture.Pixels(output, "DecodedPixels");
        // Same prompt and seed in another batch: the same image up to float rounding (libtorch picks kernels by batch size).
        Assert.IsLessThan(1e-2, MaxDiff(before[0], before[3]), "same prompt and seed, different batch");
        Assert.IsGreaterThan(0.5, MaxDiff(before[0], before[1]), "the prompt changes the image");
        Assert.IsGreaterThan(0.5, MaxDiff(before[0], before[2]), "the seed changes the image");

        string zip = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_text_to_image.zip");
        // What generation reads: the chain takes prompt text and seeds; the generator alone takes the context vectors.
        var requestSchema = pipeline.GenerationRequestSchema();
        CollectionAssert.AreEqual(new[] { "Prompt", "Seed" }, requestSchema.Select(c => c.Name).ToArray());
        Assert.AreEqual(TextDataViewType.Instance, requestSchema["Prompt"].Type);
        var net = generator.Generator.Config;
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, net.NumClipTokens!.Value, net.ClipDim!.Value), generator.GenerationRequestSchema()[generator.ContextColumnName].Type);
        mlContext.Model.Save(pipeline, requestSchema, zip);
        var fresh = new MLContext(seed: 42).RegisterUViT();
        var loaded = fresh.Model.Load(zip, out var inputSchema);
        CollectionAssert.AreEqual(new[] { "Prompt", "Seed" }, inputSchema.Select(c => c.Name).ToArray());
        var after = PipelineFixture.Pixels(loaded.Transform(TextPipelineFixture.Prompts(fresh, [("a red square", 1), ("a blue square", 1), ("a red square", 2), ("a red square", 1)])), "DecodedPixels");
        for (int i = 0; i < before.Count; i++) CollectionAssert.AreEqual(before[i], after[i], $"row {i}: image differs after loading the zip");
        (loaded as IDisposable)?.Dispose();
    }

    private static double MaxDiff(float[] a, float[] b) => a.Select((v, i) => (double)Math.Abs(v - b[i])).Max();

    [TestMethod]
    public void GuidanceUsesTheEmptyPromptBranch()
    {
        var mlContext = new MLContext(seed: 1);
        var data = TextPipelineFixture.CaptionedImages(mlContext, 4);
        var options = TinyOptions;
        options.ImageColumnName = "Image";
        options.InputRange = PixelRange.Bytes;
        options.Network = TextPipelineFixture.TinyTextPixelNetwork;
        using var trained = TextPipelineFixture.EncodeText(mlContext, "Caption").Append(mlContext.Diffusion().Trainers.UViT(options)).Fit(data);
        var generator = trained.LastTransformer;
        var prompts = TextPipelineFixture.Prompts(mlContext, [("a green square", 3)]);
        using var encode = TextPipelineFixture.EncodeText(mlContext, "Prompt").Fit(prompts);
        var contexts = encode.Transform(prompts);
        using var scope = NewDisposeScope();
        var (tokens, width) = (TextPipelineFixture.Tokens, TextPipelineFixture.Width);
        var emptyPrompt = tensor(encode.EmptyContext.Cast<float>().ToArray(), [1, tokens, width]);                   // [1, T, D]
        Assert.IsTrue(Fixtures.Identical(emptyPrompt[0], generator.Generator.EmptyContext!), "the generator keeps the encoder's empty-prompt context");

        Assert.AreEqual(SamplerKind.DpmSolverPlusPlus, generator.Settings.Sampler, "the by-hand sampling below uses DPM-Solver++");
        var plain = PipelineFixture.Pixels(generator.WithSampling(generator.Settings with { GuidanceScale = 0 }).Transform(contexts))[0];
        var guidedSettings = generator.Settings with { GuidanceScale = 3 };
        var guided = PipelineFixture.Pixels(generator.WithSampling(guidedSettings).Transform(contexts))[0];

        // The same sample by hand: eps_c + 3 (eps_c - eps_u) from seed 3's noise, u = the empty prompt (and zeros as a control).
        var context = tensor(PipelineFixture.Pixels(contexts, "Context")[0], [1, tokens, width]);                  // [1, T, D]
        float[] ByHand(Tensor unconditional)
        {
            var config = generator.Generator.Config;
            using var noise = new RowSeededNoise([3]);
            var initial = noise.InitialNoise([config.InChannels, config.ImageSize, config.ImageSize]);               // [1, C, H, W]
            var model = ClassifierFreeGuidance.ForTextContext(generator.Generator.EmaNetwork, context, unconditional, guidedSettings.Guidance);
            NoiseSchedule schedule = generator.Generator.Schedule == NoiseScheduleKind.ContinuousVP ? new ContinuousVPSchedule() : new DiscreteSDSchedule();
            var sample = new DpmSolverPlusPlusSampler(schedule, guidedSettings.Steps).Sample(model, initial, noise);  // [1, C, H, W]
            (schedule as IDisposable)?.Dispose();
            return sample.flatten().data<float>().Select(v => PixelRanges.FromModel(v, PixelRange.Bytes)).ToArray();
        }
        double againstEmpty = MaxDiff(guided, ByHand(emptyPrompt)), againstZeros = MaxDiff(guided, ByHand(zeros_like(emptyPrompt)));
        Console.WriteLine($"guided vs by hand: {againstEmpty:E3} (empty prompt), {againstZeros:E3} (zeros); vs unguided: {MaxDiff(guided, plain):E3}");
        Assert.IsLessThan(1e-3, againstEmpty, "the guided sample is not eps_c + s (eps_c - eps_u) with u = the empty prompt");
        Assert.IsGreaterThan(0.5, againstZeros, "the control: another unconditional context must give another sample");
        Assert.IsGreaterThan(0.5, MaxDiff(guided, plain), "guidance changes the sample");
    }

    [TestMethod]
    public void ContextsPreEncodedToDiskTrainTheSameModel()
    {
        // Encode the captions once, keep them in an ML.NET binary file, and train from that file later: the model is the one
        // the live pipeline trains (the file keeps float32 exactly; the empty context comes from the encoder).
        var mlContext = new MLContext(seed: 1);
        var data = TextPipelineFixture.CaptionedImages(mlContext, 6);
        var options = TinyOptions;
        options.ImageColumnName = "Image";
        options.InputRange = PixelRange.Bytes;
        options.Network = TextPipelineFixture.TinyTextPixelNetwork;
        options.Sampling = options.Sampling with { GuidanceScale = 0.5 };
        using var encode = TextPipelineFixture.EncodeText(mlContext, "Captions").Fit(data);
        using var live = mlContext.Diffusion().Trainers.UViT(options).Fit(encode.Transform(data));

        string file = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), Guid.NewGuid().ToString("N") + "_contexts.idv");
        using (var stream = File.Create(file)) mlContext.Data.SaveAsBinary(encode.Transform(data), stream);
        var cached = mlContext.Data.LoadFromBinary(file);
        options.EmptyContext = encode.EmptyContext;
        using var fromDisk = mlContext.Diffusion().Trainers.UViT(options).Fit(cached);

        var prompts = TextPipelineFixture.Prompts(mlContext, [("a yellow square", 5), ("a red square", 6)]);
        using var encodePrompts = TextPipelineFixture.EncodeText(mlContext, "Prompt").Fit(prompts);
        var contexts = encodePrompts.Transform(prompts);
        var a = PipelineFixture.Pixels(live.Transform(contexts));
        var b = PipelineFixture.Pixels(fromDisk.Transform(contexts));
        for (int i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i], b[i], $"row {i}");
    }

    [TestMethod]
    public void LabelAndContextTogetherAreRejected()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 4).Select(i => new LabelledCaptionRow { Image = new float[3 * 16 * 16], Label = (uint)(i % 2 + 1), Caption = "a red square" });
        var schema = SchemaDefinition.Create(typeof(LabelledCaptionRow));
        schema[nameof(LabelledCaptionRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 16, 16);
        schema[nameof(LabelledCaptionRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), 2);
        var withText = mlContext.Data.LoadFromEnumerable(rows, schema);
        var options = TinyOptions;
        options.ImageColumnName = "Image";
        options.InputRange = PixelRange.Bytes;
        var pipeline = TextPipelineFixture.EncodeText(mlContext, "Caption").Append(mlContext.Diffusion().Trainers.UViT(options));
        var error = Assert.ThrowsExactly<ArgumentException>(() => pipeline.Fit(withText));
        StringAssert.Contains(error.Message, "both a label column 'Label' and a context column 'Context'");
    }

    private sealed class LabelledCaptionRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
        public string Caption { get; set; } = "";
    }

    [TestMethod]
    public void ContextsWithoutTheEmptyPromptNeedItForDropout()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 4).Select(i => new PrecomputedRow
        {
            Image = Enumerable.Repeat((float)(i * 60), 3 * 16 * 16).ToArray(),
            Context = Enumerable.Range(0, 77 * 8).Select(k => (float)Math.Sin(i + k)).ToArray(),
        });
        var schema = SchemaDefinition.Create(typeof(PrecomputedRow));
        schema[nameof(PrecomputedRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 16, 16);
        schema[nameof(PrecomputedRow.Context)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 77, 8);
        var data = mlContext.Data.LoadFromEnumerable(rows, schema);
        var options = new UViTTrainerOptions
        {
            Network = TextPipelineFixture.TinyTextNetwork with { ImageSize = 16, InChannels = 3, ClipDim = 8, NumClipTokens = 77 }, MaxSteps = 2, BatchSize = 2,
            Sampling = new SamplerSettings { Steps = 2, GuidanceScale = 1 },
        };
        var error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data));
        StringAssert.Contains(error.Message, "needs the empty prompt's context");

        options.EmptyContext = new float[77, 8];
        using var model = mlContext.Diffusion().Trainers.UViT(options).Fit(data);
        Assert.IsNotNull(model.Generator.EmptyContext);
        options.Network = options.Network with { ClipDim = 16 };
        options.EmptyContext = null;
        options.Recipe = UViTTrainerOptions.ShortRunRecipe with { ConditionDropProbability = 0 };
        var mismatch = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Diffusion().Trainers.UViT(options).Fit(data));
        StringAssert.Contains(mismatch.Message, "takes [77, 16] contexts but column 'Context' holds [77, 8]");
    }

    private sealed class PrecomputedRow
    {
        public float[] Image { get; set; } = [];
        public float[] Context { get; set; } = [];
    }

    [TestMethod]
    public void MsCocoPresetTrainsOnLatentsWithClipContexts()
    {
        // U-ViT-S/2 for MS-COCO: 4x32x32 latents, [77, 768] contexts (here random stand-ins), 45M parameters; one step.
        var mlContext = new MLContext(seed: 1);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 2).Select(_ => new PrecomputedRow
        {
            Image = Enumerable.Range(0, 4 * 32 * 32).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(),
            Context = Enumerable.Range(0, 77 * 768).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(),
        });
        var schema = SchemaDefinition.Create(typeof(PrecomputedRow));
        schema[nameof(PrecomputedRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4, 32, 32);
        schema[nameof(PrecomputedRow.Context)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 77, 768);
        var data = mlContext.Data.LoadFromEnumerable(rows, schema);
        using var model = mlContext.Diffusion().Trainers.UViT(new UViTTrainerOptions
        {
            Preset = "U-ViT-S/2 MS-COCO", InputRange = PixelRange.Symmetric, EmptyContext = new float[77, 768], MaxSteps = 1, BatchSize = 2,
        }).Fit(data);
        var config = model.Generator.Config;
        Assert.AreEqual(UViTPresets.Get("mscoco_uvit_small").Config, config);
        Assert.AreEqual(768, config.ClipDim);
        Assert.AreEqual(77, config.NumClipTokens);
    }
}
