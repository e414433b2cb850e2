#!/usr/bin/env python3
"""Writes the pickle seeds of fuzz/corpus/pickle/: pickles shaped as torch.save writes data.pkl
(OrderedDict of tensors rebuilt by torch._utils._rebuild_tensor_v2 from persistent storages),
made without PyTorch by standing in its module names. Run from the repository root."""
import collections
import io
import pickle
import sys
import types

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


def _rebuild_parameter(*args):
    raise NotImplementedError


for f in (_rebuild_tensor_v2, _rebuild_parameter):
    f.__module__ = "torch._utils"
    setattr(utils, f.__name__, f)


def storage_type(name):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)
    return cls


Float, Long, Bool = storage_type("FloatStorage"), storage_type("LongStorage"), storage_type("BoolStorage")


class Storage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())
        self.parameter = parameter

    def __reduce__(self):
        t = _TensorOnly(self.args)
        return (_rebuild_parameter, (t, True, collections.OrderedDict())) if self.parameter else t.__reduce__()


class _TensorOnly:
    def __init__(self, args):
        self.args = args

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def write(name, obj, protocol=2):
    buf = io.BytesIO()
    Pickler(buf, protocol=protocol).dump(obj)
    with open(f"fuzz/corpus/pickle/{name}", "wb") as f:
        f.write(buf.getvalue())


w = Storage(Float, "0", 6)
state = collections.OrderedDict(
    [("conv.weight", Tensor(w, 0, (2, 3), (3, 1))),
     ("conv.bias", Tensor(Storage(Float, "1", 2), 0, (2,), (1,))),
     ("bn.num_batches_tracked", Tensor(Storage(Long, "2", 1), 0, (), ())),
     ("view", Tensor(w, 2, (2, 2), (1, 2))),
     ("mask", Tensor(Storage(Bool, "3", 4), 0, (4,), (1,)))])
write("state_dict_p2", state)
write("state_dict_p4", state, protocol=4)
write("nested_net", {"epoch": 3, "net": state, "lr": 0.01, "name": "unet", "flags": [True, None]})
write("parameter", collections.OrderedDict([("w", Tensor(w, 0, (6,), (1,), parameter=True))]))
write("plain_values", {"a": (1, 2.5, "x", b"y"), "b": [1, [2, [3]]], "c": {1: 2}})
