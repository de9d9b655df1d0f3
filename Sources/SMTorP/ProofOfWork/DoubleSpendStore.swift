// DoubleSpendStore.swift: spent stamp nonces on disk, so that a replay is
// refused also after a restart.
//
// Layout: a directory (mode 0700) of log segments `spent-<sequence>.log`,
// each a series of lines `<nonce base32> SP <expires decimal> LF`. A record
// (or a batch) is a new segment written with DurableFile: temporary file,
// fsync, rename, fsync of the directory. The C core has no durable append,
// and this way a segment is either wholly there or absent: a crash can
// never leave a torn line. (The log is append-only at the level of
// segments; none is ever changed.)
//
// Compaction writes the unexpired entries of all segments into one new
// segment with a higher sequence number, durably, and only then removes the
// old ones (each removal fsyncs the directory). A crash in between leaves
// duplicates, which loading merges; it never loses an entry. Loading at
// init reads every segment and compacts: recovery is the normal path.
//
// Untrusted input: none from the network (nonces are recorded only after
// their stamp verified). The files are the node's own; a malformed line
// (disk corruption) is skipped, not fatal.
import SMTorPCore

/// A durable `DoubleSpendStoring` in a directory of log segments.
public final class DoubleSpendStore: DoubleSpendStoring {
    /// Segments beyond which `record` compacts: 64.
    public static let compactionThreshold = 64
    /// The largest segment read: 64 MiB (a million entries).
    public static let maximumSegmentLength = 64 << 20

    /// The directory.
    public let directory: String
    /// Expiry per nonce, as loaded and recorded.
    public private(set) var entries: [[UInt8]: Int64] = [:]
    private var segments: [UInt64] = []
    private var nextSequence: UInt64 = 1

    /// Opens (creating) the store in `directory`, loads every segment, drops
    /// the entries expired at `now` and compacts.
    public init(directory: String, now: Int64) throws(CoreError) {
        self.directory = directory
        try DurableFile.makeDirectory(directory)
        for name in try QueueFileSystem.list(directory) {
            if name.hasPrefix("spent-") && name.hasSuffix(".log.tmp") {
                // A write that crashed before its rename: never acknowledged.
                try CoreError.check(smtorp_fs_remove(directory + "/" + name), context: name)
                continue
            }
            guard let sequence = Self.sequence(ofSegment: name) else { continue }
            segments.append(sequence)
            nextSequence = max(nextSequence, sequence + 1)
            let bytes = try DurableFile.read(path: path(of: sequence), maxLength: Self.maximumSegmentLength)
            load(bytes)
        }
        segments.sort()
        try compact(now: now)
    }

    /// Whether `nonce` is recorded and unexpired.
    public func seen(_ nonce: [UInt8], now: Int64) -> Bool {
        guard let expires = entries[nonce] else { return false }
        return expires > now
    }

    /// Records one nonce durably.
    public func record(_ nonce: [UInt8], expires: Int64) throws(CoreError) {
        try record([(nonce, expires)])
    }

    /// Records a batch of nonces in one segment (one fsync pair for all).
    public func record(_ batch: [(nonce: [UInt8], expires: Int64)]) throws(CoreError) {
        guard !batch.isEmpty else { return }
        var text: [UInt8] = []
        for item in batch {
            text += Array((Base32.encode(item.nonce) + " " + String(item.expires) + "\n").utf8)
        }
        let sequence = nextSequence
        try DurableFile.write(path: path(of: sequence), parts: [text])
        nextSequence += 1
        segments.append(sequence)
        for item in batch {
            entries[item.nonce] = max(entries[item.nonce] ?? item.expires, item.expires)
        }
        if segments.count > Self.compactionThreshold {
            // The new entries are durable already; a failed compaction only
            // leaves more segments to read next time.
            try? compact(now: nil)
        }
    }

    /// Rewrites the entries unexpired at `now` (all when nil) into one new
    /// segment and removes the old segments.
    public func compact(now: Int64?) throws(CoreError) {
        let before = entries.count
        if let now { entries = entries.filter { $0.value > now } }
        let old = segments
        if old.count <= 1 && entries.count == before { return }
        if !entries.isEmpty {
            var text: [UInt8] = []
            for (key, expires) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                text += Array((Base32.encode(key) + " " + String(expires) + "\n").utf8)
            }
            let sequence = nextSequence
            try DurableFile.write(path: path(of: sequence), parts: [text])
            nextSequence += 1
            segments = [sequence]
        } else {
            segments = []
        }
        for sequence in old {
            try CoreError.check(smtorp_fs_remove_durable(path(of: sequence)), context: path(of: sequence))
        }
    }

    /// The number of segment files (for tests and monitoring).
    public var segmentCount: Int { segments.count }

    private func path(of sequence: UInt64) -> String {
        directory + "/spent-" + String(sequence) + ".log"
    }

    private func load(_ bytes: [UInt8]) {
        for line in bytes.split(separator: 0x0A) {
            let fields = line.split(separator: 0x20)
            guard fields.count == 2,
                  let nonce = Base32.decode(String(decoding: fields[0], as: UTF8.self)),
                  nonce.count == Stamp.nonceLength,
                  let expires = Int64(String(decoding: fields[1], as: UTF8.self)) else { continue }
            entries[nonce] = max(entries[nonce] ?? expires, expires)
        }
    }

    static func sequence(ofSegment name: String) -> UInt64? {
        let bytes = Array(name.utf8)
        let prefix = Array("spent-".utf8), suffix = Array(".log".utf8)
        guard bytes.count > prefix.count + suffix.count,
              Array(bytes.prefix(prefix.count)) == prefix,
              Array(bytes.suffix(suffix.count)) == suffix else { return nil }
        let digits = bytes[prefix.count..<(bytes.count - suffix.count)]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }
}
