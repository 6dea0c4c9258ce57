// TorchSharp's AdamW with every Scalar held until libtorch has used it.
//
// TorchSharp 0.107's AdamW.step passes its coefficients as implicit Scalars (`mul_(beta1)`, `add_(eps)`, ...), which a
// finalizer may free mid-call when another thread starts a collection (see Runtime/KeptScalars.cs). This subclass replaces
// step() only: the same update in the same order with the same Scalar values - so the same bits - on the same state, so
// save_state_dict/load_state_dict and existing checkpoints are unchanged. It is nested so that its simple name is "AdamW":
// TorchSharp writes that name at the start of the saved state and refuses a different one on load. KeptScalarAdamWTests
// compares it with TorchSharp's AdamW (and Adam, which it equals at weight decay 0) bit for bit.
using TorchSharp;
using TorchSharp.Modules;
using UViT.MLNet.Core.Runtime;
using static TorchSharp.torch;

namespace UViT.MLNet.Core.Training;

/// <summary>TorchSharp optimisers whose steps hold their Scalars across the native calls.</summary>
public static class KeptScalarOptimizers
{
    /// <summary>AdamW (Loshchilov &amp; Hutter) whose step holds its Scalars across the native calls; otherwise TorchSharp's AdamW.</summary>
    public sealed class AdamW : TorchSharp.Modules.AdamW
    {
        /// <summary>One parameter group over <paramref name="parameters"/>; arguments as TorchSharp's <c>optim.AdamW</c>.</summary>
        public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
            double weightDecay = 0, bool amsgrad = false, bool maximize = false)
            : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, maximize)
        {
        }

        /// <summary>One update of every parameter that has a gradient (TorchSharp's AdamW.step, same order of operations).</summary>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
            double lr = options.LearningRate!.Value, weightDecay = options.weight_decay!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using var decay = (1 - lr * weightDecay).ToScalar();
            using var keepFirst = beta1.ToScalar();
            using var blendFirst = (1 - beta1).ToScalar();
            using var keepSecond = beta2.ToScalar();
            using var blendSecond = (1 - beta2).ToScalar();
            using var epsilon = eps.ToScalar();

            foreach (var param in group.Parameters)
            {
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = -grad;
                var state = (State)_state[param.Handle];
                state.step += 1;

                param.mul_(decay);
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(keepFirst).add_(grad, blendFirst);
                state.exp_avg_sq.mul_(keepSecond).addcmul_(grad, grad, blendSecond);

                Tensor secondMoment = state.exp_avg_sq;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    secondMoment = state.max_exp_avg_sq;
                }
                using var correction = Math.Sqrt(biasCorrection2).ToScalar();
                using var stepSize = (-(lr / biasCorrection1)).ToScalar();
                var denominator = secondMoment.sqrt().div(correction).add_(epsilon, KeptScalars.One);   // sqrt(v / bc2) + eps
                param.addcdiv_(state.exp_avg, denominator, stepSize);
            }
        }, closure);
    }
}
