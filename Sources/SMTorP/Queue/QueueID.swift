// QueueID.swift: the name of a message in the outbound queue. Time-ordered,
// unique and safe as a file name: 16 bytes (the arrival second and a
// per-process sequence number, then 8 random bytes) in lower-case base32hex.
//
// Untrusted input: `init(text:)` sees file names read from the queue
// directory (anything may have been put there); it accepts exactly the 26
// characters an id has and nothing else.
// Standards: RFC 4648 §7 (base32hex, whose alphabet sorts in the same order
// as the bytes it encodes, so ids sort by time as plain strings).

/// The identifier of a queued message, e.g. `0l2p8h5800004a1b2c3d4e5f6g`.
///
/// The first 8 bytes are the arrival time in Unix seconds (40 bits) and a
/// sequence number within that second (24 bits), big-endian, so that ids
/// made by one process sort in the order they were made; the last 8 bytes
/// are random, so that ids made by different processes do not collide.
public struct QueueID: Hashable, Comparable, Sendable {
    /// The id as written in file names and logs: 26 characters of base32hex.
    public let text: String

    /// The number of characters of an id.
    public static let length = 26

    static let alphabet: [UInt8] = Array("0123456789abcdefghijklmnopqrstuv".utf8)

    /// Makes the id from its 16 bytes.
    init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a queue id has 16 bytes")
        text = Base32.encode(bytes, alphabet: Self.alphabet)
    }

    /// Makes an id for a message arriving at `unixSeconds`, the
    /// `sequence`-th of that second, with 8 `random` bytes.
    init(unixSeconds: Int64, sequence: UInt32, random: [UInt8]) {
        precondition(random.count == 8, "a queue id has 8 random bytes")
        let seconds = UInt64(max(0, unixSeconds)) & 0xFF_FFFF_FFFF
        let high = seconds << 24 | UInt64(sequence & 0xFF_FFFF)
        var bytes: [UInt8] = []
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
        }
        self.init(bytes: bytes + random)
    }

    /// Parses an id; nil unless `text` is exactly 26 base32hex characters
    /// (lower case) whose unused last bits are zero.
    public init?(text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.length else { return nil }
        for (index, byte) in bytes.enumerated() {
            guard let value = Self.value(of: byte) else { return nil }
            // 26 characters carry 130 bits; the last 2 are padding.
            if index == Self.length - 1 && value & 3 != 0 { return nil }
        }
        self.text = text
    }

    /// The arrival second the id was made for.
    public var unixSeconds: Int64 {
        var value: UInt64 = 0
        // The first 8 characters carry the first 40 bits: the seconds.
        for byte in text.utf8.prefix(8) {
            value = value << 5 | UInt64(Self.value(of: byte) ?? 0)
        }
        return Int64(value)
    }

    /// Orders ids by their text, which is their time order.
    public static func < (left: QueueID, right: QueueID) -> Bool {
        left.text.utf8.lexicographicallyPrecedes(right.text.utf8)
    }

    static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "v"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
