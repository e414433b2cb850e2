#!/usr/bin/env python3
"""Times one ACDC BCP self-training iteration as the authors' released code runs it, on the CPU,
with whatever PyTorch this interpreter imports. A reference point for bcp's own step time.

  /opt/bcp-venv-torch2.13/bin/python scripts/experiments/authors_step.py --steps 10 --warmup 2 \
      [--threads N] [--json FILE]

Needs numpy and scikit-image next to torch (pip install numpy scikit-image into the venv).

What is reproduced (authors' repository DeepMed-Lab-ECNU/BCP; see also shared/docs/BCP_SPEC.md):

- Network: `BCP_net(in_chns=1, class_num=4)` of code/networks/net_factory.py, i.e. `UNet_2d` of
  code/networks/unet.py (ConvBlock / DownBlock / UpBlock / Encoder / Decoder): channels
  16,32,64,128,256, encoder dropout 0.05,0.1,0.2,0.3,0.5, conv3x3-BN-LeakyReLU-Dropout-conv3x3-
  BN-LeakyReLU blocks, maxpool down, conv1x1 + bilinear x2 (align_corners=True) up, output
  conv3x3; forward returns the logits only. The unused projection/prediction heads and the eight
  contrastive selector heads of UNet_2d are built too, because they sit in the state_dict the
  authors' EMA update blends every step (and in the optimizer's parameter list, where they have no
  gradient and SGD skips them). Module names match theirs. The teacher is `BCP_net(..., ema=True)`:
  the same network with its parameters detached.
- Batch: 24 = 12 labeled + 12 unlabeled, 1x256x256 float32 images and uint8 labels (as their
  RandomGenerator in code/dataloaders/dataset.py returns them), split 6/6/6/6 into img_a, img_b,
  uimg_a, uimg_b exactly as `self_train` in code/ACDC_BCP_train.py slices `volume_batch`.
  Synthetic: uniform images, random labels 0..3, drawn before the timer starts (their loop's
  data loading is not timed, nor is it here).
- Timed step = the body of the `self_train` loop in code/ACDC_BCP_train.py:
  * teacher forward, under no_grad and in train mode (`ema_model.train()`: dropout on, BatchNorm
    on batch statistics and updating its running statistics), once on uimg_a and once on uimg_b;
  * pseudo-labels by `get_ACDC_masks(out, nms=1)`: softmax, max over classes, then
    `get_ACDC_2DLargestCC`: per slice and per class 1..3, a torch 0/1 map is copied to numpy,
    labelled with `skimage.measure.label` (its default connectivity, 8-neighbour in 2-D), the
    largest component kept via np.bincount/np.argmax (the map is kept as is when the class is
    absent), the three classes summed, and the list of per-slice numpy arrays turned into a
    tensor with `torch.Tensor(list)` (their `.cuda()` is dropped: everything is on the CPU);
  * `generate_mask`: one 170x170 zero box (int(256*2/3)) at np.random.randint offsets in
    [0, 86), mask and per-batch loss mask as long tensors;
  * the mixed ground-truth maps `unl_label`/`l_label` they compute under no_grad (for their
    TensorBoard images), and `get_current_consistency_weight` (computed, unused, as in theirs);
  * the two bidirectional mixes, each through the student in its own forward pass:
    `uimg_a*M + img_a*(1-M)` and `img_b*M + uimg_b*(1-M)`;
  * `mix_loss` (code/ACDC_BCP_train.py) with u_weight 0.5 -- unlab=True for the first mix
    (pseudo-label plab_a inside the box weighted 0.5, lab_a outside weighted 1) and unlab=False
    for the second (lab_b inside weighted 1, plab_b outside 0.5) -- built on `DiceLoss(4)` of
    code/utils/losses.py (masked, per class over the whole batch, smooth 1e-10, background
    included, one .item() per class as theirs does; the mask repeated over the 4 classes as in
    the current version with the "issue #25" fix) and per-pixel
    `nn.CrossEntropyLoss(reduction='none')` averaged over each region;
  * loss = (dice_unl + dice_l + ce_unl + ce_l) / 2, zero_grad, backward, SGD step (lr 0.01,
    momentum 0.9, weight decay 1e-4);
  * `update_model_ema(model, ema_model, 0.99)`: every state_dict entry (parameters, BN running
    statistics and num_batches_tracked) blended into a new dict and loaded with load_state_dict.

Deviations: weights are random (seeded) rather than the pre-trained checkpoint, and the student's
SGD momentum buffers start empty rather than from the checkpoint's optimizer state (the warm-up
steps fill them); both matter only through the pseudo-label maps the connected-component step
sees. Their per-step TensorBoard writes and logging line are left out; their periodic image
dumps (every 20 steps) and validation (every 200) are not part of a step and are not timed.
"""
import argparse
import json
import random
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from skimage.measure import label as sk_label

