// Trains the digit judge from scratch on real MNIST digits: Adam with the learning rate decayed by 0.85 per epoch,
// cross-entropy, shuffled mini-batches, each digit shifted by a random -2..2 pixels in x and y (8,000 digits are few; shifts
// are the classic MNIST augmentation). All draws are seeded (initialisation and dropout from torch's global generator seeded
// once, batch order and shifts from seeded generators), so a rerun with the same seed and thread count gives the same weights.
using UViT.MLNet.Core.Runtime;
using UViT.MLNet.Core.Training;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Evaluation;

/// <summary>Settings of a digit-judge training run.</summary>
/// <param name="Seed">Seed of initialisation, dropout and batch order.</param>
/// <param name="Epochs">Passes over the training digits.</param>
/// <param name="BatchSize">Digits per optimiser step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
public sealed record DigitJudgeTrainingOptions(long Seed = 0, int Epochs = 12, int BatchSize = 64, double LearningRate = 1e-3);

/// <summary>Trains and measures <see cref="DigitJudge"/> networks.</summary>
public static class DigitJudgeTrainer
{
    private const int Pixels = DigitJudge.ImageSize * DigitJudge.ImageSize;
    /// <summary>Largest random shift, in pixels, of a training digit in each direction.</summary>
    private const int MaxShift = 2;
    /// <summary>Learning-rate factor per epoch.</summary>
    private const double Decay = 0.85;

    /// <summary>The recipe of <paramref name="options"/> in words, as recorded in the judge file's metadata.</summary>
    public static string Describe(DigitJudgeTrainingOptions options) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"Adam, learning rate {options.LearningRate} decayed by {Decay} per epoch, {options.Epochs} epochs of batch {options.BatchSize}, cross-entropy, random shifts of -{MaxShift}..{MaxShift} pixels, seed {options.Seed}");

    /// <summary>Trains a new judge on the digits <paramref name="indices"/> of <paramref name="pixels"/> and <paramref name="labels"/>.</summary>
    /// <param name="pixels">All digits' pixels, 28x28 row-major per digit, 0..255 (as IDX files hold them).</param>
    /// <param name="labels">All digits' labels 0..9.</param>
    /// <param name="indices">Which digits to train on.</param>
    /// <param name="progress">Reports each finished epoch and its mean training loss.</param>
    public static DigitJudge Train(byte[] pixels, byte[] labels, IReadOnlyList<int> indices, DigitJudgeTrainingOptions options, IProgress<(int Epoch, double Loss)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Epochs < 1 || options.BatchSize < 1 || !(options.LearningRate > 0))
            throw new ArgumentException($"Digit-judge training needs epochs >= 1, batch size >= 1 and a positive learning rate; got {options}.", nameof(options));
        if (indices.Count == 0) throw new ArgumentException("There are no training digits.", nameof(indices));
        TorchRuntime.EnsureLoaded();
        manual_seed(options.Seed);
        var judge = new DigitJudge();
        try
        {
            using var images = Images(pixels, indices);                                          // [N, 1, 28, 28]
            using var padded = nn.functional.pad(images, [MaxShift, MaxShift, MaxShift, MaxShift]);   // [N, 1, 32, 32]
            using var targets = tensor(indices.Select(i => (long)labels[i]).ToArray());           // [N]
            using var order = new Generator((ulong)options.Seed);
            var shifts = new Random(unchecked((int)options.Seed));
            using var optimizer = new KeptScalarOptimizers.AdamW(judge.parameters(), options.LearningRate);   // = Adam at weight decay 0
            var schedule = optim.lr_scheduler.ExponentialLR(optimizer, Decay);
            judge.train();
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                using var permutation = randperm(indices.Count, generator: order);                // [N]
                double lossSum = 0;
                int steps = 0;
                for (int start = 0; start < indices.Count; start += options.BatchSize)
                {
                    using var scope = NewDisposeScope();
                    var batch = permutation.narrow(0, start, Math.Min(options.BatchSize, indices.Count - start));   // [b]
                    var loss = nn.functional.cross_entropy(judge.forward(Shifted(padded, batch, shifts)), targets.index_select(0, batch));
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>();
                    steps++;
                }
                schedule.step();
                progress?.Report((epoch, lossSum / steps));
            }
            judge.eval();
            return judge;
        }
        catch
        {
            judge.Dispose();
            throw;
        }
    }

    /// <summary>The share of the digits <paramref name="indices"/> that <paramref name="judge"/> reads as their label.</summary>
    public static double Accuracy(DigitJudge judge, byte[] pixels, byte[] labels, IReadOnlyList<int> indices)
    {
        var judged = judge.Judge(indices.Select(i => Digit(pixels, i)).ToList());
        return (double)indices.Where((index, k) => judged.Predicted[k] == labels[index]).Count() / indices.Count;
    }

    /// <summary>Digit <paramref name="index"/> of <paramref name="pixels"/> as 784 floats 0..255, the judge's input.</summary>
    public static float[] Digit(byte[] pixels, int index)
    {
        var digit = new float[Pixels];
        for (int p = 0; p < Pixels; p++) digit[p] = pixels[index * Pixels + p];
        return digit;
    }

    /// <summary>The digits <paramref name="batch"/> of <paramref name="padded"/>, each cut out at a random offset: shifted by up to 2 pixels.</summary>
    /// <param name="padded">[N, 1, 32, 32] the training digits with 2 pixels of zero padding on each side.</param>
    /// <param name="batch">[b] indices into <paramref name="padded"/>.</param>
    /// <returns>[b, 1, 28, 28]</returns>
    private static Tensor Shifted(Tensor padded, Tensor batch, Random shifts)
    {
        int size = DigitJudge.ImageSize;
        var crops = batch.data<long>().ToArray().Select(i =>
            padded[i].narrow(1, shifts.Next(2 * MaxShift + 1), size).narrow(2, shifts.Next(2 * MaxShift + 1), size));   // [1, 28, 28] each
        return stack(crops.ToArray());                                                                                    // [b, 1, 28, 28]
    }

    /// <returns>[N, 1, 28, 28] float32, 0..255</returns>
    private static Tensor Images(byte[] pixels, IReadOnlyList<int> indices) =>
        tensor(indices.SelectMany(i => Digit(pixels, i)).ToArray(), [indices.Count, 1, DigitJudge.ImageSize, DigitJudge.ImageSize]);
}
