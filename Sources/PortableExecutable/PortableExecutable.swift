/// The PE/COFF image reader (sections, headers, debug directory, resources, unwind data).
public enum PortableExecutableFormat {}
