// The split of the shipped 10,000 MNIST digits that the digit judge is trained and measured on, and the real digit sets its
// report compares generated digits with. The shipped digits' last 2,000 are not class-balanced (only 63 fives), so the
// held-out set is chosen per class: the last 200 digits of each class in file order.
namespace UViT.MLNet.Core.Evaluation;

/// <summary>Which of the shipped MNIST digits (by index in the IDX files) train the judge and which are held out.</summary>
public static class DigitJudgeSplit
{
    /// <summary>Held-out digits per class: the last this many of each class, 2,000 in all; the judge never trains on them.</summary>
    public const int HeldOutPerClass = 200;

    /// <summary>The split as written into the judge file's metadata and the docs.</summary>
    public const string Description = "held out: the last 200 digits of each class (2,000) of the shipped 10,000 MNIST digits, in file order; training: the other 8,000";

    /// <summary>Indices of the held-out digits, class by class (200 of digit 0 in file order, then 200 of digit 1, ...).</summary>
    /// <param name="labels">The labels of the shipped digits (0..9).</param>
    public static int[][] HeldOutByClass(IReadOnlyList<byte> labels)
    {
        var byClass = Enumerable.Range(0, DigitJudge.ClassCount).Select(c => Enumerable.Range(0, labels.Count).Where(i => labels[i] == c).ToList()).ToArray();
        if (byClass.FirstOrDefault(list => list.Count < 2 * HeldOutPerClass) is { } few)
            throw new ArgumentException($"The digit judge's split needs at least {2 * HeldOutPerClass} digits of each class; digit {Array.IndexOf(byClass, few)} has {few.Count}.", nameof(labels));
        return byClass.Select(list => list.Skip(list.Count - HeldOutPerClass).ToArray()).ToArray();
    }

    /// <summary>Indices of the held-out digits, in file order.</summary>
    public static int[] HeldOut(IReadOnlyList<byte> labels) => HeldOutByClass(labels).SelectMany(i => i).Order().ToArray();

    /// <summary>Indices of the training digits (all others), in file order.</summary>
    public static int[] Training(IReadOnlyList<byte> labels)
    {
        var heldOut = HeldOut(labels).ToHashSet();
        return Enumerable.Range(0, labels.Count).Where(i => !heldOut.Contains(i)).ToArray();
    }

    /// <summary>
    /// Two disjoint class-balanced sets of held-out digits, <paramref name="perClass"/> of each class in each: the reference
    /// takes the first <paramref name="perClass"/> held-out digits of each class, the floor set the last. Generated digits are
    /// compared with the reference; the floor set's distance to the reference is what real digits score at the same size.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="perClass"/> is not in [1, 100] (two disjoint sets must fit in 200).</exception>
    public static (int[] Reference, int[] Floor) RealSets(IReadOnlyList<byte> labels, int perClass)
    {
        if (perClass < 1 || 2 * perClass > HeldOutPerClass)
            throw new ArgumentOutOfRangeException(nameof(perClass), $"Two disjoint sets of real held-out digits allow 1 to {HeldOutPerClass / 2} digits per class; got {perClass}.");
        var byClass = HeldOutByClass(labels);
        return (byClass.SelectMany(c => c.Take(perClass)).ToArray(), byClass.SelectMany(c => c.Skip(HeldOutPerClass - perClass)).ToArray());
    }
}
