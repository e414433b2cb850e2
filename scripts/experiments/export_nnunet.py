#!/usr/bin/python3
"""Writes the real ACDC or LA HDF5 data (../shared/data) as an nnU-Net v2 raw dataset, the way a
user's own data arrives, for `bcp prepare`:

  export_nnunet.py acdc DATA/ACDC OUT --labeled 3   # 3-D volumes (slices stacked), 4 classes
  export_nnunet.py la   DATA/LA   OUT --labeled 3   # volumes, sliced by `bcp prepare --dim 2d`

imagesTr/labelsTr: the first N labeled patients (ACDC: both frames) or volumes (LA), then the
selection half of val.list; unlabeledTr: every other training volume; imagesTs/labelsTs: the other
half of val.list, never seen by training or selection (scored with `bcp score`). The selection
cases are listed in OUT/selection.txt for `bcp prepare --val-cases`.

The HDF5 files carry no spacing: ACDC gets its typical 1.5 x 1.5 x 10 mm, LA its 0.625 mm
isotropic (the challenge's). Uses Debian's python3-h5py and python3-nibabel (hence /usr/bin/python3).
"""
import argparse
import collections
import json
import os
import re

import h5py
import nibabel as nib
import numpy as np


def save(path, array, spacing):
    affine = np.diag(list(spacing) + [1.0])
    nib.save(nib.Nifti1Image(array, affine), path)


def acdc_volumes(root):
    """Training volumes stacked from their slices (train_slices.list order), as (X, Y, Z)."""
    slices = collections.OrderedDict()
    with open(os.path.join(root, "train_slices.list")) as f:
        for line in f:
            name = line.strip()
            if not name:
                continue
            m = re.match(r"(.+)_slice_(\d+)$", name)
            slices.setdefault(m.group(1), []).append((int(m.group(2)), name))
    for volume, items in slices.items():
        imgs, labs = [], []
        for _, name in sorted(items):
            with h5py.File(os.path.join(root, "data", "slices", name + ".h5"), "r") as h:
                imgs.append(h["image"][()])
                labs.append(h["label"][()])
        # (D, H, W) -> NIfTI (X = W, Y = H, Z = D)
        yield volume, np.stack(imgs).transpose(2, 1, 0), np.stack(labs).transpose(2, 1, 0)


def acdc_val(root, names):
    for name in names:
        with h5py.File(os.path.join(root, "data", name + ".h5"), "r") as h:
            yield name, h["image"][()].transpose(2, 1, 0), h["label"][()].transpose(2, 1, 0)


def la_volumes(root, names):
    for name in names:
        with h5py.File(os.path.join(root, "2018LA_Seg_Training Set", name, "mri_norm2.h5"), "r") as h:
            yield name, h["image"][()], h["label"][()]  # already (X, Y, Z)


def read_list(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["acdc", "la"])
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--labeled", type=int, required=True,
                    help="labeled patients (ACDC, both frames) or volumes (LA)")
    a = ap.parse_args()
    for d in ("imagesTr", "labelsTr", "unlabeledTr", "imagesTs", "labelsTs"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    val = read_list(os.path.join(a.data, "val.list"))
    if a.kind == "acdc":
        spacing, classes = (1.5, 1.5, 10.0), {"background": 0, "RV": 1, "Myo": 2, "LV": 3}
        patients = []
        train = acdc_volumes(a.data)
        # Selection / report halves by patient (both frames together).
        val_patients = sorted({v.split("_")[0] for v in val})
        select = {p for i, p in enumerate(val_patients) if i % 2 == 0}
        is_select = lambda name: name.split("_")[0] in select
        labeled_of = lambda name: name.split("_")[0] in patients[: a.labeled]
        val_items = acdc_val(a.data, val)
    else:
        spacing, classes = (0.625, 0.625, 0.625), {"background": 0, "left_atrium": 1}
        train_names = read_list(os.path.join(a.data, "train.list"))
        train = la_volumes(a.data, train_names)
        is_select = lambda name: val.index(name) % 2 == 0
        labeled_of = lambda name: train_names.index(name) < a.labeled
        val_items = la_volumes(a.data, val)
    labeled, unlabeled = 0, 0
    for name, img, lab in train:
        if a.kind == "acdc":
            p = name.split("_")[0]
            if p not in patients:
                patients.append(p)
        if labeled_of(name):
            save(os.path.join(a.out, "imagesTr", name + "_0000.nii.gz"), img.astype(np.float32), spacing)
            save(os.path.join(a.out, "labelsTr", name + ".nii.gz"), lab.astype(np.uint8), spacing)
            labeled += 1
        else:
            save(os.path.join(a.out, "unlabeledTr", name + "_0000.nii.gz"), img.astype(np.float32), spacing)
            unlabeled += 1
    selection = []
    for name, img, lab in val_items:
        if is_select(name):
            selection.append(name)
            save(os.path.join(a.out, "imagesTr", name + "_0000.nii.gz"), img.astype(np.float32), spacing)
            save(os.path.join(a.out, "labelsTr", name + ".nii.gz"), lab.astype(np.uint8), spacing)
        else:
            save(os.path.join(a.out, "imagesTs", name + "_0000.nii.gz"), img.astype(np.float32), spacing)
            save(os.path.join(a.out, "labelsTs", name + ".nii.gz"), lab.astype(np.uint8), spacing)
    with open(os.path.join(a.out, "selection.txt"), "w") as f:
        f.write(",".join(selection) + "\n")
    meta = {"name": "ACDC3D" if a.kind == "acdc" else "LA", "channel_names": {"0": "MRI"},
            "labels": classes, "numTraining": labeled + len(selection), "file_ending": ".nii.gz"}
    with open(os.path.join(a.out, "dataset.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"{a.kind}: {labeled} labeled, {unlabeled} unlabeled, {len(selection)} selection, "
          f"{len(val) - len(selection)} report cases -> {a.out}")


if __name__ == "__main__":
    main()
