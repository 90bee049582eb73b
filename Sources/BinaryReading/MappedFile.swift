#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only file mapped into memory; the owner of the bytes every `ByteView` points into.
///
/// The mapping lives as long as this object; views keep it alive. Pages are brought in by
/// the kernel only when touched, so reading a directory of a large dump costs a few pages.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Size of the file in bytes.
    public let size: Int
    private let base: UnsafeRawPointer?
    private let isMapped: Bool

    /// Maps the file at `path` read-only.
    public init(path: String) throws(ParseError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ParseError(offset: 0, field: path, kind: .io("\(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ParseError(offset: 0, field: path, kind: .io("\(path): \(String(cString: strerror(errno)))"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ParseError(offset: 0, field: path, kind: .io("\(path): not a regular file"))
        }
        let size = Int(info.st_size)
        self.size = size
        if size == 0 {
            base = nil
            isMapped = false
            return
        }
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw ParseError(offset: 0, field: path, kind: .io("\(path): mmap failed: \(String(cString: strerror(errno)))"))
        }
        base = UnsafeRawPointer(mapping)
        isMapped = true
    }

    /// Wraps bytes already in memory (tests, uploads); they are copied once into an owned buffer.
    public init(bytes: some Collection<UInt8>, name: String = "<memory>") {
        path = name
        size = bytes.count
        if size == 0 {
            base = nil
        } else {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            // Contiguous collections (arrays, Data) copy in one go; others byte by byte.
            let copied = bytes.withContiguousStorageIfAvailable { source in
                buffer.copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
            if copied == nil {
                var index = 0
                for byte in bytes {
                    buffer.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
                    index += 1
                }
            }
            base = UnsafeRawPointer(buffer)
        }
        isMapped = false
    }

    deinit {
        guard let base else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// A view of the whole file.
    public var bytes: ByteView {
        ByteView(owner: self, base: base, count: size, fileOffset: 0)
    }
}
