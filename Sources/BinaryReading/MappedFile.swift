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
/// Files of at most `copyThreshold` bytes are read into an owned buffer instead.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Size of the file in bytes.
    public let size: Int
    private let base: UnsafeRawPointer?
    private let isMapped: Bool

    /// Opens the file at `path` read-only: mapped, or read into memory when small.
    public init(path: String) throws(ParseError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
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
        if size == 0 {
            self.size = 0
            base = nil
            isMapped = false
            return
        }
        if size <= Self.copyThreshold {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            var filled = 0
            while filled < size {
                let count = pread(fd, buffer + filled, size - filled, off_t(filled))
                if count > 0 {
                    filled += count
                } else if count == 0 || errno != EINTR {
                    // A file that shrank since fstat gives fewer bytes (a mapping would have
                    // given SIGBUS past the new end); an error gives none.
                    if count < 0 {
                        let reason = String(cString: strerror(errno))
                        buffer.deallocate()
                        throw ParseError(offset: Int64(filled), field: path, kind: .io("\(path): read failed: \(reason)"))
                    }
                    break
                }
            }
            self.size = filled
            base = UnsafeRawPointer(buffer)
            isMapped = false
            return
        }
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw ParseError(offset: 0, field: path, kind: .io("\(path): mmap failed: \(String(cString: strerror(errno)))"))
        }
        self.size = size
        base = UnsafeRawPointer(mapping)
        isMapped = true
    }

    /// Files up to this size are read into memory rather than mapped.
    ///
    /// Mapping costs page-table work at both ends: on the 2-core VM the benchmarks run on, mmap,
    /// the first fault and munmap of a 21 KB dump took about 7.5 µs against 1.3 µs for one pread,
    /// and every small dump touches most of its pages anyway. A copy this small costs no memory
    /// worth counting; larger files (dumps with memory, PDBs, kernel dumps) are still mapped.
    public static let copyThreshold = 64 * 1024

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
