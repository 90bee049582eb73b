"""Prints a dump's modules as JSON, read by the `minidump` package from PyPI (an independent parser).

The package reads the module list but not the CodeView record's contents, so the record's
location comes from the package and its few bytes are decoded here with the standard library.
"""
import json
import logging
import sys
import uuid

logging.disable(logging.CRITICAL)  # the package logs PEB parsing failures for non-Windows dumps

from minidump.minidumpfile import MinidumpFile
from minidump.streams.ModuleListStream import MINIDUMP_MODULE_LIST
from minidump.constants import MINIDUMP_STREAM_TYPE
from minidump import directory as _directory

# The package rejects stream types it does not know below 0xFFFF (Wine's private 0xFFF0 stream,
# rust-minidump's fuzz inputs); a reader must skip them, so skip them here too.
_original_parse = _directory.MINIDUMP_DIRECTORY.parse


def _tolerant_parse(buff):
    position = buff.tell()
    value = _directory.MINIDUMP_DIRECTORY.get_stream_type_value(buff)
    buff.seek(position)
    if value not in MINIDUMP_STREAM_TYPE._value2member_map_:
        return None
    return _original_parse(buff)


_directory.MINIDUMP_DIRECTORY.parse = staticmethod(_tolerant_parse)


def codeview(data):
    if len(data) >= 24 and data[:4] == b"RSDS":
        guid = uuid.UUID(bytes_le=bytes(data[4:20]))
        age = int.from_bytes(data[20:24], "little")
        name = bytes(data[24:]).split(b"\0")[0].decode("utf-8", "replace")
        return {"guid": str(guid).upper(), "age": age, "pdb": name}
    return None


def main(path):
    dump = MinidumpFile.parse(path)
    out = []
    with open(path, "rb") as handle:
        raw = handle.read()
    for directory in dump.directories:
        if directory.StreamType != MINIDUMP_STREAM_TYPE.ModuleListStream:
            continue
        dump.file_handle.seek(directory.Location.Rva)
        records = MINIDUMP_MODULE_LIST.parse(dump.file_handle).Modules
        for record, module in zip(records, dump.modules.modules):
            cv = record.CvRecord
            row = {
                "name": module.name,
                "base": module.baseaddress,
                "size": module.size,
                "timestamp": module.timestamp,
                "checksum": module.checksum,
                "cv": codeview(raw[cv.Rva : cv.Rva + cv.DataSize]) if cv.DataSize else None,
            }
            out.append(row)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
