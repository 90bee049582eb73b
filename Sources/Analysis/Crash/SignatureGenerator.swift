/// Makes a Socorro-style crash signature from the crashing thread's frames.
///
/// The walk: normalize every frame (``FrameNormalizer``); when a frame matches a sentinel,
/// drop the frames before the first such frame; then skip frames matching the irrelevant
/// list, shorten `.dll` frames to the module name (skipping a repeat of the previous part),
/// append the frame, and keep going while it matches the prefix list. The parts are joined
/// with ` | ` and a result longer than 255 characters is cut to 252 followed by `...`.
public struct SignatureGenerator: Sendable {
    /// Socorro's `SIGNATURE_MAX_LENGTH`.
    public static let maximumLength = 255
    /// Between two parts of a signature.
    public static let separator = " | "
    /// The signature when there are no frames at all.
    public static let noFrames = "EMPTY: no frame data available"
    /// The signature to use when the dump does not say which thread crashed.
    public static let noCrashingThread = "EMPTY: no crashing thread identified"

    /// The lists in use.
    public var lists: SignatureLists

    /// A generator with `lists` (the built-in ones unless given).
    public init(lists: SignatureLists = .defaults) {
        self.lists = lists
    }

    /// The signature of `frames` (innermost first) from a process with `pointerSize`-byte pointers.
    public func generate(frames: [SignatureFrame], pointerSize: Int = 8) -> SignatureResult {
        let normalizer = FrameNormalizer(pointerSize: pointerSize, lineNumberFunctions: lists.lineNumbers)
        var decisions = frames.enumerated().map { index, frame in
            SignatureFrameDecision(index: index, normalized: normalizer.normalize(frame), role: .notReached)
        }
        var notes = [String]()

        var start = 0
        if let sentinelIndex = decisions.firstIndex(where: { decision in
            lists.sentinel.contains { $0.matches(decision.normalized) }
        }) {
            start = sentinelIndex
            let pattern = lists.sentinel.first { $0.matches(decisions[sentinelIndex].normalized) }
            notes.append("sentinel \(pattern?.source ?? ""): starting at frame \(sentinelIndex)")
            for index in 0..<sentinelIndex { decisions[index].role = .beforeSentinel }
        }

        var parts = [String]()
        for index in start..<decisions.count {
            let normalized = decisions[index].normalized
            if let pattern = lists.irrelevant.first(where: { $0.matches(normalized) }) {
                decisions[index].role = .irrelevant
                decisions[index].pattern = pattern.source
                continue
            }
            var part = normalized
            // A frame in a DLL without symbols stands for the whole module: `foo.dll@0x1234` → `foo.dll`.
            if part.lowercased().contains(".dll"), let at = part.firstIndex(of: "@") {
                part = String(part[..<at])
                if parts.last == part {
                    decisions[index].role = .repeatedModule
                    continue
                }
            }
            decisions[index].part = part
            parts.append(part)
            if let pattern = lists.prefix.first(where: { $0.matches(part) }) {
                decisions[index].role = .prefix
                decisions[index].pattern = pattern.source
            } else {
                decisions[index].role = .last
                break
            }
        }

        var signature = parts.joined(separator: Self.separator)
        if signature.isEmpty {
            if decisions.count > start {
                signature = decisions[start].normalized
                notes.append("every frame was irrelevant: using frame \(start) as it is")
            } else {
                signature = Self.noFrames
                notes.append("no frames")
            }
        }
        var truncated = false
        // Socorro counts Python characters, that is Unicode scalars.
        let scalars = signature.unicodeScalars
        if scalars.count > Self.maximumLength {
            var cut = String.UnicodeScalarView(scalars.prefix(Self.maximumLength - 3))
            cut.append(contentsOf: "...".unicodeScalars)
            signature = String(cut)
            truncated = true
            notes.append("truncated to \(Self.maximumLength) characters")
        }
        return SignatureResult(signature: signature, frames: decisions, notes: notes, truncated: truncated)
    }
}

/// A signature and how it was made.
public struct SignatureResult: Sendable, Equatable, Codable {
    /// The signature.
    public var signature: String
    /// One entry per input frame, in order: its normalized text and what the walk did with it.
    public var frames: [SignatureFrameDecision]
    /// How the walk went (sentinel found, truncation, fallbacks).
    public var notes: [String]
    /// Whether the signature was cut to the maximum length.
    public var truncated: Bool

    /// The frames that make up the signature, in order.
    public var usedFrames: [SignatureFrameDecision] { frames.filter { $0.part != nil } }
}

/// What the signature walk did with one frame.
public struct SignatureFrameDecision: Sendable, Equatable, Codable {
    /// What became of the frame.
    public enum Role: String, Sendable, Codable {
        /// Below a sentinel frame: not looked at.
        case beforeSentinel = "before_sentinel"
        /// Matched the irrelevant list: skipped.
        case irrelevant
        /// Joined the signature and the walk went on (prefix list).
        case prefix
        /// Joined the signature and ended it.
        case last
        /// The same DLL as the previous part: skipped.
        case repeatedModule = "repeated_module"
        /// After the frame that ended the signature.
        case notReached = "not_reached"
    }

    /// Position in the input.
    public var index: Int
    /// The frame's normalized text.
    public var normalized: String
    /// What became of it.
    public var role: Role
    /// The list pattern that decided an irrelevant or prefix frame.
    public var pattern: String?
    /// The text the frame contributed to the signature, if it did.
    public var part: String?

    /// A decision for frame `index`.
    public init(index: Int, normalized: String, role: Role, pattern: String? = nil, part: String? = nil) {
        self.index = index
        self.normalized = normalized
        self.role = role
        self.pattern = pattern
        self.part = part
    }
}
