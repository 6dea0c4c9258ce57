// Loads CLIP text-tower weights published in Hugging Face transformers' layout: a CLIPTextModel file, or a whole CLIPModel
// file such as openai/clip-vit-large-patch14's model.safetensors / pytorch_model.bin (text and vision towers together).
using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp.PyBridge;
using UViT.MLNet.Core.Checkpoints;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Text;

/// <summary>
/// Strict loading of a <see cref="ClipTextModel"/> from a CLIP checkpoint. Every <c>text_model.*</c> key must match; the
/// other tower and the contrastive heads of a full CLIPModel (<c>vision_model.*</c>, <c>visual_projection.*</c>,
/// <c>text_projection.*</c>, <c>logit_scale</c>) are skipped, as is the <c>text_model.embeddings.position_ids</c> buffer older
/// files carry; anything else fails with a <see cref="CheckpointMismatchException"/> that names the keys.
/// </summary>
public static class ClipTextCheckpoint
{
    /// <summary>The position-ids buffer (0..76) some Hugging Face files store; positions are implicit here.</summary>
    public const string PositionIdsKey = "text_model.embeddings.position_ids";

    private static readonly string[] OtherTowerPrefixes = ["vision_model.", "visual_projection.", "text_projection."];
    private static readonly string[] OtherTowerKeys = ["logit_scale"];

    /// <summary>True for keys of a full CLIPModel that the text encoder does not use (and <see cref="PositionIdsKey"/>).</summary>
    public static bool IsIgnored(string key) =>
        key == PositionIdsKey || OtherTowerKeys.Contains(key) || OtherTowerPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Copies the text-tower entries of <paramref name="state"/> into <paramref name="model"/>, strictly.</summary>
    /// <param name="source">How to name the checkpoint in errors.</param>
    /// <returns>The keys that were skipped as belonging to the vision tower, the contrastive heads, or position ids.</returns>
    /// <exception cref="CheckpointMismatchException">Missing, unexpected or mis-shaped text keys (all named).</exception>
    public static IReadOnlyList<string> Load(ClipTextModel model, IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        var kept = state.Where(kv => !IsIgnored(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        StateDictLoader.Load(model, kept, strict: true, source);
        return state.Keys.Where(IsIgnored).ToList();
    }

    /// <summary>
    /// Reads a safetensors or torch.save file and loads it with <see cref="Load(ClipTextModel, IReadOnlyDictionary{string, Tensor}, string)"/>.
    /// From safetensors only the needed tensors are read (a full ViT-L/14 CLIPModel file is 1.7 GB, a third of it text).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable state dict.</exception>
    /// <exception cref="CheckpointMismatchException">The text keys do not fit the model.</exception>
    public static IReadOnlyList<string> LoadFile(ClipTextModel model, string path)
    {
        TorchRuntime.EnsureLoaded();
        Dictionary<string, Tensor> state;
        IReadOnlyList<string> ignored;
        if (StateDictFile.Detect(path) == StateDictFormat.Safetensors)
        {
            using (var stream = File.OpenRead(path)) SafetensorsHeader.Validate(stream, path);   // offsets and sizes inside the file
            var keys = SafetensorsKeys(path);
            ignored = keys.Where(IsIgnored).ToList();
            try
            {
                state = Safetensors.LoadStateDict(path, keys.Where(k => !IsIgnored(k)).ToList());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidDataException($"'{path}' could not be read as a safetensors state dict (truncated or corrupt?): {e.Message}", e);
            }
        }
        else
        {
            state = StateDictFile.Read(path);
            ignored = state.Keys.Where(IsIgnored).ToList();
        }
        try
        {
            Load(model, state.Where(kv => !IsIgnored(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value), path);
            return ignored;
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }

    // The tensor names of a safetensors file, from its JSON header (u64 little-endian length, then the header).
    private static List<string> SafetensorsKeys(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > 100_000_000 || length + 8 > (ulong)stream.Length)
            throw new InvalidDataException($"'{path}' has an implausible safetensors header length {length}.");
        var header = new byte[length];
        stream.ReadExactly(header);
        using var json = JsonDocument.Parse(header);
        return json.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToList();
    }
}
