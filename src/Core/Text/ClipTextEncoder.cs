// Prompts to U-ViT text contexts: CLIP tokenizer + CLIP text transformer, as the official MS-COCO U-ViT pipeline uses them
// (baofff/U-ViT libs/clip.py FrozenCLIPEmbedder: Hugging Face CLIPTokenizer + CLIPTextModel of openai/clip-vit-large-patch14,
// padding="max_length", output last_hidden_state). The empty prompt's context is the unconditional branch of guidance.
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Text;

/// <summary>Encodes prompts into <c>[B, 77, D]</c> CLIP text contexts (D = 768 for ViT-L/14). Owns and disposes its model.</summary>
public sealed class ClipTextEncoder : IDisposable
{
    /// <summary>The prompt whose context stands for "no text" in classifier-free guidance.</summary>
    public const string UnconditionalPrompt = "";

    private Tensor? _unconditional;

    /// <summary>The tokenizer (prompts to 77 ids).</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>The text transformer.</summary>
    public ClipTextModel Model { get; }

    /// <summary>Width D of the contexts.</summary>
    public int ContextDim => Model.Config.HiddenSize;

    /// <summary>Tokens per context (77).</summary>
    public int ContextLength => Tokenizer.ContextLength;

    /// <summary>Pairs a tokenizer and a model; the encoder takes ownership of the model.</summary>
    /// <exception cref="ArgumentException">The tokenizer's context is longer than the model's position table.</exception>
    public ClipTextEncoder(ClipTokenizer tokenizer, ClipTextModel model)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        if (tokenizer.ContextLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"The tokenizer makes {tokenizer.ContextLength} tokens but the model has {model.Config.MaxPositionEmbeddings} positions.");
        Model.eval();
    }

    /// <summary>Builds an encoder from its files: tokenizer files, architecture, weights (safetensors or torch.save).</summary>
    public static ClipTextEncoder Load(ClipTextFiles files, Device? device = null, ScalarType? dtype = null)
    {
        var config = files.Config;
        var tokenizer = ClipTokenizer.FromFiles(files.VocabPath, files.MergesPath, Math.Min(ClipTokenizer.DefaultContextLength, config.MaxPositionEmbeddings));
        var model = new ClipTextModel(config, device, dtype);
        try
        {
            ClipTextCheckpoint.LoadFile(model, files.WeightsPath);
            return new ClipTextEncoder(tokenizer, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Builds an encoder from a Hugging Face model folder (see <see cref="ClipTextFiles.FromFolder"/>).</summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists what the folder must hold.</exception>
    public static ClipTextEncoder LoadFolder(string folder, Device? device = null, ScalarType? dtype = null) => Load(ClipTextFiles.FromFolder(folder), device, dtype);

    /// <summary>Encodes prompts in one forward pass.</summary>
    /// <returns>[B, ContextLength, D] contexts on the model's device, in its dtype.</returns>
    public Tensor Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("No prompts to encode.", nameof(prompts));
        TorchRuntime.EnsureLoaded();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(Tokenizer.EncodeBatch(prompts), [prompts.Count, ContextLength], ScalarType.Int64); // [B, 77]
        return Model.forward(ids).MoveToOuterDisposeScope();                                             // [B, 77, D]
    }

    /// <summary>Encodes one prompt.</summary>
    /// <returns>[1, ContextLength, D]</returns>
    public Tensor Encode(string prompt) => Encode([prompt]);

    /// <summary>
    /// The context of the empty prompt, <c>[1, ContextLength, D]</c>: the unconditional input of classifier-free guidance.
    /// Computed once; returns a new tensor each call (the caller disposes it), so the cached copy cannot be disposed by accident.
    /// </summary>
    public Tensor UnconditionalContext()
    {
        _unconditional ??= Encode(UnconditionalPrompt).DetachFromDisposeScope();
        return _unconditional.clone();
    }

    /// <summary>Disposes the model and the cached unconditional context.</summary>
    public void Dispose()
    {
        _unconditional?.Dispose();
        _unconditional = null;
        Model.Dispose();
    }
}
