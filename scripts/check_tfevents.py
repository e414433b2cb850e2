#!/usr/bin/env python3
"""Independent reader of TensorBoard event files, for checking bcp's writer.

Decodes every record with Google's protobuf runtime (the Event / Summary / Value messages of
tensorflow/core/util/event.proto and summary.proto, declared here field by field) and checks both
CRCs with the crc32c package, i.e. with none of bcp's code. Prints one line per scalar
("step tag value") and exits non-zero, naming the file and record, on any damage.
Debian: apt-get install python3-protobuf python3-crc32c.
"""
import struct
import sys

import crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def event_class():
    f = descriptor_pb2.FileDescriptorProto(name="bcp_check_event.proto", package="bcpcheck")
    T = descriptor_pb2.FieldDescriptorProto

    def msg(name, fields):
        m = f.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            fd = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                fd.type_name = type_name

    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    msg("Value", [("tag", 1, T.TYPE_STRING, opt, None), ("simple_value", 2, T.TYPE_FLOAT, opt, None)])
    msg("Summary", [("value", 1, T.TYPE_MESSAGE, rep, ".bcpcheck.Value")])
    msg("Event", [("wall_time", 1, T.TYPE_DOUBLE, opt, None), ("step", 2, T.TYPE_INT64, opt, None),
                  ("file_version", 3, T.TYPE_STRING, opt, None),
                  ("summary", 5, T.TYPE_MESSAGE, opt, ".bcpcheck.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("bcpcheck.Event")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def masked(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def main(paths):
    Event = event_class()
    for path in paths:
        data = open(path, "rb").read()
        pos, index = 0, 0
        while pos < len(data):
            where = f"{path}: record {index}"
            if pos + 12 > len(data):
                sys.exit(f"{where} is truncated")
            (length,) = struct.unpack_from("<Q", data, pos)
            (length_crc,) = struct.unpack_from("<I", data, pos + 8)
            if length_crc != masked(data[pos:pos + 8]):
                sys.exit(f"{where}: length CRC mismatch")
            body = data[pos + 12:pos + 12 + length]
            if len(body) != length or pos + 16 + length > len(data):
                sys.exit(f"{where} is truncated")
            (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
            if data_crc != masked(body):
                sys.exit(f"{where}: data CRC mismatch")
            event = Event()
            event.ParseFromString(body)
            if index == 0 and event.file_version != "brain.Event:2":
                sys.exit(f"{where}: first event is not the file version")
            for v in event.summary.value:
                print(event.step, v.tag, repr(v.simple_value))
            pos += 16 + length
            index += 1


if __name__ == "__main__":
    main(sys.argv[1:])
