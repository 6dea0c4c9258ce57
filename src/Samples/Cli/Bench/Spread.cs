namespace UViT.MLNet.Cli.Bench;

/// <summary>
/// Repeated measurements of one quantity, printed as median and min-max: on a shared machine a single timing is noise, so
/// every figure of <c>uvit bench</c> is a spread.
/// </summary>
internal sealed class Spread(IEnumerable<double> values)
{
    public IReadOnlyList<double> Values { get; } = values.Order().ToList();

    public double Median => Values.Count == 0 ? double.NaN
        : Values.Count % 2 == 1 ? Values[Values.Count / 2] : (Values[Values.Count / 2 - 1] + Values[Values.Count / 2]) / 2;

    public double Min => Values[0];
    public double Max => Values[^1];

    /// <summary>The JSON shape of a figure: {"median": m, "min": a, "max": b, "n": count}.</summary>
    public Dictionary<string, object> ToJson(int digits) => new()
    {
        ["median"] = Math.Round(Median, digits), ["min"] = Math.Round(Min, digits), ["max"] = Math.Round(Max, digits), ["n"] = Values.Count,
    };
}
