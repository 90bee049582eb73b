"""Prints the identity fields of PE files as JSON, read by pefile (an independent parser).

Usage: pe_identity.py FILE... -> {path: {machine, timestamp, size_of_image, checksum, cv: {guid, age, pdb}, warnings}}
"""
import json
import sys

import pefile


def identity(path):
    pe = pefile.PE(path)
    out = {
        "machine": pe.FILE_HEADER.Machine,
        "timestamp": pe.FILE_HEADER.TimeDateStamp,
        "size_of_image": pe.OPTIONAL_HEADER.SizeOfImage,
        "checksum": pe.OPTIONAL_HEADER.CheckSum,
        "cv": None,
        "warnings": pe.get_warnings(),
    }
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        cv = entry.entry
        if entry.struct.Type == 2 and cv is not None and hasattr(cv, "Signature_Data1"):
            guid = "%08X-%04X-%04X-%s-%s" % (
                cv.Signature_Data1, cv.Signature_Data2, cv.Signature_Data3,
                bytes([cv.Signature_Data4, cv.Signature_Data5]).hex().upper(), bytes(cv.Signature_Data6).hex().upper())
            out["cv"] = {"guid": guid, "age": cv.Age, "pdb": cv.PdbFileName.rstrip(b"\0").decode("utf-8", "replace")}
    return out


json.dump({path: identity(path) for path in sys.argv[1:]}, sys.stdout)
