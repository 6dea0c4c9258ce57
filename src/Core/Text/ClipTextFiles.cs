// Where a CLIP text encoder's parts live on disk: the tokenizer's two files, the architecture, and the weights.
namespace UViT.MLNet.Core.Text;

/// <summary>The files of a CLIP text encoder: tokenizer, architecture, weights.</summary>
/// <param name="VocabPath">vocab.json.</param>
/// <param name="MergesPath">merges.txt.</param>
/// <param name="Config">The text tower's architecture.</param>
/// <param name="WeightsPath">Weights under Hugging Face CLIPTextModel / CLIPModel key names (safetensors or torch.save).</param>
public sealed record ClipTextFiles(string VocabPath, string MergesPath, ClipTextConfig Config, string WeightsPath)
{
    /// <summary>
    /// The files of a Hugging Face model folder laid out like openai/clip-vit-large-patch14: config.json (its text_config),
    /// vocab.json, merges.txt and model.safetensors (else pytorch_model.bin).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists what the folder must hold.</exception>
    public static ClipTextFiles FromFolder(string folder)
    {
        string Need(string name) => File.Exists(Path.Combine(folder, name)) ? Path.Combine(folder, name)
            : throw new FileNotFoundException($"'{folder}' has no {name}; a CLIP model folder holds config.json, vocab.json, merges.txt and model.safetensors (or pytorch_model.bin).", Path.Combine(folder, name));
        string weights = File.Exists(Path.Combine(folder, "model.safetensors")) ? Path.Combine(folder, "model.safetensors") : Need("pytorch_model.bin");
        return new ClipTextFiles(Need("vocab.json"), Need("merges.txt"), ClipTextConfig.FromFile(Need("config.json")), weights);
    }

    /// <summary>
    /// A stand-in CLIP text encoder that needs no download, for samples and tests: the given tokenizer files and a small
    /// tower with seeded random weights (frozen, as CLIP is in U-ViT training), written to <paramref name="folder"/>.
    /// Different prompts still give different contexts. The default tower is 64 wide, 2 layers, 4 heads, and reads 16 tokens
    /// instead of CLIP's 77 (short captions), which keeps a U-ViT's sequence short.
    /// </summary>
    public static ClipTextFiles WithRandomTower(string vocabPath, string mergesPath, string folder, ClipTextConfig? config = null, long seed = 20231)
    {
        config ??= new ClipTextConfig(VocabSize: 49408, HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 256, MaxPositionEmbeddings: 16);
        Directory.CreateDirectory(folder);
        string weights = Path.Combine(folder, "random-text-tower.safetensors");
        TorchSharp.torch.manual_seed(seed);
        using (var model = new ClipTextModel(config)) Checkpoints.StateDictFile.WriteSafetensors(weights, model.state_dict());
        return new ClipTextFiles(vocabPath, mergesPath, config, weights);
    }
}
