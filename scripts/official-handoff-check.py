# One-off check (not in CI) that `uvit export` output works with the official U-ViT code (github baofff/U-ViT):
#   python3 scripts/official-handoff-check.py OFFICIAL_REPO EXPORT_DIR [EXPORT_DIR...]
# (HANDOFF_KEEP=DIR keeps the official work dir of the last folder in DIR: DIR/ckpts/0.ckpt, for `uvit import` to read back.)
# For each folder: torch.load of nnet.pth and nnet_ema.pth, load_state_dict(strict=True) into the official UViT class built
# from config.json's `nnet` with the official utils.get_nnet, then the resume step of docs/how-to/scale-out.md (official
# utils.initialize_train_state + TrainState.save, read back with TrainState.resume) in a temporary work dir.
# Needs only torch; einops, absl, tqdm, torchvision and ml_collections, which the official code imports, are replaced by
# the few functions these steps call when they are not installed (a training run needs the real packages).
import json, os, sys, tempfile, types

import torch


def shim(name, **members):
    if name in sys.modules:
        return
    try:
        __import__(name)
        return
    except ImportError:
        module = types.ModuleType(name)
        module.__dict__.update(members)
        sys.modules[name] = module


def rearrange(x, pattern, **sizes):
    # The patterns libs/uvit.py and libs/uvit_t2i.py use (construction and load_state_dict use none of them).
    if pattern == 'B L (K H D) -> K B H L D':
        B, L, _ = x.shape
        return x.reshape(B, L, sizes['K'], sizes['H'], -1).permute(2, 0, 3, 1, 4)
    if pattern == 'B H L D -> B L (H D)':
        B, H, L, D = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, L, H * D)
    if pattern == 'B (h w) (p1 p2 C) -> B C (h p1) (w p2)':
        B, N, _ = x.shape
        h, p1, p2 = sizes['h'], sizes['p1'], sizes['p2']
        w = N // h
        return x.reshape(B, h, w, p1, p2, -1).permute(0, 5, 1, 3, 2, 4).reshape(B, -1, h * p1, w * p2)
    raise NotImplementedError(pattern)


class ConfigDict(dict):
    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


shim('einops', rearrange=rearrange)
shim('absl')
shim('absl.logging', info=lambda *a, **k: None, get_absl_handler=lambda: None)
sys.modules['absl'].logging = sys.modules['absl.logging']
shim('tqdm', tqdm=lambda iterable=None, **k: iterable)
shim('torchvision')
shim('torchvision.utils', save_image=None)
sys.modules['torchvision'].utils = sys.modules['torchvision.utils']
shim('ml_collections', ConfigDict=ConfigDict)

repo = os.path.abspath(sys.argv[1])
sys.path.insert(0, repo)
import utils  # noqa: E402  (the official utils.py)

for folder in sys.argv[2:]:
    handoff = json.load(open(os.path.join(folder, 'config.json')))
    nnet_args = {k: v for k, v in handoff['nnet'].items() if v is not None}
    for name in ('nnet.pth', 'nnet_ema.pth'):
        state = torch.load(os.path.join(folder, name), map_location='cpu')
        nnet = utils.get_nnet(**nnet_args)
        result = nnet.load_state_dict(state, strict=True)
        params = sum(p.numel() for p in nnet.parameters())
        print(f'{folder}/{name}: torch.load ok, {len(state)} tensors, strict load into official {nnet_args["name"]} ok '
              f'({result}), {params} parameters')

    # The resume step: a step-0 official checkpoint holding the exported weights, as train*.py resumes it.
    recipe = handoff['recipe']
    config = ConfigDict(nnet=ConfigDict(nnet_args),
                        optimizer=ConfigDict(name='adamw', lr=recipe['lr'], weight_decay=recipe['weight_decay'], betas=tuple(recipe['betas'])),
                        lr_scheduler=ConfigDict(name='customized', warmup_steps=recipe['warmup_steps']))
    with tempfile.TemporaryDirectory() as temp:
        workdir = os.environ.get('HANDOFF_KEEP') or temp
        state = utils.initialize_train_state(config, 'cpu')
        state.nnet.load_state_dict(torch.load(os.path.join(folder, 'nnet.pth'), map_location='cpu'), strict=True)
        state.nnet_ema.load_state_dict(torch.load(os.path.join(folder, 'nnet_ema.pth'), map_location='cpu'), strict=True)
        state.save(os.path.join(workdir, 'ckpts', '0.ckpt'))
        resumed = utils.initialize_train_state(config, 'cpu')
        resumed.resume(os.path.join(workdir, 'ckpts'))
        exported = torch.load(os.path.join(folder, 'nnet_ema.pth'), map_location='cpu')
        same = all(torch.equal(v, exported[k]) for k, v in resumed.nnet_ema.state_dict().items())
        print(f'{folder}: official TrainState resumed from ckpts/0.ckpt (step {resumed.step}) with the exported EMA weights: {same}')
        if not same:
            sys.exit(1)
