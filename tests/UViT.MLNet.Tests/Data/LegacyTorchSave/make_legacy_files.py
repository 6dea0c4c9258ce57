"""Writes the legacy (pre-1.6, non-zip) torch.save test files with real PyTorch.

Run with PyTorch 2.x: python3 make_legacy_files.py OUT_DIR [inception.safetensors]
- legacy_state_dict.pth: torch.save(..., _use_new_zipfile_serialization=False) of an OrderedDict
  state_dict (with _metadata, as nn.Module.state_dict() returns) holding float32, float16, bfloat16,
  float64, int64, int32, uint8 and bool tensors, a scalar, an empty tensor, a transposed (non-contiguous)
  view, a slice at a storage offset and two tensors sharing one storage.
- legacy_state_dict.safetensors: the same tensors, contiguous, written by safetensors.torch: what a
  reader of the legacy file must reproduce exactly.
- With an inception.safetensors argument: pt_inception_legacy.pth, the FID Inception fixture weights
  written in the legacy format (as pytorch-fid's pt_inception-2015-12-05-6726825d.pth was).
"""
import collections, sys, torch
from safetensors.torch import save_file, load_file

out = sys.argv[1]
g = torch.Generator().manual_seed(20261126)

net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(5, 6))
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.randn(p.shape, generator=g))
    net[1].running_mean.copy_(torch.randn(4, generator=g))
    net[1].running_var.copy_(torch.rand(4, generator=g) + 0.5)
    net[1].num_batches_tracked.fill_(7)
sd = net.state_dict()  # OrderedDict with _metadata, BatchNorm's int64 num_batches_tracked

base = torch.randn(6, 8, generator=g)
shared = torch.arange(24, dtype=torch.float32)
sd["extra.half"] = torch.randn(3, 5, generator=g).half()
sd["extra.bfloat16"] = torch.randn(4, generator=g).bfloat16()
sd["extra.double"] = torch.randn(2, 3, generator=g).double()
sd["extra.int32"] = torch.arange(-5, 5, dtype=torch.int32)
sd["extra.uint8"] = torch.arange(0, 250, 50, dtype=torch.uint8)
sd["extra.bool"] = torch.tensor([True, False, True])
sd["extra.scalar"] = torch.tensor(3.25)
sd["extra.empty"] = torch.zeros(0, 4)
sd["extra.transposed"] = base.t()                 # strides (1, 8)
sd["extra.slice_at_offset"] = base[2:5, 1:7]      # offset 17, strides (8, 1)
sd["extra.shared_a"] = shared[:12].view(3, 4)     # two tensors on one storage
sd["extra.shared_b"] = shared[12:].view(2, 6)

torch.save(sd, f"{out}/legacy_state_dict.pth", _use_new_zipfile_serialization=False)
save_file({k: v.contiguous().clone() for k, v in sd.items()}, f"{out}/legacy_state_dict.safetensors")

check = torch.load(f"{out}/legacy_state_dict.pth", weights_only=True)
assert all(torch.equal(check[k], sd[k]) for k in sd), "PyTorch round trip failed"
print("small legacy file:", len(sd), "tensors")

if len(sys.argv) > 2:
    weights = load_file(sys.argv[2])
    legacy = collections.OrderedDict((k, weights[k]) for k in weights)
    torch.save(legacy, f"{out}/pt_inception_legacy.pth", _use_new_zipfile_serialization=False)
    print("inception legacy file:", len(legacy), "tensors")
print("torch", torch.__version__)
