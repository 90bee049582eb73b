import BinaryReading

/// The stream types this reader decodes, by directory type.
public enum KnownStreams {
    /// A stream type that can be decoded and encoded.
    public typealias Decoder = any (MinidumpStream & Encodable).Type

    /// Every decodable stream type.
    public static let types: [Decoder] = [
        ThreadList.self, ThreadExList.self, ModuleList.self, UnloadedModuleList.self, MemoryList.self,
        Memory64List.self, ExceptionStream.self, SystemInfo.self, MiscInfo.self, HandleDataStream.self,
        ThreadInfoList.self, MemoryInfoList.self, ThreadNameList.self, CommentA.self, CommentW.self,
        SystemMemoryInfo.self, ProcessVmCounters.self, BreakpadInfo.self, AssertionInfo.self,
        LinuxCpuInfo.self, LinuxProcStatus.self, LinuxLsbRelease.self, LinuxCmdLine.self, LinuxEnviron.self,
        LinuxAuxv.self, LinuxMaps.self, LinuxDsoDebug.self, LinuxLimits.self, SoftErrors.self,
        CrashpadInfo.self, MacCrashInfo.self,
    ]

    /// The decoder for each stream type.
    public static let byType: [StreamType: Decoder] = {
        var table = [StreamType: Decoder]()
        for type in types { table[type.streamType] = type }
        return table
    }()
}

extension MinidumpFile {
    /// Decodes the stream behind a directory entry, or returns nil when its type is not one this reader knows.
    public func decodeStream(_ entry: DirectoryEntry) throws(ParseError) -> (any MinidumpStream & Encodable)? {
        guard let type = KnownStreams.byType[entry.streamType] else { return nil }
        return try type.init(parsing: streamBytes(entry), in: self)
    }
}
