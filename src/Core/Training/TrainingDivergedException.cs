namespace UViT.MLNet.Core.Training;

/// <summary>
/// Training produced non-finite numbers: too many steps in a row had a NaN or infinite loss or gradient norm, or the weights
/// themselves are no longer finite. The run's last good checkpoint is untouched.
/// </summary>
public sealed class TrainingDivergedException(string message) : ArithmeticException(message);