SEED = 1337
NUM_CLASSES = 4
BATCH, LABELED_BS = 24, 12
PATCH = 256
U_WEIGHT = 0.5
EMA_ALPHA = 0.99


# ---------------------------------------------------------------- network (unet.py: UNet_2d)
class ConvBlock(nn.Module):
    def __init__(self, cin, cout, p):
        super().__init__()
        self.conv_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(),
            nn.Dropout(p),
            nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU())

    def forward(self, x):
        return self.conv_conv(x)


class DownBlock(nn.Module):
    def __init__(self, cin, cout, p):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), ConvBlock(cin, cout, p))

    def forward(self, x):
        return self.maxpool_conv(x)


class UpBlock(nn.Module):
    def __init__(self, cin_deep, cin_skip, cout, p):
        super().__init__()
        self.conv1x1 = nn.Conv2d(cin_deep, cin_skip, 1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = ConvBlock(cin_skip * 2, cout, p)

    def forward(self, deep, skip):
        return self.conv(torch.cat([skip, self.up(self.conv1x1(deep))], dim=1))


class Encoder(nn.Module):
    def __init__(self, cin, ch, drop):
        super().__init__()
        self.in_conv = ConvBlock(cin, ch[0], drop[0])
        self.down1 = DownBlock(ch[0], ch[1], drop[1])
        self.down2 = DownBlock(ch[1], ch[2], drop[2])
        self.down3 = DownBlock(ch[2], ch[3], drop[3])
        self.down4 = DownBlock(ch[3], ch[4], drop[4])

    def forward(self, x):
        x0 = self.in_conv(x)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        return [x0, x1, x2, x3, self.down4(x3)]


class Decoder(nn.Module):
    def __init__(self, ch, n_class):
        super().__init__()
        self.up1 = UpBlock(ch[4], ch[3], ch[3], 0.0)
        self.up2 = UpBlock(ch[3], ch[2], ch[2], 0.0)
        self.up3 = UpBlock(ch[2], ch[1], ch[1], 0.0)
        self.up4 = UpBlock(ch[1], ch[0], ch[0], 0.0)
        self.out_conv = nn.Conv2d(ch[0], n_class, 3, padding=1)

    def forward(self, f):
        x = self.up1(f[4], f[3])
        x = self.up2(x, f[2])
        x = self.up3(x, f[1])
        last = self.up4(x, f[0])
        return self.out_conv(last), last


def _head(fin, fout, act):
    return nn.Sequential(nn.Linear(fin, fout), nn.BatchNorm1d(fout), act, nn.Linear(fout, fout))


def _selector(feat):
    return nn.Sequential(nn.Linear(feat, feat), nn.BatchNorm1d(feat),
                         nn.LeakyReLU(negative_slope=0.2, inplace=True), nn.Linear(feat, 1))


class UNet2d(nn.Module):
    """Their UNet_2d: encoder + decoder, forward gives logits; the heads are never run."""

    def __init__(self, in_chns, class_num):
        super().__init__()
        ch, drop = [16, 32, 64, 128, 256], [0.05, 0.1, 0.2, 0.3, 0.5]
        self.encoder = Encoder(in_chns, ch, drop)
        self.decoder = Decoder(ch, class_num)
        self.projection_head = _head(16, 32, nn.ReLU(inplace=True))
        self.prediction_head = _head(32, 32, nn.ReLU(inplace=True))
        for c in range(4):
            setattr(self, "contrastive_class_selector_" + str(c), _selector(32))
        for c in range(4):
            setattr(self, "contrastive_class_selector_memory" + str(c), _selector(32))

    def forward(self, x):
        out, _ = self.decoder(self.encoder(x))
        return out


def bcp_net(ema=False):
    """net_factory.BCP_net: UNet_2d; the EMA copy has its parameters detached."""
    net = UNet2d(1, NUM_CLASSES)
    if ema:
        for p in net.parameters():
            p.detach_()
    return net


# ---------------------------------------------------------------- losses.py: DiceLoss
class MaskedDice(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.n = n_classes

    def _onehot(self, t):
        return torch.cat([t == c * torch.ones_like(t) for c in range(self.n)], dim=1).float()

    def forward(self, probs, target, mask):
        target = self._onehot(target)
        assert probs.size() == target.size()
        mask = mask.repeat(1, self.n, 1, 1).type(torch.float32)
        total, per_class = 0.0, []
        for c in range(self.n):
            p, t, m = probs[:, c], target[:, c].float(), mask[:, c].float()
            inter = torch.sum(p * t * m)
            y_sum = torch.sum(t * t * m)
            z_sum = torch.sum(p * p * m)
            d = 1 - (2 * inter + 1e-10) / (z_sum + y_sum + 1e-10)
            per_class.append(1.0 - d.item())  # theirs records this every class
            total += d
        return total / self.n


dice_loss = MaskedDice(NUM_CLASSES)


# ---------------------------------------------------------------- ACDC_BCP_train.py helpers
def largest_cc_2d(seg):
    """get_ACDC_2DLargestCC: per slice, per class 1..3, keep the largest skimage component."""
    slices = []
    for i in range(seg.shape[0]):
        parts = []
        for c in range(1, 4):
            s = seg[i]
            onoff = torch.zeros_like(s)
            onoff[s == c] = 1
            onoff = onoff.detach().cpu().numpy()
            comp = sk_label(onoff)
            if comp.max() != 0:
                keep = comp == np.argmax(np.bincount(comp.flat)[1:]) + 1
                parts.append(keep * c)
            else:
                parts.append(onoff)
        slices.append(parts[0] + parts[1] + parts[2])
    return torch.Tensor(slices)  # theirs: torch.Tensor(list of ndarrays).cuda()


def acdc_pseudo_labels(logits):
    """get_ACDC_masks(output, nms=1)."""
    _, lab = torch.max(F.softmax(logits, dim=1), dim=1)
    return largest_cc_2d(lab)


def box_mask(img):
    """generate_mask: a 2/3-sized zero box; (mask HxW, loss mask NxHxW), both long."""
    n, _, h, w = img.shape
    loss_mask = torch.ones(n, h, w)
    mask = torch.ones(h, w)
    ph, pw = int(h * 2 / 3), int(w * 2 / 3)
    y0 = np.random.randint(0, h - ph)
    x0 = np.random.randint(0, w - pw)
    mask[y0:y0 + ph, x0:x0 + pw] = 0
    loss_mask[:, y0:y0 + ph, x0:x0 + pw] = 0
    return mask.long(), loss_mask.long()


def mix_loss(logits, img_l, patch_l, mask, l_weight=1.0, u_weight=0.5, unlab=False):
    """mix_loss: Dice + CE on the mask region (image label) and its complement (patch label)."""
    ce = nn.CrossEntropyLoss(reduction="none")
    img_l, patch_l = img_l.type(torch.int64), patch_l.type(torch.int64)
    probs = F.softmax(logits, dim=1)
    w_img, w_patch = (u_weight, l_weight) if unlab else (l_weight, u_weight)
    patch_mask = 1 - mask
    d = dice_loss(probs, img_l.unsqueeze(1), mask.unsqueeze(1)) * w_img
    d += dice_loss(probs, patch_l.unsqueeze(1), patch_mask.unsqueeze(1)) * w_patch
    c = w_img * (ce(logits, img_l) * mask).sum() / (mask.sum() + 1e-16)
    c += w_patch * (ce(logits, patch_l) * patch_mask).sum() / (patch_mask.sum() + 1e-16)
    return d, c


def sigmoid_rampup(current, length):
    """utils/ramps.sigmoid_rampup."""
    if length == 0:
        return 1.0
    phase = 1.0 - np.clip(current, 0.0, length) / length
    return float(np.exp(-5.0 * phase * phase))


def ema_update(model, ema_model, alpha):
    """update_model_ema: blend the whole state_dict and load it into the teacher."""
    s, t = model.state_dict(), ema_model.state_dict()
    ema_model.load_state_dict({k: alpha * t[k] + (1 - alpha) * s[k] for k in s})


# ---------------------------------------------------------------- one self_train iteration
def self_train_step(model, ema_model, optimizer, volume_batch, label_batch, iter_num):
    lsub, usub = LABELED_BS // 2, (BATCH - LABELED_BS) // 2
    img_a, img_b = volume_batch[:lsub], volume_batch[lsub:LABELED_BS]
    uimg_a = volume_batch[LABELED_BS:LABELED_BS + usub]
    uimg_b = volume_batch[LABELED_BS + usub:]
    ulab_a = label_batch[LABELED_BS:LABELED_BS + usub]
    ulab_b = label_batch[LABELED_BS + usub:]
    lab_a, lab_b = label_batch[:lsub], label_batch[lsub:LABELED_BS]
    with torch.no_grad():
        plab_a = acdc_pseudo_labels(ema_model(uimg_a))
        plab_b = acdc_pseudo_labels(ema_model(uimg_b))
        img_mask, loss_mask = box_mask(img_a)
        _unl_label = ulab_a * img_mask + lab_a * (1 - img_mask)  # theirs: TensorBoard only
        _l_label = lab_b * img_mask + ulab_b * (1 - img_mask)
    _consistency_weight = 5 * 0.1 * sigmoid_rampup(iter_num // 150, 200.0)  # unused, as theirs

    net_input_unl = uimg_a * img_mask + img_a * (1 - img_mask)
    net_input_l = img_b * img_mask + uimg_b * (1 - img_mask)
    out_unl = model(net_input_unl)
    out_l = model(net_input_l)
    unl_dice, unl_ce = mix_loss(out_unl, plab_a, lab_a, loss_mask, u_weight=U_WEIGHT, unlab=True)
    l_dice, l_ce = mix_loss(out_l, lab_b, plab_b, loss_mask, u_weight=U_WEIGHT)
    loss = (unl_dice + l_dice + unl_ce + l_ce) / 2

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ema_update(model, ema_model, EMA_ALPHA)
    return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--json", default=None, help="append one JSON line to this file")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error("--steps must be at least 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Creating a tensor from a list of numpy")

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    model = bcp_net()
    ema_model = bcp_net(ema=True)
    ema_model.load_state_dict(model.state_dict())  # both start from the same checkpoint
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0001)
    model.train()
    ema_model.train()

    times = []
    for it in range(args.warmup + args.steps):
        volume_batch = torch.rand(BATCH, 1, PATCH, PATCH, dtype=torch.float32)
        label_batch = torch.randint(0, NUM_CLASSES, (BATCH, PATCH, PATCH), dtype=torch.uint8)
        t0 = time.perf_counter()
        loss = self_train_step(model, ema_model, optimizer, volume_batch, label_batch, it)
        dt = time.perf_counter() - t0
        timed = it >= args.warmup
        if timed:
            times.append(dt)
        print("step %d%s: %.3f s  loss %.4f" % (it, "" if timed else " (warm-up)", dt, loss),
              flush=True)

    med, best = statistics.median(times), min(times)
    threads = torch.get_num_threads()
    print("authors' ACDC self-training step, torch %s, %d threads: median %.3f s, min %.3f s "
          "over %d steps" % (torch.__version__, threads, med, best, len(times)))
    if args.json:
        rec = {"benchmark": "authors_acdc_selftrain_step", "torch": torch.__version__,
               "threads": threads, "seconds_median": med, "seconds_min": best,
               "seconds": times}
        with open(args.json, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
