// The empty prompt's context travels with every context column EncodeText adds, as an ML.NET annotation, so that a trainer
// further down the pipeline can drop contexts to it (guidance training) and a generator can guide with it, without the user
// passing it by hand.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace UViT.MLNet.Transforms.Text;

/// <summary>Reads and writes the <see cref="Name"/> annotation: a Vector&lt;Single, T, D&gt; holding the context of "".</summary>
public static class TextContextAnnotation
{
    /// <summary>The annotation's name on a context column.</summary>
    public const string Name = "UViT.EmptyContext";

    /// <summary>Annotations holding a [T, D] empty context.</summary>
    public static DataViewSchema.Annotations Create(float[,] emptyContext)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        var copy = emptyContext.Cast<float>().ToArray();
        builder.Add(Name, new VectorDataViewType(NumberDataViewType.Single, emptyContext.GetLength(0), emptyContext.GetLength(1)),
                    (ref VBuffer<float> value) => value = new VBuffer<float>(copy.Length, copy.ToArray()));
        return builder.ToAnnotations();
    }

    /// <summary>The empty context a column carries: its values and [T, D], or null when the column has no such annotation.</summary>
    public static (float[] Values, int Tokens, int Width)? Read(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull(Name) is not { Type: VectorDataViewType { Dimensions.Length: 2 } type }) return null;
        VBuffer<float> buffer = default;
        column.Annotations.GetValue(Name, ref buffer);
        return (buffer.DenseValues().ToArray(), type.Dimensions[0], type.Dimensions[1]);
    }
}
